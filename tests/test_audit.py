"""The audit trail: every access that matters, append-only, and a chain that exposes any edit."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from conftest import Workspace
from connectors.rss.fakeserver import FakeFeed, FakeFeedServer


def test_actions_are_logged_and_the_chain_verifies(workspace: Workspace, feed_server: FakeFeedServer,
                                                   index_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHIVER_ACTOR", "clerk.jones")
    feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=5))
    workspace.database_url = index_url
    workspace.capture["media"] = False
    workspace.account("news", feed_server.url("/feeds/news.atom"))
    assert workspace.cli("harvest").code == 0
    assert workspace.cli("search", "Library").code == 0
    assert workspace.cli("export", "--out", str(workspace.root / "out")).code == 0
    workspace.capture["timeout_seconds"] = 9  # the config changes
    workspace.write()
    assert workspace.cli("accounts").code == 0

    log = workspace.cli("audit", "--json").json()
    actions = [entry["action"] for entry in log]
    assert actions == ["config.loaded", "harvest", "search", "export", "config.loaded"]
    assert {entry["actor"] for entry in log} == {"clerk.jones"}
    assert log[1]["target"] == "news" and log[1]["details"]["status"] == "succeeded"
    assert log[3]["details"]["files"]["items.jsonl"]["sha256"]
    assert log[4]["details"]["previous_digest"] == log[0]["details"]["digest"]
    assert all(entry["prev_hash"] == before["hash"] for before, entry in itertools.pairwise(log))
    verified = workspace.cli("audit", "verify")
    assert verified.code == 0 and "audit chain intact: 5 entries" in verified.out


def test_the_database_refuses_edits_and_the_chain_names_a_forced_one(workspace: Workspace, index_url: str) -> None:
    workspace.database_url = index_url
    for _ in range(3):
        assert workspace.cli("search", "anything").code == 0
    db = workspace.index()
    with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2"))
    with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_log WHERE seq = 3"))
    # Someone with full control of the database gets past the guard...
    with db.engine.begin() as connection:
        if db.dialect == "sqlite":
            connection.execute(text("DROP TRIGGER audit_log_no_update"))
        else:
            connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change"))
        connection.execute(text("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 3"))
    db.dispose()
    # ...and the chain says where.
    result = workspace.cli("audit", "verify")
    assert result.code == 1
    assert "audit chain BROKEN at entry 3: its content was changed after it was written" in result.out


def test_concurrent_appenders_never_collide_or_fork_the_chain(index_url: str) -> None:
    """A `show` while the daemon or the webhook receiver writes: every entry lands, the chain holds."""
    import threading

    from archiver import audit as trail
    from archiver.index.db import open_index

    db = open_index(index_url)
    errors: list[str] = []

    def append(writer: int) -> None:
        for number in range(40):
            try:
                with db.session() as session:
                    trail.record(session, "test.append", f"writer-{writer}", number=number)
            except Exception as exc:
                errors.append(repr(exc)[:200])

    threads = [threading.Thread(target=append, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with db.session() as session:
        checked, broken = trail.verify(session)
    db.dispose()
    assert errors == [] and broken is None and checked == 160
