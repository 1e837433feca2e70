"""initial schema: accounts, harvests, warc files, evidence, items, versions

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Full-text search: an FTS5 table kept in step by triggers on SQLite; a generated tsvector
column with a GIN index on PostgreSQL. Both stem English words.
"""

import sqlalchemy as sa
from alembic import op

SQLITE_FTS = [
    "CREATE VIRTUAL TABLE versions_fts USING fts5(text, content='versions', content_rowid='id', "
    "tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER versions_fts_insert AFTER INSERT ON versions BEGIN "
    "INSERT INTO versions_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER versions_fts_delete AFTER DELETE ON versions BEGIN "
    "INSERT INTO versions_fts(versions_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER versions_fts_update AFTER UPDATE OF text ON versions BEGIN "
    "INSERT INTO versions_fts(versions_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO versions_fts(rowid, text) VALUES (new.id, new.text); END",
]
POSTGRES_FTS = [
    "ALTER TABLE versions ADD COLUMN search_vector tsvector "
    "GENERATED ALWAYS AS (to_tsvector('english', coalesce(text, ''))) STORED",
    "CREATE INDEX ix_versions_search_vector ON versions USING GIN (search_vector)",
]


revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("platform_account_id", sa.Text(), nullable=False),
        sa.Column("cursor", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("name", name=op.f("uq_accounts_name")),
    )
    op.create_table(
        "harvests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("observations", sa.Integer(), nullable=False),
        sa.Column("new_versions", sa.Integer(), nullable=False),
        sa.Column("cursor_before", sa.JSON(), nullable=True),
        sa.Column("cursor_after", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_harvests_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_harvests")),
        sa.UniqueConstraint("uid", name=op.f("uq_harvests_uid")),
    )
    with op.batch_alter_table("harvests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_harvests_account_id"), ["account_id"], unique=False)

    op.create_table(
        "items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("platform_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("parent_platform_id", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("posted_at", sa.DateTime(), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("version_count", sa.Integer(), nullable=False),
        sa.Column("latest_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_items_account_id_accounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_items")),
        sa.UniqueConstraint("account_id", "platform_id", name="uq_items_account_platform_id"),
    )
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_items_posted_at"), ["posted_at"], unique=False)

    op.create_table(
        "warc_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("harvest_id", sa.Integer(), nullable=True),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("stored_at", sa.DateTime(), nullable=True),
        sa.Column("retain_until", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_warc_files_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["harvest_id"], ["harvests.id"], name=op.f("fk_warc_files_harvest_id_harvests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warc_files")),
        sa.UniqueConstraint("key", name=op.f("uq_warc_files_key")),
    )
    with op.batch_alter_table("warc_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_warc_files_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_warc_files_harvest_id"), ["harvest_id"], unique=False)

    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("warc_file_id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("record_type", sa.String(length=16), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.Column("target_uri", sa.Text(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("captured_at", sa.DateTime(), nullable=False),
        sa.Column("payload_sha256", sa.String(length=64), nullable=True),
        sa.Column("payload_digest", sa.String(length=80), nullable=True),
        sa.Column("block_digest", sa.String(length=80), nullable=False),
        sa.Column("request_record_id", sa.String(length=64), nullable=True),
        sa.Column("request_offset", sa.BigInteger(), nullable=True),
        sa.Column("request_length", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["warc_file_id"], ["warc_files.id"], name=op.f("fk_evidence_warc_file_id_warc_files")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence")),
        sa.UniqueConstraint("record_id", name=op.f("uq_evidence_record_id")),
    )
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evidence_payload_sha256"), ["payload_sha256"], unique=False)
        batch_op.create_index("ix_evidence_target_uri", ["target_uri"], unique=False)
        batch_op.create_index(batch_op.f("ix_evidence_warc_file_id"), ["warc_file_id"], unique=False)

    op.create_table(
        "staged_observations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("harvest_id", sa.Integer(), nullable=False),
        sa.Column("evidence_id", sa.Integer(), nullable=False),
        sa.Column("observation", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["evidence_id"], ["evidence.id"], name=op.f("fk_staged_observations_evidence_id_evidence")
        ),
        sa.ForeignKeyConstraint(
            ["harvest_id"], ["harvests.id"], name=op.f("fk_staged_observations_harvest_id_harvests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staged_observations")),
    )
    with op.batch_alter_table("staged_observations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staged_observations_harvest_id"), ["harvest_id"], unique=False)

    op.create_table(
        "versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("media_urls", sa.JSON(), nullable=False),
        sa.Column("first_observed_at", sa.DateTime(), nullable=False),
        sa.Column("last_observed_at", sa.DateTime(), nullable=False),
        sa.Column("first_evidence_id", sa.Integer(), nullable=False),
        sa.Column("last_evidence_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["first_evidence_id"], ["evidence.id"], name=op.f("fk_versions_first_evidence_id_evidence")
        ),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name=op.f("fk_versions_item_id_items")),
        sa.ForeignKeyConstraint(
            ["last_evidence_id"], ["evidence.id"], name=op.f("fk_versions_last_evidence_id_evidence")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_versions")),
        sa.UniqueConstraint("item_id", "seq", name="uq_versions_item_seq"),
    )
    with op.batch_alter_table("versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_versions_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_versions_item_id"), ["item_id"], unique=False)

    dialect = op.get_bind().dialect.name
    for statement in SQLITE_FTS if dialect == "sqlite" else POSTGRES_FTS if dialect == "postgresql" else []:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS versions_fts")
    with op.batch_alter_table("versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_versions_state"))
        batch_op.drop_index(batch_op.f("ix_versions_item_id"))

    op.drop_table("versions")
    with op.batch_alter_table("staged_observations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staged_observations_harvest_id"))

    op.drop_table("staged_observations")
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_warc_file_id"))
        batch_op.drop_index("ix_evidence_target_uri")
        batch_op.drop_index(batch_op.f("ix_evidence_payload_sha256"))

    op.drop_table("evidence")
    with op.batch_alter_table("warc_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_warc_files_harvest_id"))
        batch_op.drop_index(batch_op.f("ix_warc_files_account_id"))

    op.drop_table("warc_files")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_items_posted_at"))

    op.drop_table("items")
    with op.batch_alter_table("harvests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_harvests_account_id"))

    op.drop_table("harvests")
    op.drop_table("accounts")
