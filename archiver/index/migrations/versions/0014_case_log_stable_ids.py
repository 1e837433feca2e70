"""cases: the case log names items by ACCOUNT:PLATFORM-ID, not by index row id

Revision ID: 0014
Revises: 0019
Create Date: 2026-11-24

``request add|drop --item`` used to log the items it named by their index row ids, which
``reindex`` renumbers; the custody record then named the wrong items. While the index still
holds the rows those ids meant, each is rewritten as the item's stable name. An id whose item
is gone (disposed) is kept as it was, marked, rather than guessed.
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0019"
branch_labels = None
depends_on = None

_searches = sa.table("case_searches", sa.column("id", sa.Integer), sa.column("query", sa.JSON))
_items = sa.table("items", sa.column("id", sa.Integer), sa.column("account_id", sa.Integer),
                  sa.column("platform_id", sa.Text))
_accounts = sa.table("accounts", sa.column("id", sa.Integer), sa.column("name", sa.String))


def upgrade() -> None:
    bind = op.get_bind()
    for row_id, query in bind.execute(sa.select(_searches.c.id, _searches.c.query)).all():
        named = (query or {}).get("items") if isinstance(query, dict) else None
        if not named or not any(isinstance(ref, int) for ref in named):
            continue
        ids = [ref for ref in named if isinstance(ref, int)]
        names: dict[int, str] = {
            item_id: f"{account}:{platform_id}" for item_id, account, platform_id in bind.execute(
                sa.select(_items.c.id, _accounts.c.name, _items.c.platform_id)
                .join(_accounts, _accounts.c.id == _items.c.account_id).where(_items.c.id.in_(ids)))}
        fixed: dict[str, Any] = dict(query)
        fixed["items"] = [names.get(ref, f"(index id {ref}: no longer in the index)") if isinstance(ref, int)
                          else ref for ref in named]
        bind.execute(_searches.update().where(_searches.c.id == row_id).values(query=fixed))


def downgrade() -> None:
    pass  # the stable names are right for every version of the code
