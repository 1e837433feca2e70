"""Threads accounts: threads with carousel children, quotes and reposts, replies at any depth
with their hide status, insights as metrics (never versions), edits, deletions confirmed by
lookups, reindex parity; the parser on the documented payloads; token and throttling faults."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from conftest import FIXTURES, Workspace
from connectors.base import CapturedResponse, Headers, VersionState
from connectors.threads.fakeaccount import FakeThreads
from connectors.threads.parser import parse
from graph_helpers import TOKEN, graph_account, items
from secret_helpers import assert_never_recorded
from social_helpers import account_row
from test_facebook_deletions import snapshot_with_metrics

URLS = json.loads((FIXTURES / "threads" / "urls.json").read_text())


def _fixture(name: str, lookup: str | None = None) -> list[Any]:
    body = (FIXTURES / "threads" / name).read_bytes()
    status = 400 if b'"error"' in body else 200
    return parse(CapturedResponse(URLS[name], status, Headers([("Content-Type", "application/json")]), body,
                                  datetime.now(UTC), lookup=lookup))


def test_parser_on_documented_payloads() -> None:
    threads = {o.platform_id: o for o in _fixture("docs_user_threads.json")}
    assert threads["1234567"].kind == "post" and threads["1234567"].text == "Today Is Monday"
    assert threads["1234567"].author == "@threadsapitestuser"
    assert threads["1234568"].content["quoted_post"] == "1234560" and threads["1234568"].content["children"] == [
        "1234570", "1234571"]
    assert "oe=" not in threads["1234568"].content["media_url"] and "oe=" in threads["1234568"].media_urls[0]
    assert threads["1234570"].kind == "media" and threads["1234570"].parent_id == "1234568"
    assert threads["1234569"].content["reposted_post"] == "1234555"
    replies = {o.platform_id: o for o in _fixture("docs_media_conversation.json")}
    assert replies["1234567891"].state is VersionState.HIDDEN and replies["1234567892"].state is VersionState.VISIBLE
    assert {o.parent_id for o in replies.values()} == {"1234567890"}
    [counts] = _fixture("docs_media_insights.json")
    assert counts.metrics_only and counts.metrics == {"likes": 100, "replies": 10}
    [profile] = _fixture("docs_user_profile.json")
    assert profile.kind == "profile" and profile.url == "https://www.threads.net/@threadsapitestuser"
    [gone] = _fixture("docs_error_100_33_missing.json", lookup="1234567891")
    assert gone.state is VersionState.DELETED and gone.kind == "comment"
    # A field of the wrong type spoils nothing: the reply is kept, visible (found by fuzzing).
    odd = {"data": [{"id": "7", "hide_status": {"HIDDEN": True}, "replied_to": ["x"], "timestamp": 5}]}
    [reply] = parse(CapturedResponse(URLS["docs_media_conversation.json"], 200, Headers([]), json.dumps(odd).encode(),
                                     datetime.now(UTC)))
    assert reply.state is VersionState.VISIBLE and reply.parent_id == "1234567890" and reply.posted_at is None


def test_a_threads_account_is_harvested_completely(workspace: Workspace) -> None:
    account = FakeThreads.synthetic(threads=40, replies=500, seed=5)
    with graph_account(workspace, account, platform="threads", account_id=account.user_id, name="city-threads",
                       version="v1.0", page_size=7) as server:
        result = workspace.cli("harvest")
        assert result.code == 0, result.err
        assert any("/conversation" in c.path and "after" in c.query for c in server.api_calls())  # paged
        assert not any(c.path.endswith("/insights") and c.path.split("/")[2] in
                       {t.id for t in account.threads if t.media_type == "REPOST_FACADE"} for c in server.api_calls())
        found = items(workspace, "city-threads")
        truth = account.truth()
        assert set(truth) <= set(found) and len(found) == len(truth) + 1  # + the profile
        hidden = {r.id for r in account.reply_by_id.values() if account.hidden_under(r)}
        assert hidden and {pid for pid, (_, state, _, _) in found.items() if state == "hidden"} == hidden
        assert all(found[r.id][2] == r.parent_id for r in account.reply_by_id.values())
        assert all(found[r.id][0] == ("comment" if r.top_level else "reply") for r in account.reply_by_id.values())
        assert any(found[c][0] == "media" for t in account.threads for c in t.children)
        liked = account.threads[0]
        assert found[liked.id][3]["replies"] == len(liked.replies)
        # Counts change: metrics move, no version. A reply is edited, a subtree and a thread deleted.
        liked.likes += 12
        edited = liked.replies[0] if liked.replies else account.threads[1].replies[0]
        account.edit_reply(edited.id, "corrected text")
        deep = next(r for t in account.threads for r in t.replies if not r.top_level)
        gone = account.delete_reply(deep.parent_id)
        doomed = next(t for t in account.threads[3:] if t.replies and deep.thread_id != t.id)
        gone_with_thread = account.delete_thread(doomed.id)
        again = workspace.cli("harvest", "--json")
        assert again.code == 0, again.err
        assert again.json()[0]["new_versions"] == 1 + len(gone) + len(gone_with_thread) - len(doomed.children)
        found = items(workspace, "city-threads")
        assert found[liked.id][3]["likes"] == liked.likes
        assert all(found[g][1] == "deleted" for g in gone + [doomed.id] + [r.id for r in doomed.replies])
        assert found[edited.id][1] == "edited"
    before = snapshot_with_metrics(workspace)
    assert workspace.cli("reindex").code == 0
    assert snapshot_with_metrics(workspace) == before


def test_an_expired_token_stops_cleanly_and_never_enters_a_record(workspace: Workspace, caplog: Any) -> None:
    account = FakeThreads.synthetic(threads=30, replies=200, seed=7)
    with graph_account(workspace, account, platform="threads", account_id=account.user_id, name="city-threads",
                       version="v1.0", page_size=5, throttle_backoff_seconds=0.05, pace_seconds=0.0) as server:
        logging.getLogger().setLevel(logging.DEBUG)
        server.expire_after = 12
        failed = workspace.cli("-vv", "harvest")
        assert failed.code == 1 and "token has expired" in failed.err
        row = account_row(workspace, "city-threads")
        assert row.status == "disconnected" and row.cursor == {}
        kept = items(workspace, "city-threads")
        assert kept  # what came before the stop is kept
        server.expire_after, server.budget, server.window_seconds = None, 8, 0.3
        server.expired.clear()
        done = workspace.cli("-vv", "harvest")
        assert done.code == 0, done.err
        assert any(c.status == 400 for c in server.api_calls())  # throttled (80001), waited, finished
    assert set(account.truth()) <= set(items(workspace, "city-threads"))
    assert account_row(workspace, "city-threads").status == "active"
    assert_never_recorded(workspace, [TOKEN], failed.out + failed.err + done.out + done.err + caplog.text)
