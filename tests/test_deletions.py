"""Deletions are recorded only when the platform confirms them; absence alone is a suspicion."""

from __future__ import annotations

from conftest import Workspace
from connectors.rss.fakeserver import FakeFeed, FakeFeedServer
from test_reindex import snapshot


def setup(workspace: Workspace, server: FakeFeedServer, feed: FakeFeed) -> None:
    server.add_feed("/feeds/news.atom", feed)
    workspace.capture.update(media=False, retries=1, timeout_seconds=2)
    workspace.account("news", server.url("/feeds/news.atom"), recheck_window="36500d")


def test_a_removed_entry_is_deleted_after_its_own_page_says_so(workspace: Workspace,
                                                              feed_server: FakeFeedServer) -> None:
    feed = FakeFeed.synthetic(entries=8)
    setup(workspace, feed_server, feed)
    assert workspace.cli("harvest").code == 0
    gone = feed.remove(3)
    result = workspace.cli("harvest")
    assert result.code == 0, result.err
    lookups = feed_server.requests_for(f"/posts/{feed.prefix}/{gone.key}")
    assert len(lookups) == 1  # one direct lookup, of the missing entry only
    history = workspace.cli("show", f"news:{gone.id}", "--json").json()
    assert [v["state"] for v in history["versions"]] == ["visible", "deleted"]
    deleted = history["versions"][1]
    assert deleted["content"]["gone"].startswith("HTTP 404")
    assert deleted["previous_last_observed_at"] == history["versions"][0]["last_observed_at"]
    assert deleted["first_evidence"]["status"] == 404  # the platform's answer is the evidence
    assert history["url"] and history["posted_at"]  # what earlier versions said is kept
    found = workspace.cli("search", "--state", "deleted", "--json").json()
    assert [hit["platform_id"] for hit in found["items"]] == [gone.id]
    counts = workspace.cli("search", "--counts", "--state", "deleted", "--json").json()
    assert [(c["account"], c["state"], c["versions"]) for c in counts] == [("news", "deleted", 1)]
    # The WARC says which item the lookup was for, so reindex gives the same history.
    before = snapshot(workspace)
    assert workspace.cli("reindex").code == 0
    assert snapshot(workspace) == before


def test_entries_leaving_a_feed_window_are_looked_up_once_and_kept(workspace: Workspace,
                                                                   feed_server: FakeFeedServer) -> None:
    feed = FakeFeed.synthetic(entries=20)
    feed.window = 5  # like YouTube's channel feed: only the newest few
    setup(workspace, feed_server, feed)
    assert workspace.cli("harvest").code == 0
    dropped = feed.entries[3:5]
    feed.add_new(2)  # two older entries drop out of the window; their pages still exist
    assert workspace.cli("harvest").code == 0
    looked_up = sorted(r.path for r in feed_server.requests_seen if r.path.startswith("/posts/"))
    assert looked_up == sorted(f"/posts/{feed.prefix}/{e.key}" for e in dropped)
    feed.add_new(1)
    assert workspace.cli("harvest").code == 0  # one more drops out; the first two are not asked again
    assert sum(1 for r in feed_server.requests_seen if r.path.startswith("/posts/")) == 3
    assert workspace.cli("search", "--state", "deleted", "--json").json()["total"] == 0


def test_a_failed_listing_or_lookup_never_deletes(workspace: Workspace, feed_server: FakeFeedServer) -> None:
    feed = FakeFeed.synthetic(entries=6)
    setup(workspace, feed_server, feed)
    assert workspace.cli("harvest").code == 0
    gone = feed.remove(0)
    feed.status = 500  # the listing fails: nothing may be concluded from it
    assert workspace.cli("harvest").code == 1
    assert not feed_server.requests_for(f"/posts/{feed.prefix}/{gone.key}")
    feed.status = None  # now the listing works, but the post's own page cannot answer
    feed.post_faults[gone.key] = 503
    result = workspace.cli("harvest")
    assert result.code == 0, result.err
    assert len(feed_server.requests_for(f"/posts/{feed.prefix}/{gone.key}")) == 2  # tried, and retried once
    assert workspace.cli("search", "--state", "deleted", "--json").json()["total"] == 0
    # The unanswered lookup is asked again next time; now the page says it is gone.
    del feed.post_faults[gone.key]
    feed.add_new(1)
    assert workspace.cli("harvest").code == 0
    assert len(feed_server.requests_for(f"/posts/{feed.prefix}/{gone.key}")) == 3
    found = workspace.cli("search", "--state", "deleted", "--json").json()
    assert [hit["platform_id"] for hit in found["items"]] == [gone.id]
