"""Mastodon accounts: statuses with Link paging, replies at any depth through the context, every
past edit from /history as its own version, media and polls, deletions only on a lookup's 404,
the handle resolved once; the parser on the recorded payloads; authorized fetch, throttling and
an invalid token; reindex parity."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import FIXTURES, Workspace
from connectors.base import CapturedResponse, Headers, VersionState
from connectors.mastodon.fakeinstance import FakeMastodon
from connectors.mastodon.parser import parse
from graph_helpers import items
from secret_helpers import assert_never_recorded
from social_helpers import TOKEN, account_row, set_token, social_account, versions
from test_facebook_deletions import snapshot_with_metrics

URLS = json.loads((FIXTURES / "mastodon" / "urls.json").read_text())
HANDLE = "@cityofspringfield@mastodon.example"


def _fixture(name: str, url: str | None = None, status: int = 200, lookup: str | None = None) -> list[Any]:
    body = (FIXTURES / "mastodon" / name).read_bytes()
    return parse(CapturedResponse(url or URLS[name], status, Headers([("Content-Type", "application/json")]), body,
                                  datetime.now(UTC), lookup=lookup))


def test_parser_on_recorded_payloads() -> None:
    page = _fixture("mastodonpy_account_statuses_page1.json")
    assert len(page) == 5 and all(o.kind == "post" and o.author for o in page)
    assert all("<" not in o.text for o in page)
    history = _fixture("mastodonpy_status_history.json")
    assert [o.historical for o in history] == [True, False]
    assert "VS Code" in history[0].text and "Kate" in history[1].text
    assert history[0].content["revised_at"] != history[1].content["revised_at"]
    # The edited status in a listing gives its counts only; as a lookup, the same content as /history's last.
    listed = parse(CapturedResponse("http://localhost:3000/api/v1/accounts/1/statuses", 200, Headers([]),
                                    b"[" + (FIXTURES / "mastodon" / "mastodonpy_status_edited.json").read_bytes()
                                    + b"]", datetime.now(UTC)))
    assert listed[0].metrics_only and listed[0].metrics["favourites"] == 0
    [looked] = _fixture("mastodonpy_status_edited.json", lookup="117020586180926938")
    assert looked.content == history[1].content
    [gone] = _fixture("mastodonpy_status_404.json", status=404, lookup="0")
    assert gone.state is VersionState.DELETED
    assert _fixture("docs_status_401_authorized_fetch.json", status=401, lookup="1") == []  # says nothing
    [video] = _fixture("mastodonpy_status_with_video_attachment_edited.json", lookup="117020605591369864")
    assert video.media_urls and video.content["media"][0]["description"] == "Updated description"


def test_a_mastodon_account_is_harvested_completely(workspace: Workspace) -> None:
    server = FakeMastodon.synthetic(statuses=60, replies=400, seed=3)
    with server, social_account(workspace, "mastodon", HANDLE, server.base_url, "city-masto", page_size=7):
        server.tokens = {TOKEN}
        result = workspace.cli("harvest")
        assert result.code == 0, result.err
        assert len(server.api_calls("/accounts/lookup")) == 1
        found = items(workspace, "city-masto")
        truth = server.truth()
        assert set(truth) <= set(found) and len(found) == len(truth) + 1  # + the profile
        replies = [r for thread in server.replies.values() for r in thread]
        assert all(found[r.id][2] == r.in_reply_to for r in replies)
        assert any(found[r.id][0] == "reply" for r in replies) and any(found[r.id][0] == "comment" for r in replies)
        edited = next(s for s in server.statuses if len(s.revisions) > 1)
        assert [state for state, _ in versions(workspace, edited.id)] == ["visible", "edited"]
        polled = next(s for s in server.statuses if s.poll)
        assert found[polled.id][3]["poll_votes"] == 5  # 1 + 4 votes
        # Edits, a deleted status and a deleted reply; counts move without versions.
        now = datetime.now(UTC)
        server.edit(edited.id, "twice corrected", now - timedelta(seconds=5))
        reply = replies[0]
        server.edit(reply.id, "reply corrected", now - timedelta(seconds=4))
        server.statuses[0].favourites += 5
        doomed = next(s for s in server.statuses if s.boost_of is None and s.id not in (edited.id, reply.root))
        server.delete(doomed.id)
        gone_reply = next(r for r in replies[1:] if r.root != doomed.id)
        server.delete(gone_reply.id)
        again = workspace.cli("harvest", "--json")
        assert again.code == 0, again.err
        assert len(server.api_calls("/accounts/lookup")) == 1  # resolved once
        assert again.json()[0]["new_versions"] == 4
        found = items(workspace, "city-masto")
        assert found[doomed.id][1] == "deleted" and found[gone_reply.id][1] == "deleted"
        assert [s for s, _ in versions(workspace, edited.id)] == ["visible", "edited", "edited"]
        assert [s for s, _ in versions(workspace, reply.id)] == ["visible", "edited"]
        assert found[server.statuses[0].id][3]["favourites"] == server.statuses[0].favourites
        third = workspace.cli("harvest", "--json")  # re-reading histories adds nothing
        assert third.code == 0 and third.json()[0]["new_versions"] == 0
    before = snapshot_with_metrics(workspace)
    assert workspace.cli("reindex").code == 0
    assert snapshot_with_metrics(workspace) == before


def test_authorized_fetch_throttling_and_a_bad_token(workspace: Workspace, caplog: Any) -> None:
    server = FakeMastodon.synthetic(statuses=30, replies=120, seed=4)
    server.authorized_fetch = True
    with server, social_account(workspace, "mastodon", server.account_id, server.base_url, "city-masto", token=None,
                                page_size=10):
        refused = workspace.cli("harvest")
        assert refused.code == 1 and "set token_env" in refused.err
        assert account_row(workspace, "city-masto").status == "disconnected"
    workspace.accounts.clear()
    server.tokens = {TOKEN}
    server.budget, server.window_seconds = 10, 0.4
    logging.getLogger().setLevel(logging.DEBUG)
    with server, social_account(workspace, "mastodon", server.account_id, server.base_url, "city-masto",
                                page_size=10, rate_limit_reserve=0, throttle_backoff_seconds=0.05):
        workspace.write()
        done = workspace.cli("-vv", "harvest")
        assert done.code == 0, done.err
        assert "waiting until" in done.err and all(c.status != 429 for c in server.api_calls())  # waited first
        assert set(server.truth()) <= set(items(workspace, "city-masto"))
        server.budget = None
        set_token("revoked-token-0000")
        bad = workspace.cli("-vv", "harvest")
        assert bad.code == 1 and "revoked or expired" in bad.err
        assert account_row(workspace, "city-masto").status == "disconnected"
    assert_never_recorded(workspace, [TOKEN, "revoked-token-0000"],
                          refused.err + done.out + done.err + bad.err + caplog.text)
