"""bench/search.py's cached index: named by the schema (migration heads and a digest of the
migrations), checked before use, rebuilt when built by another schema; and ``--url`` on PostgreSQL."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import search_data


def _heads() -> set[str]:
    return search_data.heads(search_data.schema_key())


def test_the_cache_is_named_by_the_schema(tmp_path: Path) -> None:
    key = search_data.schema_key()
    assert _heads() <= set(key.replace("-", "+").split("+"))  # the heads are in the name, readable
    assert search_data.index_path(40, tmp_path).name == f"index-40-g{search_data.GENERATOR}-s{key}.sqlite"
    # A cache another checkout built (another head) has another name and is left alone.
    other = tmp_path / f"index-40-g{search_data.GENERATOR}-s0999-00000000.sqlite"
    other.write_bytes(b"not this schema")
    path = search_data.cached_index(40, tmp_path)
    assert path != other and other.read_bytes() == b"not this schema"
    assert search_data.stamped(f"sqlite:///{path}") == _heads()


def test_a_cache_at_another_schema_is_rebuilt(tmp_path: Path) -> None:
    path = search_data.cached_index(40, tmp_path)
    with sqlite3.connect(path) as db:  # as if another branch's migrations had run on it
        db.execute("DELETE FROM alembic_version")  # (the heads: one row each)
        db.execute("INSERT INTO alembic_version VALUES ('0999')")
        db.execute("DELETE FROM versions")
    db.close()
    assert search_data.cached_index(40, tmp_path) == path
    assert search_data.stamped(f"sqlite:///{path}") == _heads()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM versions").fetchone()[0] > 40  # built again, whole
    db.close()


@pytest.fixture
def server(postgres_url: str) -> Iterator[str]:
    """The test server's URL; the bench databases this test makes there are dropped afterwards."""
    yield postgres_url
    admin = psycopg.connect(make_url(postgres_url).set(drivername="postgresql").render_as_string(False),
                            autocommit=True)
    with admin:
        for (name,) in admin.execute("SELECT datname FROM pg_database WHERE datname LIKE 'bench_search_37_%'"):
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_postgres_cache_is_rebuilt_at_another_schema(server: str) -> None:
    url = search_data.postgres_index(server, 37)
    assert search_data.schema_key().split("-")[1] in url  # named by the schema, like the SQLite file
    assert search_data.stamped(url) == _heads()
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM alembic_version"))
        connection.execute(text("INSERT INTO alembic_version VALUES ('0999')"))
        connection.execute(text("DELETE FROM versions"))
    engine.dispose()
    assert search_data.postgres_index(server, 37) == url
    engine = create_engine(url)
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM versions")) > 37
        assert connection.scalar(text("SELECT version_num FROM alembic_version")) in _heads()
    engine.dispose()


def test_the_bench_runs_on_postgres(server: str) -> None:
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "search.py"), "--items", "37", "--runs", "2",
                             "--url", server], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert "postgresql" in lines[0]
    assert sum("floor p95" in line for line in lines) == 12  # every shape, next to its floor
