"""A bad payload never stops archiving: a malformed object costs that object only (kept as a parse
problem, never a version or a deletion), and a record no parser can read is quarantined — listed,
retried by reindex after an upgrade — without blocking harvests, other accounts, recovery, the
daemon or reindex."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

import connectors.facebook.parser as fb_parser
from archiver.daemon import Daemon
from archiver.index.models import Account, Evidence, Harvest, Item, ItemEvidence, ParseProblem
from archiver.quarantine import Quarantined, quarantined
from conftest import Workspace
from connectors.base import CapturedResponse, Headers, VersionState
from connectors.facebook.fakepage import FakePage
from connectors.rss.fakeserver import FakeFeed, FakeFeedServer
from graph_helpers import graph_account, items
from storage.local import LocalStorage
from test_facebook_deletions import snapshot_with_metrics


def test_the_payload_from_the_report_parses_into_problems_of_that_post() -> None:
    body = {"data": [{"id": 1740000000001, "message": {"text": "Road closed"}, "comments": "none"},
                     {"id": "1_2", "message": "Library hours", "created_time": "2026-03-02T10:00:00+0000"}]}
    response = CapturedResponse("https://graph.facebook.com/v26.0/1/feed?fields=id,message", 200,
                                Headers([("Content-Type", "application/json")]), json.dumps(body).encode(),
                                datetime.now(UTC))
    found = fb_parser.parse(response)
    assert [(o.platform_id, o.problem) for o in found] == [
        ("1740000000001", "post 1740000000001 (data[0]): message: expected text, got an object"),
        ("1740000000001", "post 1740000000001 (data[0]): comments: expected an object, got text"),
        ("1_2", None),
    ]


def _states(found: dict[str, Any]) -> dict[str, Any]:
    """platform id → (kind, state, parent): what a version or a deletion would change."""
    return {pid: row[:3] for pid, row in found.items()}


def _problems(workspace: Workspace) -> list[tuple[str | None, str]]:
    db = workspace.index()
    with db.session() as session:
        rows = sorted((pid, text) for pid, text in
                      session.execute(select(ParseProblem.platform_id, ParseProblem.problem)))
    db.dispose()
    return rows


def _notes(workspace: Workspace, account: str) -> list[str]:
    db = workspace.index()
    with db.session() as session:
        harvest = session.scalars(select(Harvest).join(Account).where(Account.name == account)
                                  .order_by(Harvest.started_at.desc())).first()
    db.dispose()
    assert harvest is not None
    return list((harvest.coverage or {}).get("notes") or [])


def test_a_malformed_object_costs_that_object_only(workspace: Workspace, feed_server: FakeFeedServer) -> None:
    page = FakePage.synthetic(posts=8, comments=80, seed=4)
    feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=5))
    workspace.account("news", feed_server.url("/feeds/news.atom"))
    workspace.capture["media"] = False
    with graph_account(workspace, page, account_id=page.page_id) as server:
        assert workspace.cli("harvest").code == 0
        before = items(workspace)
        garbled, unthreaded = [p for p in page.posts if p.comments][:2]
        fresh = page.add_post(datetime.now(UTC) - timedelta(minutes=5), "Fresh notice about the bridge")

        def bad_day(path: list[str], body: Any) -> Any:
            for post in body.get("data", []) if path[-1] == "feed" else []:
                if post["id"] in (garbled.id, fresh.id):
                    post["message"] = {"text": post["message"]}
                if post["id"] == unthreaded.id:
                    post["comments"] = "none"
            return body

        server.mangle = bad_day
        result = workspace.cli("harvest", "--json")
        assert result.code == 0, result.err
        outcomes = {o["account"]: o for o in result.json()}
        assert outcomes["news"]["status"] == "succeeded"
        # The thread of the post whose comments could not be read was not listed: not complete.
        assert outcomes["city-fb"]["status"] == "partial" and outcomes["city-fb"]["new_versions"] == 0
        during = items(workspace)
        assert _states(during) == _states(before)  # nothing new, nothing changed, nothing deleted
        assert fresh.id not in during
        assert _problems(workspace) == sorted([
            (garbled.id, f"post {garbled.id} (data[{page.posts.index(garbled)}]): message: expected text, "
                         "got an object"),
            (fresh.id, f"post {fresh.id} (data[0]): message: expected text, got an object"),
            (unthreaded.id, f"post {unthreaded.id} (data[{page.posts.index(unthreaded)}]): comments: expected an "
                            "object, got text"),
        ])
        notes = _notes(workspace, "city-fb")
        assert sum(line.startswith("parse problem in record <urn:uuid:") for line in notes) == 3
        assert any(f"post {garbled.id}" in line and "message: expected text, got an object" in line
                   for line in notes)

        server.mangle = None
        result = workspace.cli("harvest", "--json")
        assert result.code == 0
        # A correct parse after a problem is no edit: one new item (the fresh post), no new version.
        assert {o["account"]: o["new_versions"] for o in result.json()}["city-fb"] == 1
    after = items(workspace)
    assert _states({k: v for k, v in after.items() if k != fresh.id}) == _states(before)
    assert after[fresh.id][1] == "visible"
    db = workspace.index()
    with db.session() as session:
        # The record in which the fresh post could not be read is still its evidence (holds see it).
        linked = set(session.scalars(select(Evidence.record_id).join(ItemEvidence).join(Item)
                                     .where(Item.platform_id == fresh.id)))
        problem_records = set(session.scalars(select(Evidence.record_id).join(ParseProblem)
                                              .where(ParseProblem.platform_id == fresh.id)))
    db.dispose()
    assert problem_records and problem_records < linked
    shown = workspace.cli("show", f"city-fb:{garbled.id}")
    assert shown.code == 0 and "parse problem" in shown.out and "message: expected text" in shown.out

    index, problems = snapshot_with_metrics(workspace), _problems(workspace)
    assert workspace.cli("reindex").code == 0
    assert snapshot_with_metrics(workspace) == index and _problems(workspace) == problems


def _quarantine(workspace: Workspace) -> list[Quarantined]:
    db = workspace.index()
    with db.session() as session:
        found = quarantined(session)
    db.dispose()
    return found


def _defective_on_feeds(monkeypatch: pytest.MonkeyPatch) -> None:
    """A parser with a defect: it raises on every feed page (as on a shape no release foresaw)."""
    real = fb_parser.parse

    def defective(response: CapturedResponse) -> list[Any]:
        if response.url.split("?")[0].endswith("/feed"):
            raise RuntimeError("cannot read this feed page")
        return real(response)

    monkeypatch.setattr(fb_parser, "parse", defective)


def test_a_record_no_parser_can_read_is_quarantined_and_blocks_nothing(
        workspace: Workspace, feed_server: FakeFeedServer, monkeypatch: pytest.MonkeyPatch,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    page = FakePage.synthetic(posts=6, comments=40, seed=9)
    feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=5))
    workspace.account("news", feed_server.url("/feeds/news.atom"), schedule="1h")
    workspace.capture["media"] = False
    _defective_on_feeds(monkeypatch)
    with graph_account(workspace, page, account_id=page.page_id, schedule="1h"):
        result = workspace.cli("harvest", "--json")
        assert result.code == 0, result.err
        assert {o["account"]: o["status"] for o in result.json()} == {"city-fb": "succeeded", "news": "succeeded"}
        [row] = [a for a in workspace.cli("accounts", "--json").json() if a["name"] == "city-fb"]
        [held] = row["quarantined_records"]
        assert row["quarantined"] == 1 and held["error"] == "RuntimeError: cannot read this feed page"
        assert (workspace.root / "data" / "warcs" / held["warc_key"]).is_file()
        assert held["record_id"].startswith("<urn:uuid:") and "/feed" in held["url"]
        assert held["first_tried_at"] <= held["last_tried_at"]
        assert any(line.startswith(f"quarantined record {held['record_id']}") for line in _notes(workspace, "city-fb"))
        listing = workspace.cli("accounts")
        assert f"quarantined: city-fb: {held['warc_key']} record {held['record_id']}" in listing.out
        coverage = workspace.cli("coverage", "city-fb", "--json").json()
        assert [q["record_id"] for q in coverage["quarantined"]] == [held["record_id"]]
        assert coverage["complete"]  # captured completely; only its indexing waits
        assert "captured but not indexed" in workspace.cli("coverage", "city-fb").out
        assert workspace.cli("verify", "--all").code == 0
        assert not any(pid in items(workspace) for pid in (p.id for p in page.posts))

        # Reindex with the defect still there: exit 0, the record is quarantined again.
        assert workspace.cli("reindex").code == 0
        [again] = _quarantine(workspace)
        assert (again.warc_key, again.record_id, again.error) == (held["warc_key"], held["record_id"], held["error"])

        # Recovery indexing a WARC the index never heard of is not blocked by it either.
        other = Workspace(tmp_path_factory.mktemp("other"))
        other.capture["media"] = False
        other.account("news", feed_server.url("/feeds/news.atom"))
        orphan = other.root / "data" / "spool" / held["warc_key"]
        orphan.parent.mkdir(parents=True)
        orphan.write_bytes((workspace.root / "data" / "warcs" / held["warc_key"]).read_bytes())
        result = other.cli("harvest")
        assert result.code == 0, result.err
        assert [(q.account, q.record_id) for q in _quarantine(other)] == [("city-fb", held["record_id"])]
        assert other.spool_files() == []

        # Nor is the daemon: every account is harvested, one more record quarantined.
        stop, db = threading.Event(), workspace.index()
        daemon = Daemon(workspace.config, db, LocalStorage(workspace.root / "data" / "warcs"), stop)
        runner = threading.Thread(target=daemon.run_until_stopped)
        runner.start()
        deadline = time.monotonic() + 30
        while len(daemon.completed) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        runner.join(timeout=30)
        db.dispose()
        assert sorted(daemon.completed) == ["city-fb", "news"]
        assert len(_quarantine(workspace)) == 2

        # After the upgrade (the defect fixed), reindex reads them, and the quarantine is empty.
        monkeypatch.undo()
        assert workspace.cli("reindex").code == 0
    assert _quarantine(workspace) == []
    assert all(a["quarantined"] == 0 for a in workspace.cli("accounts", "--json").json())
    found = items(workspace)
    assert all(found[p.id][1] == VersionState.VISIBLE.value for p in page.posts)


def test_verify_all_names_a_stored_warc_the_index_does_not_know(workspace: Workspace,
                                                                feed_server: FakeFeedServer) -> None:
    feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=5))
    workspace.capture["media"] = False
    workspace.account("news", feed_server.url("/feeds/news.atom"))
    assert workspace.cli("harvest").code == 0
    [stored] = workspace.stored_warcs()
    # Stored, never indexed (a recovery that stored a WARC and then failed to index it, say).
    stray = stored.with_name(stored.name.replace("-0001.warc.gz", "-0002.warc.gz"))
    stray.write_bytes(stored.read_bytes())
    key = stray.relative_to(workspace.root / "data" / "warcs").as_posix()
    for scope in ([], ["--all"]):
        result = workspace.cli("verify", *scope)
        assert result.code == 1
        assert f"MISMATCH {key}: stored, but the index does not know it (never indexed)" in result.out
        assert "verified 2 WARC(s)" in result.out
    assert workspace.cli("verify", "--sample", "1").code == 0  # a sample checks what the index knows
    assert workspace.cli("reindex").code == 0
    assert workspace.cli("verify", "--all").code == 0


def test_observations_the_index_refuses_quarantine_their_record_only(
        workspace: Workspace, monkeypatch: pytest.MonkeyPatch, postgres_url: str) -> None:
    page = FakePage.synthetic(posts=4, comments=10, seed=2)
    workspace.capture["media"] = False
    workspace.database_url = postgres_url
    real = fb_parser.parse

    def careless(response: CapturedResponse) -> list[Any]:  # a kind longer than the index's 16 characters
        found = real(response)
        if response.url.split("?")[0].endswith("/feed"):
            found[0] = replace(found[0], kind="post-with-a-kind-too-long")
        return found

    monkeypatch.setattr(fb_parser, "parse", careless)
    with graph_account(workspace, page, account_id=page.page_id):
        result = workspace.cli("harvest", "--json")
        assert result.code == 0, result.err
        assert result.json()[0]["status"] == "succeeded"
        [held] = _quarantine(workspace)
        assert held.error.startswith("the index refused what the parser returned: DataError")
        assert page.page_id in items(workspace)  # the profile's record was applied
        assert workspace.cli("reindex").code == 0
        assert [q.record_id for q in _quarantine(workspace)] == [held.record_id]
        monkeypatch.undo()
        assert workspace.cli("reindex").code == 0
    assert _quarantine(workspace) == [] and page.posts[0].id in items(workspace)
