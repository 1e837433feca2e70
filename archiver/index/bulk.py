"""Bulk inserts of many rows into one table, as cheaply as the database allows.

A Core ``insert(table)`` with a list of dicts costs SQLAlchemy tens of microseconds a row on
SQLite (it builds and processes every row's parameters one by one), more than SQLite's own work
for the row. On SQLite, rows here become plain tuples, each value converted once by the very
bind processor SQLAlchemy would have used (so the stored bytes are the same), and go to the
driver's ``executemany`` on the session's own connection, inside its transaction. Elsewhere
(PostgreSQL) the Core statement is used as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Table, insert
from sqlalchemy.orm import Session

from archiver.index.models import UTCDateTime

_Convert = Callable[[Any], Any]
_plans: dict[tuple[str, str, tuple[str, ...]], tuple[str, tuple[_Convert | None, ...]]] = {}


def _utc_text(slow: _Convert) -> _Convert:
    """UTCDateTime on SQLite: what SQLAlchemy stores ("YYYY-MM-DD HH:MM:SS.ffffff", naive UTC),
    made directly for UTC times (nearly all); anything else goes through SQLAlchemy's processor."""

    # The rows of a batch mostly share their times (every observation of a page has the page's
    # capture time): the last one is kept, as one tuple so that threads sharing this never mix.
    last: list[tuple[Any, Any]] = [(None, None)]

    def convert(value: Any) -> Any:
        if value is None:
            return None
        seen, made = last[0]
        if value is seen:
            return made
        if type(value) is datetime and value.tzinfo is UTC and value.year >= 1000:
            made = value.isoformat(" ", "microseconds")[:26]
        else:
            made = slow(value)
        last[0] = (value, made)
        return made
    return convert


_EMPTY = {list: "[]", dict: "{}", type(None): "null"}  # json.dumps of each: no media, no metrics


def _json_text(slow: _Convert) -> _Convert:
    """JSON on SQLite: the empty values most rows hold without the encoder; the rest as SQLAlchemy does."""

    def convert(value: Any) -> Any:
        if not value and (made := _EMPTY.get(type(value))) is not None:
            return made
        return slow(value)
    return convert


def _plan(session: Session, table: Table, keys: tuple[str, ...]) -> tuple[str, tuple[_Convert | None, ...]]:
    dialect = session.get_bind().dialect
    cache_key = (dialect.name, table.name, keys)
    plan = _plans.get(cache_key)
    if plan is None:
        converters: list[_Convert | None] = []
        for key in keys:
            column_type = table.c[key].type
            processor = column_type._cached_bind_processor(dialect)
            if processor is not None and isinstance(column_type, UTCDateTime):
                processor = _utc_text(processor)
            elif processor is not None and isinstance(column_type, JSON):
                processor = _json_text(processor)
            converters.append(processor)
        columns = ", ".join(dialect.identifier_preparer.quote(key) for key in keys)
        sql = f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({columns}) " \
              f"VALUES ({', '.join('?' * len(keys))})"
        plan = _plans[cache_key] = (sql, tuple(converters))
    return plan


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys, naming every column the table needs) into ``table``."""
    if not rows:
        return
    if session.get_bind().dialect.name != "sqlite":
        session.execute(insert(table), list(rows))
        return
    keys = tuple(rows[0])
    sql, converters = _plan(session, table, keys)
    values: list[Any]
    take = itemgetter(*keys)  # a row's values in column order, in one C call
    if len(keys) == 1:
        values = [(take(row),) for row in rows]
    elif all(convert is None for convert in converters):
        values = [take(row) for row in rows]
    else:
        values = [_converted(list(take(row)), converters) for row in rows]
    session.connection().exec_driver_sql(sql, values)


def _converted(values: list[Any], converters: tuple[_Convert | None, ...]) -> tuple[Any, ...]:
    for index, convert in enumerate(converters):
        if convert is not None:
            values[index] = convert(values[index])
    return tuple(values)  # (SQLAlchemy hands the driver tuples only)


@contextmanager
def deferred_fts(session: Session) -> Iterator[bool]:
    """Inside: on SQLite, rows inserted into items and versions skip their per-row FTS5 triggers
    (migration 0032), and the caller indexes them with ``index_new``; True when that is so. The
    flag row lives only inside the caller's transaction (put back the way it was on any error)."""
    if session.get_bind().dialect.name != "sqlite":
        yield False
        return
    connection = session.connection()
    connection.exec_driver_sql("INSERT INTO fts_deferred (id) VALUES (1)")
    try:
        yield True
    finally:
        connection.exec_driver_sql("DELETE FROM fts_deferred")


_FTS = {"items": ("items_author_fts", "author"), "versions": ("versions_fts", "text")}


def last_id(session: Session, table: Table) -> int:
    """The highest id in ``table`` now (0 when empty): rows inserted after it in this write
    transaction are exactly those with a higher id."""
    return session.connection().exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table.name}").scalar() or 0


def index_new(session: Session, table: Table, after: int) -> None:
    """Put the rows of ``table`` with an id above ``after`` into its FTS5 table, in one statement
    (what the per-row trigger would have put there)."""
    fts, column = _FTS[table.name]
    session.connection().exec_driver_sql(
        f"INSERT INTO {fts}(rowid, {column}) SELECT id, {column} FROM {table.name} WHERE id > ?", (after,))


def insert_indexed(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> int | None:
    """``insert_rows`` into items or versions, their full-text index kept exact: on SQLite in
    one statement for all the new rows instead of a trigger per row (migration 0032). On SQLite,
    returns the id the new rows follow (they are the table's rows above it); else None."""
    if not rows:
        return None
    with deferred_fts(session) as by_hand:
        after = last_id(session, table) if by_hand else 0
        insert_rows(session, table, rows)
        if by_hand:
            index_new(session, table, after)
    return after if by_hand else None
