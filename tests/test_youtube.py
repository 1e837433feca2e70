"""YouTube end to end against the fake Data API: a large channel harvested completely (videos,
threads, replies beyond the embedded five, held comments, edits), deletions only on an empty
lookup, private videos unavailable, the same index after reindex; units planned and never exceeded."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from archiver.index.models import Harvest
from conftest import Workspace
from connectors.youtube.fakechannel import EMBEDDED_REPLIES, FakeChannel
from test_reindex import snapshot
from test_x import latest
from xyt_helpers import (
    API_KEY,
    OWNER_TOKEN,
    REFRESH,
    all_bytes,
    index_in_memory,  # noqa: F401 - a fixture
    indexed,
    youtube_account,
)


@pytest.mark.usefixtures("index_in_memory")
def test_a_large_channel_is_harvested_completely_with_deletions_and_reindex(workspace: Workspace) -> None:
    channel = FakeChannel.synthetic(videos=500, comments=20000, seed=5)
    workspace.capture["media"] = False  # thumbnails are tested on a small channel
    with youtube_account(workspace, channel, owner=True, schedule="1d") as server:
        result = workspace.cli("harvest", "--json")
        assert result.code == 0, result.err
        assert result.json()[0]["status"] == "succeeded"
        found = latest(workspace, "city-yt")
        kinds = indexed(workspace, "city-yt")
        public = [v for v in channel.videos if v.privacy != "private"]
        comments = channel.live_comments()
        assert len(comments) == 20000
        assert sum(1 for k, *_ in kinds.values() if k == "post") == len(public)
        assert {c.id for c in comments} <= set(kinds)
        assert sum(1 for k, *_ in kinds.values() if k in ("comment", "reply")) == 20000
        assert any(len(t.replies) > EMBEDDED_REPLIES for v in channel.videos for t in v.threads)
        assert {c.id: kinds[c.id][2] for c in comments} == {c.id: c.parent_id or c.video_id for c in comments}
        held = {c.id for c in comments if c.held}
        assert held and {pid for pid, (state, *_) in found.items() if state == "hidden"} == held
        edited = [c for c in comments if c.updated != c.published and not c.held]
        assert edited and all(found[c.id][2]["textOriginal"] == c.text for c in edited)
        budget = workspace.cli("accounts", "--json").json()[0]["budget"]
        assert budget["used"] == server.units and budget["unit"] == "units"

        # Along the way: a recent video deleted (its comments go with it), one made private,
        # comments deleted by their authors.
        recent = channel.videos[:5]
        recent[0].deleted = True
        recent[1].privacy = "private"
        gone = [t for t in recent[2].threads[:3]] + [r for t in recent[3].threads for r in t.replies][:2]
        for comment in gone:
            comment.deleted = True
        result = workspace.cli("harvest", "--json")
        assert result.json()[0]["status"] == "succeeded", result.err
    after = latest(workspace, "city-yt")
    deleted = {pid for pid, (state, *_) in after.items() if state == "deleted"}
    cascade = {c.id for t in recent[0].threads for c in [t, *t.replies]}
    gone_ids = {c.id for c in gone} | {r.id for c in gone for r in c.replies}
    assert deleted == {recent[0].id} | cascade | gone_ids  # and nothing else
    assert after[recent[1].id][0] == "unavailable"
    before = snapshot(workspace)
    assert workspace.cli("reindex").code == 0
    again = snapshot(workspace)
    assert again["items"] == before["items"] and again["versions"] == before["versions"]


def test_a_budget_below_one_harvest_is_never_exceeded_and_says_why(workspace: Workspace) -> None:
    channel = FakeChannel.synthetic(videos=30, comments=400, seed=2, days=20)
    with youtube_account(workspace, channel, daily_units=12) as server:
        result = workspace.cli("harvest", "--json")
        assert result.json()[0]["status"] == "failed"
        assert server.units == 12  # not one more
        rows = workspace.cli("accounts", "--json").json()
        assert rows[0]["status"] == "waiting" and "budget" in rows[0]["status_reason"]
        assert rows[0]["budget"]["remaining"] == 0
        assert len(indexed(workspace, "city-yt")) > 1  # what was captured is kept
        assert workspace.cli("harvest").code != 0 and server.units == 12  # no call without budget
    db = workspace.index()
    with db.session() as session:
        runs = session.scalars(select(Harvest)).all()
        assert all(h.cause == "quota" and not h.complete for h in runs)
    db.dispose()


def test_quota_exceeded_stops_until_midnight_pacific_and_the_sweep_is_spread(workspace: Workspace) -> None:
    channel = FakeChannel.synthetic(videos=40, comments=300, seed=3, days=300)
    with youtube_account(workspace, channel, daily_units=2000) as server:
        server.daily_units = 5  # Google's count runs out first: 403 quotaExceeded
        result = workspace.cli("harvest", "--json")
        assert result.out, result.err
        assert result.json()[0]["status"] == "failed" and "quotaExceeded" in result.json()[0]["error"]
        budget = workspace.cli("accounts", "--json").json()[0]["budget"]
        assert budget["exhausted_until"] and budget["exhausted_until"].endswith(("07:00:00+00:00", "08:00:00+00:00"))
        calls = server.units
        workspace.cli("harvest")
        assert server.units == calls  # waits for the reset without spending
    db = workspace.index()
    from archiver.quota import QuotaUsage

    with db.session() as session:  # the reset came (a new day)
        for row in session.scalars(select(QuotaUsage)):
            row.exhausted_until = None
    db.dispose()
    with youtube_account(workspace, channel, name="city-yt-2", daily_units=2000) as server:
        workspace.write()
        outcomes = []
        for _ in range(40):
            outcome = workspace.cli("harvest", "city-yt-2", "--json").json()[0]
            outcomes.append(outcome["status"])
            kinds = indexed(workspace, "city-yt-2")
            if {c.id for c in channel.live_comments(False)} <= set(kinds):
                break
        assert set(outcomes) == {"succeeded"}
        assert {c.id for c in channel.live_comments(False)} <= set(kinds)


def test_no_credential_in_any_warc_index_or_log(workspace: Workspace) -> None:
    channel = FakeChannel.synthetic(videos=6, comments=40, seed=4, days=10)
    with youtube_account(workspace, channel) as server:
        result = workspace.cli("harvest")
        assert result.code == 0, result.err
        assert all(c.query.get("key") == API_KEY for c in server.api_calls("/youtube/v3/"))
        assert server.api_calls("/media/")  # thumbnails are media in the WARC
    everything = all_bytes(workspace) + result.out.encode() + result.err.encode()
    assert API_KEY.encode() not in everything and OWNER_TOKEN.encode() not in everything
    assert b"key=REDACTED" in everything


def test_an_expired_owner_token_is_refreshed_and_no_credential_is_kept(workspace: Workspace) -> None:
    channel = FakeChannel.synthetic(videos=5, comments=60, seed=6, days=10)
    held = next(c for c in channel.comments.values() if not c.parent_id)
    held.held = True
    with youtube_account(workspace, channel, owner=True, refresh_token_env="TEST_YT_REFRESH",
                         client_id_env="TEST_YT_CLIENT", client_secret_env="TEST_YT_CLIENT_SECRET") as server:
        server.expired_tokens.add(OWNER_TOKEN)
        result = workspace.cli("harvest", "--json")
        assert result.json()[0]["status"] == "succeeded", result.err
        assert len(server.issued) == 1 and server.api_calls("/token")
        new_token = server.issued[0]
    assert indexed(workspace, "city-yt")[held.id][1] == "hidden"  # held for review, seen with the owner's token
    everything = all_bytes(workspace) + result.out.encode() + result.err.encode()
    for secret in (new_token, OWNER_TOKEN, *REFRESH[::2]):
        assert secret.encode() not in everything, secret
    assert b'"access_token":"REDACTED"' in everything


def test_a_refused_refresh_token_disconnects_the_account(workspace: Workspace) -> None:
    channel = FakeChannel.synthetic(videos=3, comments=10, seed=7, days=10)
    with youtube_account(workspace, channel, owner=True, refresh_token_env="TEST_YT_REFRESH",
                         client_id_env="TEST_YT_CLIENT", client_secret_env="TEST_YT_CLIENT_SECRET") as server:
        server.expired_tokens.add(OWNER_TOKEN)
        server.refresh_grants.clear()
        outcome = workspace.cli("harvest", "--json").json()[0]
        assert outcome["status"] == "failed" and "refresh token was refused" in outcome["error"]
    assert workspace.cli("accounts", "--json").json()[0]["status"] == "disconnected"
