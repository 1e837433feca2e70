"""quota usage: what each credential spent of its platform budget, per day or month

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01

YouTube's daily units and X's monthly paid reads are kept per credential so that several
processes share one budget and ``archiver accounts`` shows it (archiver/quota.py). Not derived
from WARCs: reindex leaves it alone.
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quota_usage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("credential", sa.String(128), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("used", sa.BigInteger(), nullable=False),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.Column("exhausted_until", sa.DateTime(), nullable=True),
        sa.Column("exhausted_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quota_usage")),
        sa.UniqueConstraint("credential", "period", name="uq_quota_usage_credential_period"),
    )


def downgrade() -> None:
    op.drop_table("quota_usage")
