"""Helpers for the Mastodon, Bluesky and LinkedIn tests: an account harvesting a running fake."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select

from archiver.index.models import Account
from conftest import Workspace

TOKEN = "social-test-token-5b7c9d1e3f"  # a throwaway for the local fakes only
TOKEN_ENV = "TEST_SOCIAL_TOKEN"


@contextmanager
def social_account(workspace: Workspace, platform: str, account_id: str, base_url: str, name: str,
                   token: str | None = TOKEN, **options: Any) -> Iterator[None]:
    """Add an account on a running fake to the workspace (the token in TEST_SOCIAL_TOKEN)."""
    saved = os.environ.get(TOKEN_ENV)
    lines = [f'name = "{name}"', f'platform = "{platform}"', f'id = "{account_id}"', f'base_url = "{base_url}"']
    if token is not None:
        os.environ[TOKEN_ENV] = token
        lines.append(f'token_env = "{TOKEN_ENV}"')
    lines += [f"{k} = {v!r}".replace("'", '"') if not isinstance(v, bool) else f"{k} = {str(v).lower()}"
              for k, v in options.items()]
    workspace.accounts.append("\n".join(lines))
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(TOKEN_ENV, None)
        else:
            os.environ[TOKEN_ENV] = saved


def set_token(value: str) -> None:
    os.environ[TOKEN_ENV] = value


def account_row(workspace: Workspace, name: str) -> Account:
    db = workspace.index()
    with db.session() as session:
        row = session.scalar(select(Account).where(Account.name == name))
        assert row is not None
        session.expunge(row)
    db.dispose()
    return row


def versions(workspace: Workspace, platform_id: str) -> list[tuple[str, dict[str, Any]]]:
    """(state, content) of every version of one item, oldest first."""
    from archiver.index.models import Item, Version

    db = workspace.index()
    with db.session() as session:
        rows = session.execute(select(Version.state, Version.content).join(Item, Item.id == Version.item_id)
                               .where(Item.platform_id == platform_id).order_by(Version.seq)).all()
    db.dispose()
    return [(row[0], row[1]) for row in rows]
