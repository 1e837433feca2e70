"""search at scale on PostgreSQL: newest-first order from an index, a trigram index of authors

Revision ID: 0030
Revises: 0012
Create Date: 2026-12-05

Results without text are newest first with undated items last (``posted_at DESC NULLS LAST``),
which PostgreSQL cannot read from the ascending posted_at index (that walks NULLs first), so it
sorted every item for each page; an index in that order reads only the page.

"Author contains" (``lower(author) LIKE '%word%'``) reads every item without an index; SQLite has
its FTS5 trigram table (0009), PostgreSQL gets pg_trgm's GIN index on the same expression. pg_trgm
ships with PostgreSQL (contrib) and is a trusted extension; where it is not installed the index is
left out and the filter reads the table as before.
"""

from alembic import op
from sqlalchemy import text

revision = "0030"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute("CREATE INDEX ix_items_newest ON items (posted_at DESC NULLS LAST, id DESC)")
    if not bind.scalar(text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")):
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE INDEX IF NOT EXISTS ix_items_author_trigrams ON items USING GIN (lower(author) gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_items_author_trigrams")
        op.execute("DROP INDEX IF EXISTS ix_items_newest")
