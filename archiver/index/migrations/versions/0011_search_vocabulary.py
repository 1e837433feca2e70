"""search: a vocabulary view of the SQLite text index (rows holding each word)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23

With selective filters, search reads the few matching items first and ranks them itself
(archiver/search_filtered.py); bm25 needs how many versions hold each word, which this
fts5vocab table reads straight from the index. It stores nothing of its own.
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE versions_fts_vocab USING fts5vocab(versions_fts, 'row')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS versions_fts_vocab")
