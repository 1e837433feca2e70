"""harvest leases: which daemon harvests an account now, and the last schedule tick harvested

Revision ID: 0031
Revises: 0012
Create Date: 2026-12-05

Several ``archiver run`` daemons sharing one index split the accounts between them through
this table (archiver/leases.py): a daemon claims an account's lease before a harvest, renews it
while the harvest runs and releases it at the end, recording the schedule tick it harvested so
no other daemon harvests that tick again. Not derived from WARCs: reindex leaves it alone.
"""

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "harvest_leases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(160), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("tick", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_harvest_leases")),
        sa.UniqueConstraint("account", name=op.f("uq_harvest_leases_account")),
    )


def downgrade() -> None:
    op.drop_table("harvest_leases")
