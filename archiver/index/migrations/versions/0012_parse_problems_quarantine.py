"""untrusted payloads: objects that could not be read, records whose parser raised

Revision ID: 0012
Revises: 0017
Create Date: 2026-11-24

Both tables are derived from the WARCs (reindex clears and rebuilds them by parsing again), and
point at evidence rows that take them along when they go (disposition, recovery).
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "parse_problems",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("evidence_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("platform_id", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["evidence_id"], ["evidence.id"], name="fk_parse_problems_evidence_id_evidence",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_parse_problems_account_id_accounts"),
        sa.PrimaryKeyConstraint("id", name="pk_parse_problems"),
    )
    op.create_index("ix_parse_problems_evidence_id", "parse_problems", ["evidence_id"])
    op.create_index("ix_parse_problems_account_platform_id", "parse_problems", ["account_id", "platform_id"])
    op.create_table(
        "quarantined_records",
        sa.Column("evidence_id", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("tried_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["evidence_id"], ["evidence.id"], name="fk_quarantined_records_evidence_id_evidence",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("evidence_id", name="pk_quarantined_records"),
    )


def downgrade() -> None:
    op.drop_table("quarantined_records")
    op.drop_index("ix_parse_problems_account_platform_id", table_name="parse_problems")
    op.drop_index("ix_parse_problems_evidence_id", table_name="parse_problems")
    op.drop_table("parse_problems")
