"""bulk full-text indexing: the FTS5 insert triggers on SQLite step aside while a bulk insert runs

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-05

FTS5 fed one row at a time from an AFTER INSERT trigger costs about five times what one
``INSERT INTO <fts> SELECT ...`` over the same new rows costs (each trigger statement is a
statement of its own to FTS5), and it was most of a harvest's index work. The insert triggers
of ``versions_fts`` (0001) and ``items_author_fts`` (0009) now fire only while the one-row table
``fts_deferred`` is empty. The recorder (archiver/index/recorder.py, archiver/index/bulk.py)
puts its row there inside its own transaction, inserts items and versions, indexes exactly the
new rows in one statement per table, and takes the row out before the transaction ends, so no
other connection ever sees it and every other writer keeps the per-row triggers. Derived like
the FTS tables themselves; nothing to back-fill.
"""

from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

_TRIGGERS = {  # name: (table, FTS table, column)
    "versions_fts_insert": ("versions", "versions_fts", "text"),
    "items_author_fts_insert": ("items", "items_author_fts", "author"),
}


def _create(name: str, guarded: bool) -> None:
    table, fts, column = _TRIGGERS[name]
    when = " WHEN NOT EXISTS (SELECT 1 FROM fts_deferred)" if guarded else ""
    op.execute(f"CREATE TRIGGER {name} AFTER INSERT ON {table}{when} BEGIN "
               f"INSERT INTO {fts}(rowid, {column}) VALUES (new.id, new.{column}); END")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("CREATE TABLE fts_deferred (id INTEGER PRIMARY KEY CHECK (id = 1))")
    for name in _TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
        _create(name, guarded=True)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in _TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
        _create(name, guarded=False)
    op.execute("DROP TABLE fts_deferred")
