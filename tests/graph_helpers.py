"""Helpers for the Facebook and Instagram tests: a fake Graph API and a workspace harvesting it."""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import select

from conftest import Workspace
from connectors.graph.fakeserver import FakeGraphServer, GraphModel

TOKEN = "EAAGtestPageToken0a1b2c3d4e5f6g7h8i9j"  # a throwaway for the local fake only
APP_SECRET = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


@contextmanager
def graph_account(workspace: Workspace, model: GraphModel, platform: str = "facebook", account_id: str = "",
                  name: str = "city-fb", app_secret: bool = False, version: str = "v26.0",
                  **options: Any) -> Iterator[FakeGraphServer]:
    """Start a fake Graph API for ``model`` and add an account harvesting it to the workspace."""
    saved = {key: os.environ.get(key) for key in ("TEST_PAGE_TOKEN", "TEST_APP_SECRET")}
    os.environ["TEST_PAGE_TOKEN"] = TOKEN
    os.environ["TEST_APP_SECRET"] = APP_SECRET
    server = FakeGraphServer(model, tokens={TOKEN}, app_secret=APP_SECRET if app_secret else None, version=version)
    with server:
        lines = [f'name = "{name}"', f'platform = "{platform}"', f'id = "{account_id}"',
                 'token_env = "TEST_PAGE_TOKEN"', f'base_url = "{server.base_url}"']
        if app_secret:
            lines.append('app_secret_env = "TEST_APP_SECRET"')
        lines += [f"{k} = {v!r}".replace("'", '"') for k, v in options.items()]
        workspace.accounts.append("\n".join(lines))
        workspace.capture.update(retry_backoff_seconds=0.01, timeout_seconds=5)
        try:
            yield server
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def set_token(value: str) -> None:
    os.environ["TEST_PAGE_TOKEN"] = value


def items(workspace: Workspace, account: str = "city-fb") -> dict[str, Any]:
    """platform id → (kind, state, parent, metrics) from the index."""
    from archiver.index.models import Account, Item

    db = workspace.index()
    with db.session() as session:
        rows = session.execute(select(Item.platform_id, Item.kind, Item.state, Item.parent_platform_id, Item.metrics)
                               .join(Account, Account.id == Item.account_id).where(Account.name == account)).all()
    db.dispose()
    return {row[0]: row[1:] for row in rows}


def warc_bytes(workspace: Workspace) -> list[tuple[Path, bytes, bytes]]:
    """(path, bytes as stored, bytes decompressed) of every WARC in storage and the spool."""
    found = []
    for path in [*workspace.stored_warcs(), *workspace.spool_files()]:
        raw = path.read_bytes()
        found.append((path, raw, gzip.decompress(raw)))
    return found
