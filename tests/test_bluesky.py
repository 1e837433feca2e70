"""Bluesky accounts on the AppView: the handle resolved to its DID once (a handle change recorded
on the profile, the DID kept as the key), posts and reposts with the feed cursor, replies at any
depth with threadgate-hidden replies, images and cards as media, record updates as versions,
deletions only on a lookup's NotFound; the parser on the recorded payloads; throttling."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from conftest import FIXTURES, Workspace
from connectors.base import CapturedResponse, Headers, VersionState
from connectors.bluesky.fakeappview import FakeBluesky
from connectors.bluesky.parser import parse
from graph_helpers import items
from social_helpers import social_account, versions
from test_facebook_deletions import snapshot_with_metrics

URLS = json.loads((FIXTURES / "bluesky" / "urls.json").read_text())


def _response(body: bytes, url: str, status: int = 200, lookup: str | None = None) -> list[Any]:
    return parse(CapturedResponse(url, status, Headers([("Content-Type", "application/json")]), body,
                                  datetime.now(UTC), lookup=lookup))


def test_parser_on_recorded_payloads() -> None:
    name = "atproto_sdk_getPostThread_embed_media.json"
    [post] = _response((FIXTURES / "bluesky" / name).read_bytes(), URLS[name])
    assert post.platform_id == "at://did:plc:kvwvcn5iqfooopmyzvb4qzba/app.bsky.feed.post/3kaheyt6vpc22"
    assert post.author == "Python SDK (@test.marshal.dev)" and post.url == "https://bsky.app/profile/test.marshal.dev/post/3kaheyt6vpc22"
    assert post.media_urls and post.media_urls[0].startswith("https://cdn.bsky.app/img/feed_fullsize/")
    assert post.content["embed"]["record"]["record"]["uri"].endswith("3kahesw26il2z")  # the quoted post
    uri = "at://did:plc:x/app.bsky.feed.post/3k"
    [gone] = _response(b'{"thread":{"$type":"app.bsky.feed.defs#notFoundPost","uri":"%s","notFound":true}}'
                       % uri.encode(), "https://public.api.bsky.app/xrpc/app.bsky.feed.getPostThread", lookup=uri)
    assert gone.state is VersionState.DELETED
    [gone] = _response(b'{"error":"NotFound","message":"Post not found"}', "https://x/xrpc/app.bsky.feed.getPostThread",
                       400, lookup=uri)
    assert gone.state is VersionState.DELETED
    expired = (FIXTURES / "bluesky" / "source_derived_400_ExpiredToken.json").read_bytes()
    assert _response(expired, "https://x/xrpc/app.bsky.feed.getPostThread", 400, lookup=uri) == []  # says nothing
    # A record with a field the lexicon does not know is still a post.
    record = json.loads((FIXTURES / "bluesky" / "atproto_sdk_getRecord_post_extra_field.json").read_text())
    thread = {"thread": {"$type": "app.bsky.feed.defs#threadViewPost", "post": {
        "uri": record["uri"], "cid": record["cid"], "author": {"did": "did:plc:kvwvcn5iqfooopmyzvb4qzba",
                                                                "handle": "test.marshal.dev"},
        "record": record["value"], "indexedAt": "2024-02-22T19:58:14.000Z"}}}
    [extra] = _response(json.dumps(thread).encode(), f"https://x/xrpc/app.bsky.feed.getPostThread?uri={record['uri']}")
    assert extra.text == record["value"]["text"] and extra.posted_at is not None


def test_a_bluesky_account_is_harvested_completely(workspace: Workspace) -> None:
    server = FakeBluesky.synthetic(posts=60, replies=400, seed=3)
    with server, social_account(workspace, "bluesky", server.handle, server.base_url, "city-bsky", token=None,
                                page_size=9):
        result = workspace.cli("harvest")
        assert result.code == 0, result.err
        found = items(workspace, "city-bsky")
        truth = server.truth()
        assert set(truth) <= set(found) and len(found) == len(truth) + 1  # + the profile (the DID)
        assert found[server.did][0] == "profile"
        hidden = {u for t in server.threads.values() for u in t.hidden}
        assert hidden and {pid for pid, (_, state, _, _) in found.items() if state == "hidden"} == hidden
        replies = [r for t in server.threads.values() for r in t.replies]
        assert all(found[r.uri][2] == r.parent for r in replies)
        assert any(found[r.uri][0] == "reply" for r in replies)
        assert len(server.api_calls("resolveHandle")) == 1
        # A handle change, an update, a hide, an unhide, a deleted post and a deleted reply.
        old_handle, server.handle = server.handle, "springfield-city.example.gov"
        edited = replies[0]
        server.update(edited.uri, "edited reply text")
        fresh_hide = next(r for r in replies[1:] if r.uri not in hidden and r.root != edited.root)
        server.hide(fresh_hide.uri)
        unhidden = next(iter(hidden))
        server.hide(unhidden, False)
        gone_reply = next(r for r in replies if r.uri not in (edited.uri, fresh_hide.uri, unhidden)
                          and not any(x.parent == r.uri for x in replies))
        server.delete(gone_reply.uri)
        touched = {server.by_uri[u].root for u in (edited.uri, fresh_hide.uri, unhidden)} | {gone_reply.root}
        doomed = next(p for p in server.posts if p.repost_of is None and p.uri not in touched)
        server.delete(doomed.uri)
        again = workspace.cli("harvest", "--json")
        assert again.code == 0, again.err
        assert len(server.api_calls("resolveHandle")) == 1  # the DID is kept, the handle not asked again
        assert again.json()[0]["new_versions"] == 6  # profile, update, hide, unhide, two deletions
        found = items(workspace, "city-bsky")
        assert found[doomed.uri][1] == "deleted" and found[gone_reply.uri][1] == "deleted"
        assert found[fresh_hide.uri][1] == "hidden" and found[unhidden][1] == "visible"
        assert [s for s, _ in versions(workspace, edited.uri)] == ["visible", "edited"]
        handles = [content["handle"] for _, content in versions(workspace, server.did)]
        assert handles == [old_handle, server.handle]
    before = snapshot_with_metrics(workspace)
    assert workspace.cli("reindex").code == 0
    assert snapshot_with_metrics(workspace) == before


def test_rate_limits_are_waited_out_and_outages_keep_what_was_captured(workspace: Workspace) -> None:
    server = FakeBluesky.synthetic(posts=20, replies=60, seed=5)
    with server, social_account(workspace, "bluesky", server.did, server.base_url, "city-bsky", token=None,
                                page_size=10, rate_limit_reserve=0, throttle_backoff_seconds=0.05):
        server.budget, server.window_seconds = 8, 0.5
        done = workspace.cli("harvest")
        assert done.code == 0, done.err and "waiting until" in done.err
        assert set(server.truth()) <= set(items(workspace, "city-bsky"))
        server.budget = None
        before = items(workspace, "city-bsky")
        server.status = 502
        down = workspace.cli("harvest")
        assert down.code == 1 and "HTTP 502" in down.err
        assert items(workspace, "city-bsky") == before  # nothing lost, nothing marked deleted
        spans = workspace.cli("coverage", "city-bsky", "--json").json()["spans"]
        assert spans[-1]["causes"][0]["cause"] == "outage"
