"""Shared test fixtures: configs on disk, the fake feed platform, the CLI run in-process, PostgreSQL.

Everything is real: HTTP goes over sockets to the fake platform on 127.0.0.1, the index is a
real SQLite file or a real PostgreSQL database, storage is a real folder (or SeaweedFS, see
seaweed.py). PostgreSQL tests skip loudly, never silently, when no server answers.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import sys
import textwrap
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from archiver.cli import main
from archiver.config import Config, load_config
from archiver.index.db import IndexDB, open_index
from connectors.fakehttp import take_errors
from connectors.rss.fakeserver import FakeFeedServer
from seaweed import s3_bucket, s3_env, s3_plain_bucket, seaweedfs  # noqa: F401 - fixtures
from service_helpers import stoppable_seaweed  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
POSTGRES_URL = os.environ.get("ARCHIVER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        import json

        return json.loads(self.out)


def run_cli(*args: str) -> CliResult:
    """Run ``archiver ARGS`` in this process and capture what it prints."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
    return CliResult(code, out.getvalue(), err.getvalue())


class Workspace:
    """A folder with a config file, and helpers to run the archiver against it."""

    def __init__(self, root: Path):
        self.root = root
        self.config_path = root / "archiver.toml"
        self.database_url: str | None = None
        self.storage_lines = ""
        self.capture: dict[str, Any] = {"retry_backoff_seconds": 0.01, "timeout_seconds": 5}
        self.accounts: list[str] = []

    def account(self, name: str, feed_url: str, **extra: Any) -> Workspace:
        lines = [f'name = "{name}"', 'platform = "rss"', f'id = "{feed_url}"']
        lines += [f"{key} = {_toml(value)}" for key, value in extra.items()]
        self.accounts.append("\n".join(lines))
        return self

    def write(self, extra: str = "") -> Path:
        database = f'[database]\nurl = "{self.database_url}"\n' if self.database_url else ""
        body = [
            '[archiver]\ndata_dir = "data"\nagency = "City of Testing"\n',
            database,
            f"[storage]\n{self.storage_lines}",
            "[capture]\n" + "".join(f"{key} = {_toml(value)}\n" for key, value in self.capture.items()),
            *(f"[[accounts]]\n{account}\n" for account in self.accounts),
            textwrap.dedent(extra),
        ]
        self.config_path.write_text("\n".join(body), encoding="utf-8")
        return self.config_path

    def cli(self, *args: str) -> CliResult:
        if not self.config_path.exists():
            self.write()
        return run_cli("--config", str(self.config_path), *args)

    @property
    def config(self) -> Config:
        return load_config(self.config_path)

    def index(self) -> IndexDB:
        return open_index(self.config.database_url)

    def stored_warcs(self) -> list[Path]:
        return sorted((self.root / "data" / "warcs").rglob("*.warc.gz"), key=lambda p: p.stat().st_mtime_ns)

    def spool_files(self) -> list[Path]:
        return sorted(p for p in (self.root / "data" / "spool").rglob("*.warc.gz*"))


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return f'"{value}"'


def fail_on_fake_errors() -> None:
    """Fail the running test if a fake server raised an error of its own since the last check."""
    errors = take_errors()
    if errors:
        pytest.fail(f"a fake server raised {len(errors)} error(s) of its own; the first:\n{errors[0]}", pytrace=False)


@pytest.fixture(autouse=True)
def fakes_raise_nothing() -> Iterator[None]:
    """A fake platform's own error fails the test that caused it, never a quiet "fetch failed"."""
    take_errors()  # a server left running by an earlier test is not this test's doing
    yield
    fail_on_fake_errors()


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)


@pytest.fixture
def feed_server() -> Iterator[FakeFeedServer]:
    with FakeFeedServer() as server:
        yield server


def _postgres_admin() -> Any:
    import psycopg

    url = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    return psycopg.connect(url, autocommit=True, connect_timeout=3)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    try:
        admin = _postgres_admin()
    except Exception as exc:
        message = f"PostgreSQL not reachable at {POSTGRES_URL} ({type(exc).__name__}); set ARCHIVER_TEST_POSTGRES_URL"
        warnings.warn(message, stacklevel=1)
        print(f"\nSKIPPING POSTGRES TEST: {message}", file=sys.stderr)
        pytest.skip(message)
    name = f"archiver_test_{secrets.token_hex(4)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with _postgres_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def index_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'index.sqlite'}"
    return request.getfixturevalue("postgres_url")
