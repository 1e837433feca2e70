"""harvest coverage: why a harvest failed, and what its listing covered

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("harvests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cause", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("coverage", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("harvests", schema=None) as batch_op:
        batch_op.drop_column("coverage")
        batch_op.drop_column("cause")
