"""Opening the index: SQLite (WAL, FTS5) by default, PostgreSQL in larger installations.

The schema is owned by Alembic migrations, applied on every start, so an upgraded archiver
upgrades its index before touching it. Processes starting at once (daemons on several hosts,
a daemon and a command) take turns: PostgreSQL holds an advisory lock for the migration's
transaction, SQLite a lock on ``<index>.migrate.lock`` beside the file; the second finds the
schema current.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK_KEY = 0x61726368  # PostgreSQL advisory lock taken around migrations ("arch")


class IndexUnavailable(Exception):
    """The index database cannot be opened; the message says which and why."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # a committed cursor must survive power loss
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def safe_url(url: str) -> str:
    """The URL without a password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


class IndexDB:
    """The index database and its sessions.

    >>> db = IndexDB("sqlite://")
    >>> db.dialect
    'sqlite'
    """

    def __init__(self, url: str):
        self.url = url
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine: Engine = create_engine(url, pool_pre_ping=True)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise IndexUnavailable(f"database URL {safe_url(url)} is not usable: {exc}") from None
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite index file (None for PostgreSQL or an in-memory index)."""
        database = self.engine.url.database
        return Path(database) if self.dialect == "sqlite" and database not in (None, "", ":memory:") else None

    @contextmanager
    def _file_lock(self, suffix: str) -> Iterator[None]:
        """Wait for, then hold, an exclusive lock on ``<index><suffix>`` (SQLite; nothing otherwise)."""
        path = self.sqlite_path
        if path is None:
            yield
            return
        descriptor = os.open(f"{path}{suffix}", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)

    def upgrade(self) -> None:
        """Bring the schema to the newest migration, one process at a time."""
        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self._file_lock(".migrate.lock"), self.engine.begin() as connection:
                if self.dialect == "postgresql":  # released when the migration's transaction ends
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
                config.attributes["connection"] = connection
                command.upgrade(config, "heads")  # features may add independent branches
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise IndexUnavailable(f"cannot open the index at {safe_url(self.url)}: {reason}") from None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on any error."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def check(self) -> None:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise IndexUnavailable(f"cannot reach the index at {safe_url(self.url)}: {reason}") from None

    def dispose(self) -> None:
        self.engine.dispose()


def open_index(url: str) -> IndexDB:
    db = IndexDB(url)
    db.upgrade()
    return db
