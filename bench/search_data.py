"""The synthetic search index of bench/search.py (and bench/web.py): generated, built, cached.

A few accounts on three platforms, posts and comments over two years, about 5% edited (two
versions), some hidden or deleted, authors from a pool, and text drawn from a vocabulary with
Zipf-like word frequencies, so there are common and rare words. The schema is the real one (the
migrations, through ``open_index``); rows go in by bulk inserts (SQLite) or COPY (PostgreSQL).

Built indexes are cached: SQLite files under the system temp folder, PostgreSQL databases on the
server given. Each is named by item count, generator version and the migration heads of this
checkout (``schema_key``), and its own ``alembic_version`` is checked before use: an index built
by another schema (another branch's migrations) cannot be upgraded, so it is rebuilt instead.
A PostgreSQL build goes to a ``..._building`` database renamed when complete, so an interrupted
build starts again rather than being used half-filled.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archiver.index.db import MIGRATIONS, open_index  # noqa: E402

GENERATOR = 2  # bump when the synthetic data changes, so cached indexes are rebuilt
START = datetime(2024, 11, 1, tzinfo=UTC)
SPAN = timedelta(days=730)
ACCOUNTS = [("citynews", "rss"), ("mayor", "facebook"), ("police", "facebook"), ("parks", "instagram"),
            ("library", "rss"), ("transit", "facebook")]
VOCABULARY = 30_000
AUTHORS = 20_000
SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]


def word(rank: int) -> str:
    """A pronounceable, distinct word per rank (three syllables: 70**3 > the vocabulary)."""
    a, rest = divmod(rank, len(SYLLABLES) ** 2)
    b, c = divmod(rest, len(SYLLABLES))
    return SYLLABLES[a] + SYLLABLES[b] + SYLLABLES[c] + "x"  # the x keeps the stemmer off the ending


def person(n: int) -> str:
    return f"{word(n).capitalize()} {word(n * 7 + 3).capitalize()}"


class Words:
    """Zipf-distributed draws from the vocabulary (rank 0 is the most frequent word)."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.cumulative = list(itertools.accumulate(1 / (rank + 1) ** 1.05 for rank in range(VOCABULARY)))

    def text(self, count: int) -> str:
        total = self.cumulative[-1]
        picks = [bisect.bisect(self.cumulative, self.rng.random() * total) for _ in range(count)]
        return " ".join(word(rank) for rank in picks)


def schema_key() -> str:
    """The migration heads this checkout's index has and a digest of its migrations, e.g.
    "0030-1a2b3c4d": a cache built by another schema (another branch's migrations, or an edited
    migration) is never opened; it might not upgrade, or differ while at the same revision."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    heads = "+".join(sorted(ScriptDirectory.from_config(config).get_heads()))
    digest = hashlib.sha256()
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{heads}-{digest.hexdigest()[:8]}"


def heads(key: str) -> set[str]:
    return set(key.split("-")[0].split("+"))


def index_path(items: int, cache: Path | None = None) -> Path:
    folder = cache if cache is not None else Path(tempfile.gettempdir()) / "archiver-bench-search"
    return folder / f"index-{items}-g{GENERATOR}-s{schema_key()}.sqlite"


def stamped(url: str) -> set[str]:
    """The migration heads an existing index is at (empty when it has none)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
    except SQLAlchemyError:
        return set()
    finally:
        engine.dispose()


def cached_index(items: int, cache: Path | None = None) -> Path:
    """The SQLite index of ``items`` items for this schema, built (or rebuilt) when needed."""
    path = index_path(items, cache)
    if path.exists() and stamped(f"sqlite:///{path}") != heads(schema_key()):
        print(f"cached index {path} is at another schema: rebuilding", file=sys.stderr)
        path.unlink()
    if not path.exists():
        print(f"building a synthetic index of {items:,} items (cached for reruns)", file=sys.stderr)
        build(path, items)
    return path


def generate(items: int) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """Items and their versions, 50,000 items at a time (rows in table column order)."""
    rng = random.Random(5)
    words = Words(rng)
    version_id = 0
    for chunk in range(0, items, 50_000):
        item_rows, version_rows = [], []
        for item_id in range(chunk + 1, min(chunk + 50_000, items) + 1):
            account = rng.randrange(len(ACCOUNTS)) + 1
            is_post = rng.random() < 0.2
            posted = (START + SPAN * rng.random()).replace(tzinfo=None, microsecond=0)
            seen = posted + timedelta(seconds=rng.randrange(3 * 86400))
            author = ACCOUNTS[account - 1][0] if is_post else person(rng.randrange(AUTHORS))
            first = words.text(rng.randint(25, 60) if is_post else rng.randint(5, 25))
            fate = rng.random()
            later = [] if fate >= 0.08 else [("edited", words.text(rng.randint(5, 25)))] if fate < 0.05 else \
                [("hidden", "")] if fate < 0.065 else [("deleted", "")]
            states = [("visible", first), *later]
            for seq, (state, body) in enumerate(states, start=1):
                version_id += 1
                observed = seen + timedelta(days=seq - 1)
                version_rows.append((version_id, item_id, seq, f"h{version_id}", state, "{}", body, "[]",
                                     observed, observed, 1, 1))
            item_rows.append((item_id, account, f"p{item_id}", "post" if is_post else "comment",
                              None if is_post else f"p{item_id - 1}", f"https://example.org/{item_id}", author,
                              posted, seen, seen + timedelta(days=len(states) - 1), states[-1][0], len(states),
                              f"h{version_id}"))
        yield item_rows, version_rows


ACCOUNT_ROWS = [(n + 1, name, platform, name, "{}", "active", START.replace(tzinfo=None))
                for n, (name, platform) in enumerate(ACCOUNTS)]
NOW = datetime(2026, 11, 1)
ITEM_COLUMNS = ("id, account_id, platform_id, kind, parent_platform_id, url, author, posted_at, first_seen_at, "
                "last_seen_at, state, version_count, latest_hash")
VERSION_COLUMNS = ("id, item_id, seq, content_hash, state, content, text, media_urls, first_observed_at, "
                   "last_observed_at, first_evidence_id, last_evidence_id")
WARC_ROW = ("INSERT INTO warc_files (id, key, account_id, month, state) "
            "VALUES (1, 'bench.warc.gz', 1, '2026/11', 'stored')")
EVIDENCE = ("INSERT INTO evidence (id, warc_file_id, record_id, record_type, \"offset\", length, target_uri, "
            "captured_at, block_digest) VALUES (1, 1, 'urn:uuid:bench', 'response', 0, 1, 'https://x', {}, 'x')")


def build(path: Path, items: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".building")
    partial.unlink(missing_ok=True)
    open_index(f"sqlite:///{partial}").dispose()  # the real schema, every migration
    raw = sqlite3.connect(partial)
    raw.execute("PRAGMA journal_mode=OFF")
    raw.execute("PRAGMA synchronous=OFF")
    # Filling the FTS table once at the end is several times faster than the per-row trigger.
    trigger = raw.execute("SELECT sql FROM sqlite_master WHERE name = 'versions_fts_insert'").fetchone()[0]
    raw.execute("DROP TRIGGER versions_fts_insert")
    raw.executemany("INSERT INTO accounts (id, name, platform, platform_account_id, cursor, status, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)", ACCOUNT_ROWS)
    raw.execute(WARC_ROW)
    raw.execute(EVIDENCE.format("?"), (NOW,))
    started = time.perf_counter()
    for item_rows, version_rows in generate(items):
        raw.executemany(f"INSERT INTO items ({ITEM_COLUMNS}) VALUES ({', '.join('?' * 13)})", item_rows)
        raw.executemany(f"INSERT INTO versions ({VERSION_COLUMNS}) VALUES ({', '.join('?' * 12)})", version_rows)
        print(f"  {item_rows[-1][0]:,} items ({time.perf_counter() - started:.0f}s)", file=sys.stderr)
    raw.execute("INSERT INTO versions_fts(versions_fts) VALUES ('rebuild')")
    raw.execute(trigger)
    raw.commit()  # no ANALYZE: the archiver never runs it, so the planner works without statistics here too
    raw.close()
    partial.rename(path)
    print(f"  built in {time.perf_counter() - started:.0f}s: {path}", file=sys.stderr)


def postgres_index(url: str, items: int) -> str:
    """The URL of a PostgreSQL index of ``items`` items for this schema on ``url``'s server, built when needed.

    ``url`` names the server (its database is only where the bench connects to create others).
    """
    server = make_url(url)
    name = f"bench_search_{items}_g{GENERATOR}_s{schema_key().replace('+', '_').replace('-', '_')}"
    target = server.set(database=name).render_as_string(hide_password=False)
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if exists and stamped(target) != heads(schema_key()):
                print(f"cached database {name} is at another schema: rebuilding", file=sys.stderr)
                connection.execute(text(f'DROP DATABASE "{name}"'))
                exists = None
            if not exists:
                print(f"building a synthetic PostgreSQL index of {items:,} items (cached for reruns)",
                      file=sys.stderr)
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}_building"'))
                connection.execute(text(f'CREATE DATABASE "{name}_building"'))
                _fill_postgres(server.set(database=f"{name}_building").render_as_string(hide_password=False),
                               items)
                connection.execute(text(f'ALTER DATABASE "{name}_building" RENAME TO "{name}"'))
    finally:
        admin.dispose()
    return target


def _fill_postgres(url: str, items: int) -> None:
    open_index(url).dispose()  # the real schema, every migration
    engine = create_engine(url)
    started = time.perf_counter()
    try:
        raw: Any = engine.raw_connection()
        with raw.cursor() as cursor:
            # Secondary indexes are built once at the end (the same indexes, much faster than row by row).
            cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('items', 'versions') "
                           "AND indexdef NOT LIKE 'CREATE UNIQUE%'")
            indexes = cursor.fetchall()
            for index_name, _ in indexes:
                cursor.execute(f'DROP INDEX "{index_name}"')
            cursor.execute("SET session_replication_role = replica")  # no per-row foreign key checks
            cursor.executemany("INSERT INTO accounts (id, name, platform, platform_account_id, cursor, status, "
                               "created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)", ACCOUNT_ROWS)
            cursor.execute(WARC_ROW)
            cursor.execute(EVIDENCE.format("%s"), (NOW,))
            for item_rows, version_rows in generate(items):
                with cursor.copy(f"COPY items ({ITEM_COLUMNS}) FROM STDIN") as copy:
                    for row in item_rows:
                        copy.write_row(row)
                with cursor.copy(f"COPY versions ({VERSION_COLUMNS}) FROM STDIN") as copy:
                    for row in version_rows:
                        copy.write_row(row)
                print(f"  {item_rows[-1][0]:,} items ({time.perf_counter() - started:.0f}s)", file=sys.stderr)
            for table, column in (("accounts", "id"), ("items", "id"), ("versions", "id")):
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                               f"(SELECT max({column}) FROM {table}))")
            for _, definition in indexes:
                cursor.execute(definition)
            raw.commit()
        raw.close()
        # What autovacuum does after a bulk load anyway: the planner's statistics.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    finally:
        engine.dispose()
    print(f"  built in {time.perf_counter() - started:.0f}s", file=sys.stderr)
