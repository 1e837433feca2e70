"""search at scale: indexes for the filters, and a trigram index of authors on SQLite

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23

A state filter looks up (state, item id) pairs; captured-date filters walk first_seen_at; an
account or kind filter with newest-first order walks (account or kind, posted_at). "Author contains" would read
every item, so on SQLite an FTS5 trigram table over items.author, kept in step by triggers,
finds substrings instead (PostgreSQL reads the table; pg_trgm is an extension we do not assume).
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SQLITE_AUTHORS = [
    "CREATE VIRTUAL TABLE items_author_fts USING fts5(author, content='items', content_rowid='id', "
    "tokenize='trigram')",
    "CREATE TRIGGER items_author_fts_insert AFTER INSERT ON items BEGIN "
    "INSERT INTO items_author_fts(rowid, author) VALUES (new.id, new.author); END",
    "CREATE TRIGGER items_author_fts_delete AFTER DELETE ON items BEGIN "
    "INSERT INTO items_author_fts(items_author_fts, rowid, author) VALUES ('delete', old.id, old.author); END",
    "CREATE TRIGGER items_author_fts_update AFTER UPDATE OF author ON items BEGIN "
    "INSERT INTO items_author_fts(items_author_fts, rowid, author) VALUES ('delete', old.id, old.author); "
    "INSERT INTO items_author_fts(rowid, author) VALUES (new.id, new.author); END",
    "INSERT INTO items_author_fts(items_author_fts) VALUES ('rebuild')",
]


def upgrade() -> None:
    op.drop_index("ix_versions_state", table_name="versions")
    op.create_index("ix_versions_state_item_id", "versions", ["state", "item_id"])
    op.create_index("ix_items_first_seen_at", "items", ["first_seen_at"])
    op.create_index("ix_items_account_id_posted_at", "items", ["account_id", "posted_at"])
    op.create_index("ix_items_kind_posted_at", "items", ["kind", "posted_at"])
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_AUTHORS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS items_author_fts_{name}")
        op.execute("DROP TABLE IF EXISTS items_author_fts")
    op.drop_index("ix_items_kind_posted_at", table_name="items")
    op.drop_index("ix_items_account_id_posted_at", table_name="items")
    op.drop_index("ix_items_first_seen_at", table_name="items")
    op.drop_index("ix_versions_state_item_id", table_name="versions")
    op.create_index("ix_versions_state", "versions", ["state"])
