"""alerts: the register of alert conditions; harvests by account and time; what a fixity run checked

Revision ID: 0016
Revises: 0014
Create Date: 2026-11-24

``alert_conditions`` keeps each condition an operator was (or is to be) alerted about.
``ix_harvests_account_started`` serves "the latest harvests of an account" (alerts, metrics).
``fixity_runs.checked_keys`` names the objects a small run checked (a sample, a re-check), so
a mismatch clears when a later run finds the object intact; large runs leave it null.
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_conditions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("account", sa.String(64), nullable=True),
        sa.Column("open_key", sa.Text(), nullable=True),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.Column("command", sa.Text(), nullable=False),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.Column("detected_at", sa.DateTime(), nullable=False),
        sa.Column("cleared_at", sa.DateTime(), nullable=True),
        sa.Column("notified", sa.JSON(), nullable=False),
        sa.Column("settled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_conditions")),
        sa.UniqueConstraint("open_key", name=op.f("uq_alert_conditions_open_key")),
    )
    op.create_index(op.f("ix_alert_conditions_kind"), "alert_conditions", ["kind"])
    op.create_index("ix_harvests_account_started", "harvests", ["account_id", "started_at"])
    op.add_column("fixity_runs", sa.Column("checked_keys", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("fixity_runs", "checked_keys")
    op.drop_index("ix_harvests_account_started", table_name="harvests")
    op.drop_index(op.f("ix_alert_conditions_kind"), table_name="alert_conditions")
    op.drop_table("alert_conditions")
