"""Helpers for the X and YouTube tests: fake APIs with an account in the workspace harvesting them."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from conftest import FIXTURES, Workspace
from connectors.base import CapturedResponse, Headers
from connectors.x.fakeaccount import FakeXAccount
from connectors.x.fakeserver import FakeXServer
from connectors.youtube.fakechannel import FakeChannel
from connectors.youtube.fakeserver import FakeYouTubeServer

BEARER = "AAAAAAAAAAAAAAAAAAAAAtestBearer0a1b2c3d4e5f"  # throwaways for the local fakes only
USER_TOKEN = "dGVzdFVzZXJUb2tlbjphYmNkZWZnaGlqa2xtbm9w"
API_KEY = "AIzaSyTestKey00112233445566778899aabb"
OWNER_TOKEN = "ya29.testOwnerToken-0a1b2c3d4e5f"
REFRESH = ("1//0gTestRefreshToken-abcdef", "123-test.apps.googleusercontent.com", "GOCSPX-testClientSecret9")
ENV = {"TEST_X_BEARER": BEARER, "TEST_X_USER": USER_TOKEN, "TEST_YT_KEY": API_KEY, "TEST_YT_OWNER": OWNER_TOKEN,
       "TEST_YT_REFRESH": REFRESH[0], "TEST_YT_CLIENT": REFRESH[1], "TEST_YT_CLIENT_SECRET": REFRESH[2]}


def _lines(name: str, platform: str, account_id: str, base_url: str, options: dict[str, Any]) -> str:
    lines = [f'name = "{name}"', f'platform = "{platform}"', f'id = "{account_id}"', f'base_url = "{base_url}"']
    lines += [f"{k} = {json.dumps(v)}" for k, v in options.items()]
    return "\n".join(lines)


@contextmanager
def _environment() -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in ENV}
    os.environ.update(ENV)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def x_account(workspace: Workspace, account: FakeXAccount, name: str = "city-x", account_id: str | None = None,
              user_token: bool = False, **options: Any) -> Iterator[FakeXServer]:
    server = FakeXServer(account, tokens={BEARER}, user_tokens={USER_TOKEN},
                         full_archive=bool(options.get("full_archive")))
    options = {"bearer_token_env": "TEST_X_BEARER", **({"access_token_env": "TEST_X_USER"} if user_token else {}),
               **options}
    with _environment(), server:
        workspace.accounts.append(_lines(name, "x", account_id or account.owner.id, server.base_url, options))
        workspace.capture.update(retry_backoff_seconds=0.01, timeout_seconds=5)
        yield server
    assert not server.errors, server.errors[0]


@contextmanager
def youtube_account(workspace: Workspace, channel: FakeChannel, name: str = "city-yt", account_id: str | None = None,
                    owner: bool = False, **options: Any) -> Iterator[FakeYouTubeServer]:
    server = FakeYouTubeServer(channel, keys={API_KEY}, owner_tokens={OWNER_TOKEN})
    server.refresh_grants.add(REFRESH)
    options = {"api_key_env": "TEST_YT_KEY", **({"access_token_env": "TEST_YT_OWNER"} if owner else {}), **options}
    with _environment(), server:
        workspace.accounts.append(_lines(name, "youtube", account_id or channel.channel_id, server.base_url, options))
        workspace.capture.update(retry_backoff_seconds=0.01, timeout_seconds=5)
        yield server
    assert not server.errors, server.errors[0]


@pytest.fixture
def index_in_memory(workspace: Workspace) -> Iterator[None]:
    """The index on tmpfs (/dev/shm) when there is one: the large-account tests then measure the
    archiver, not the disk's fsyncs (every stored evidence row is a committed transaction)."""
    shm = Path("/dev/shm")
    if not shm.is_dir():
        yield
        return
    folder = Path(tempfile.mkdtemp(prefix="archiver-test-", dir=shm))
    workspace.database_url = f"sqlite:///{folder / 'index.sqlite'}"
    try:
        yield
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def indexed(workspace: Workspace, account: str) -> dict[str, tuple[str, str, str | None, dict[str, Any]]]:
    """platform id → (kind, state, parent, metrics)."""
    from archiver.index.models import Account, Item

    db = workspace.index()
    with db.session() as session:
        rows = session.execute(select(Item.platform_id, Item.kind, Item.state, Item.parent_platform_id, Item.metrics)
                               .join(Account, Account.id == Item.account_id).where(Account.name == account)).all()
    db.dispose()
    return {row[0]: (row[1], row[2], row[3], row[4] or {}) for row in rows}


def all_bytes(workspace: Workspace) -> bytes:
    """Every byte the archive holds: WARCs (as stored and decompressed), the index, logs."""
    found = []
    for path in [*workspace.stored_warcs(), *workspace.spool_files()]:
        raw = path.read_bytes()
        found += [raw, gzip.decompress(raw)]
    found += [p.read_bytes() for p in (workspace.root / "data").rglob("*") if p.is_file() and "sqlite" in p.name]
    return b"".join(found)


def sample(platform: str, name: str, status: int = 200, lookup: str | None = None) -> CapturedResponse:
    """A fixture file as the response to the URL urls.json names for it."""
    from datetime import UTC, datetime

    urls = json.loads((FIXTURES / platform / "urls.json").read_text())
    return CapturedResponse(urls[name], status, Headers([("Content-Type", "application/json")]),
                            (FIXTURES / platform / name).read_bytes(), datetime.now(UTC), lookup)
