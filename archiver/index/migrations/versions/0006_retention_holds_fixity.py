"""retention, holds, disposition certificates, fixity runs, time-stamps; item evidence

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-23

``item_evidence`` is derived (the recorder writes it, reindex rebuilds it); an index made
before it existed gets each version's first and last evidence here, and every record after a
``reindex``. Everything else is the records-management side, never cleared by reindex;
disposition certificates are append-only like the audit log.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None

SQLITE_GUARDS = [
    "CREATE TRIGGER disposition_certificates_no_update BEFORE UPDATE ON disposition_certificates "
    "BEGIN SELECT RAISE(ABORT, 'disposition certificates are permanent'); END",
    "CREATE TRIGGER disposition_certificates_no_delete BEFORE DELETE ON disposition_certificates "
    "BEGIN SELECT RAISE(ABORT, 'disposition certificates are permanent'); END",
]
POSTGRES_GUARDS = [
    "CREATE FUNCTION disposition_certificates_permanent() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'disposition certificates are permanent'; END $$",
    "CREATE TRIGGER disposition_certificates_no_change BEFORE UPDATE OR DELETE ON disposition_certificates "
    "FOR EACH ROW EXECUTE FUNCTION disposition_certificates_permanent()",
]


def _id() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("id", sa.Integer(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "item_evidence",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("evidence_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name=op.f("fk_item_evidence_item_id_items")),
        sa.ForeignKeyConstraint(["evidence_id"], ["evidence.id"], name=op.f("fk_item_evidence_evidence_id_evidence")),
        sa.PrimaryKeyConstraint("item_id", "evidence_id", name=op.f("pk_item_evidence")),
    )
    op.create_index(op.f("ix_item_evidence_evidence_id"), "item_evidence", ["evidence_id"], unique=False)
    op.execute("INSERT INTO item_evidence (item_id, evidence_id) SELECT DISTINCT item_id, first_evidence_id "
               "FROM versions UNION SELECT DISTINCT item_id, last_evidence_id FROM versions")

    op.create_table(
        "item_tags", _id(),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("platform_id", sa.Text(), nullable=False),
        sa.Column("tag", sa.String(64), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.Column("added_by", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_tags")),
        sa.UniqueConstraint("account", "platform_id", "tag", name="uq_item_tags_item_tag"),
    )
    op.create_index(op.f("ix_item_tags_tag"), "item_tags", ["tag"], unique=False)
    op.create_table(
        "legal_holds", _id(),
        sa.Column("matter", sa.Text(), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("released_at", sa.DateTime(), nullable=True),
        sa.Column("released_by", sa.String(128), nullable=True),
        sa.Column("release_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
    )
    op.create_table(
        "hold_items", _id(),
        sa.Column("hold_id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("platform_id", sa.Text(), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["hold_id"], ["legal_holds.id"], name=op.f("fk_hold_items_hold_id_legal_holds")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hold_items")),
        sa.UniqueConstraint("hold_id", "account", "platform_id", name="uq_hold_items_member"),
    )
    op.create_index(op.f("ix_hold_items_hold_id"), "hold_items", ["hold_id"], unique=False)
    op.create_table(
        "held_objects",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.Column("store_flag", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_held_objects")),
    )
    op.create_table(
        "retention_plans", _id(),
        sa.Column("uid", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("as_of", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("approved_by", sa.String(128), nullable=True),
        sa.Column("approved_at", sa.DateTime(), nullable=True),
        sa.Column("applied_at", sa.DateTime(), nullable=True),
        sa.Column("certificate", sa.String(40), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_plans")),
        sa.UniqueConstraint("uid", name=op.f("uq_retention_plans_uid")),
    )
    op.create_table(
        "plan_items", _id(),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("platform_id", sa.Text(), nullable=False),
        sa.Column("series", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("posted_at", sa.DateTime(), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("versions", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("eligible_on", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["retention_plans.id"],
                                name=op.f("fk_plan_items_plan_id_retention_plans")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_items")),
    )
    op.create_index(op.f("ix_plan_items_plan_id"), "plan_items", ["plan_id"], unique=False)
    op.create_table(
        "plan_objects", _id(),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("records_removed", sa.Integer(), nullable=False),
        sa.Column("records_kept", sa.Integer(), nullable=False),
        sa.Column("retain_until", sa.DateTime(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("new_key", sa.Text(), nullable=True),
        sa.Column("new_sha256", sa.String(64), nullable=True),
        sa.Column("new_size", sa.BigInteger(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("removed", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["plan_id"], ["retention_plans.id"],
                                name=op.f("fk_plan_objects_plan_id_retention_plans")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_objects")),
    )
    op.create_index(op.f("ix_plan_objects_plan_id"), "plan_objects", ["plan_id"], unique=False)
    op.create_table(
        "disposition_certificates", _id(),
        sa.Column("uid", sa.String(40), nullable=False),
        sa.Column("plan_uid", sa.String(40), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disposition_certificates")),
        sa.UniqueConstraint("uid", name=op.f("uq_disposition_certificates_uid")),
    )
    op.create_table(
        "disposed_items", _id(),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("platform_id", sa.Text(), nullable=False),
        sa.Column("certificate", sa.String(40), nullable=False),
        sa.Column("disposed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disposed_items")),
    )
    op.create_index(op.f("ix_disposed_items_certificate"), "disposed_items", ["certificate"], unique=False)
    op.create_table(
        "fixity_runs", _id(),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=False),
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("objects", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("failures", sa.JSON(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fixity_runs")),
    )
    op.create_table(
        "timestamps", _id(),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("tsa_url", sa.Text(), nullable=False),
        sa.Column("reply", sa.Text(), nullable=False),
        sa.Column("gen_time", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timestamps")),
        sa.UniqueConstraint("day", name=op.f("uq_timestamps_day")),
    )
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_GUARDS if dialect == "sqlite" else POSTGRES_GUARDS if dialect == "postgresql" else []:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS disposition_certificates_no_change ON disposition_certificates")
        op.execute("DROP FUNCTION IF EXISTS disposition_certificates_permanent()")
    for table in ("timestamps", "fixity_runs", "disposed_items", "disposition_certificates", "plan_objects",
                  "plan_items", "retention_plans", "held_objects", "hold_items", "legal_holds", "item_tags",
                  "item_evidence"):
        op.drop_table(table)
