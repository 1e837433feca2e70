"""items by parent: threads are read a level at a time (show, case packages)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_items_account_parent", "items", ["account_id", "parent_platform_id"])


def downgrade() -> None:
    op.drop_index("ix_items_account_parent", table_name="items")
