"""Broken payloads and outages on Threads, Mastodon, Bluesky and LinkedIn: what was captured is
kept (the broken bytes in the WARC), the cursor does not move, the account says why it stopped,
and the next harvest after the fault completes the account."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from conftest import Workspace
from connectors.bluesky.fakeappview import FakeBluesky
from connectors.linkedin.fakeapi import FakeLinkedIn
from connectors.mastodon.fakeinstance import FakeMastodon
from connectors.threads.fakeaccount import FakeThreads
from graph_helpers import graph_account, items, warc_bytes
from social_helpers import TOKEN, account_row, social_account


@contextmanager
def _threads(workspace: Workspace) -> Iterator[tuple[Any, Callable[[], dict[str, str]]]]:
    account = FakeThreads.synthetic(threads=12, replies=40, seed=2)
    with graph_account(workspace, account, platform="threads", account_id=account.user_id, name="acct",
                       version="v1.0", page_size=5) as server:
        yield server, account.truth


@contextmanager
def _rest(workspace: Workspace, server: Any, platform: str, account_id: str,
          token: bool = True) -> Iterator[tuple[Any, Callable[[], dict[str, str]]]]:
    server.tokens = {TOKEN}
    with server, social_account(workspace, platform, account_id, server.base_url, "acct",
                                token=TOKEN if token else None, page_size=5):
        yield server, server.truth


SETUPS = {
    "threads": _threads,
    "mastodon": lambda w: _rest(w, FakeMastodon.synthetic(statuses=12, replies=40, seed=2), "mastodon",
                                "109000000000000001"),
    "bluesky": lambda w: _rest(w, FakeBluesky.synthetic(posts=12, replies=40, seed=2), "bluesky",
                               "did:plc:springfieldcity00000000a", token=False),
    "linkedin": lambda w: _rest(w, FakeLinkedIn.synthetic(posts=12, comments=40, seed=2), "linkedin", "5515715"),
}


@pytest.mark.parametrize("platform", sorted(SETUPS))
def test_a_broken_payload_or_an_outage_keeps_everything_and_moves_no_cursor(workspace: Workspace,
                                                                            platform: str) -> None:
    with SETUPS[platform](workspace) as (server, truth):
        server.truncate = True
        broken = workspace.cli("harvest")
        assert broken.code == 1 and "(kept in " in broken.err and "asked twice" in broken.err, broken.err
        assert account_row(workspace, "acct").cursor == {}
        assert any(len(plain) > 1000 for _, _, plain in warc_bytes(workspace))  # the broken bytes are kept
        server.truncate = False
        assert workspace.cli("harvest").code == 0
        cursor = account_row(workspace, "acct").cursor
        kept = items(workspace, "acct")
        server.fail_next = 50  # an outage through the retries
        down = workspace.cli("harvest")
        assert down.code == 1 and account_row(workspace, "acct").cursor == cursor
        assert items(workspace, "acct") == kept  # nothing lost, nothing marked deleted
        assert workspace.cli("coverage", "acct", "--json").json()["spans"][-1]["causes"][0]["cause"] == "outage"
        server.fail_next = 0
        assert workspace.cli("harvest").code == 0
        assert set(truth()) <= set(items(workspace, "acct"))
