"""``archiver reindex`` rebuilds the same items, versions and evidence from the WARCs alone."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from archiver.index.models import Account, Evidence, Item, Version, WarcFile
from conftest import Workspace
from connectors.rss.fakeserver import FakeFeed, FakeFeedServer


def snapshot(workspace: Workspace) -> dict[str, Any]:
    """The index as a user sees it, without surrogate ids."""
    db = workspace.index()
    with db.session() as session:
        keys = {w.id: w.key for w in session.scalars(select(WarcFile))}
        evidence = {e.id: (keys[e.warc_file_id], e.offset) for e in session.scalars(select(Evidence))}
        items = {i.id: i.platform_id for i in session.scalars(select(Item))}
        result = {
            "items": sorted(
                (a.name, i.platform_id, i.kind, i.state, i.posted_at, i.url, i.author, i.version_count,
                 i.first_seen_at, i.last_seen_at)
                for i, a in session.execute(select(Item, Account).join(Account, Account.id == Item.account_id))
            ),
            "versions": sorted(
                (items[v.item_id], v.seq, v.content_hash, v.state, v.text, v.first_observed_at, v.last_observed_at,
                 evidence[v.first_evidence_id], evidence[v.last_evidence_id])
                for v in session.scalars(select(Version))
            ),
            "evidence": sorted(
                (keys[e.warc_file_id], e.offset, e.length, e.record_id, e.record_type, e.status, e.captured_at,
                 e.payload_sha256, e.payload_digest, e.block_digest, e.request_record_id, e.request_offset)
                for e in session.scalars(select(Evidence))
            ),
            "warcs": sorted((w.key, w.size, w.sha256, w.state) for w in session.scalars(select(WarcFile))),
            "cursors": sorted((a.name, str(a.cursor)) for a in session.scalars(select(Account))),
        }
    db.dispose()
    return result


def test_reindex_gives_the_same_index(workspace: Workspace, feed_server: FakeFeedServer, index_url: str) -> None:
    news = feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=60, page_size=25))
    notices = feed_server.add_feed("/feeds/notices.rss", FakeFeed.synthetic(entries=12, kind="rss", seed=3))
    workspace.database_url = index_url
    workspace.account("news", feed_server.url("/feeds/news.atom"))
    workspace.account("notices", feed_server.url("/feeds/notices.rss"))
    assert workspace.cli("harvest").code == 0
    news.edit(0, title="Edited headline")
    news.add_new(3)
    notices.remove(2)
    notices.edit(4, summary="<p>Corrected notice</p>")
    assert workspace.cli("harvest").code == 0
    news.edit(0, title="Edited headline, again")
    assert workspace.cli("harvest", "news").code == 0
    assert workspace.cli("harvest").code == 0  # unchanged: 304s

    before = snapshot(workspace)
    assert len(before["versions"]) > len(before["items"])  # the edits made versions
    assert any(record[4] == "revisit" for record in before["evidence"])
    result = workspace.cli("reindex")
    assert result.code == 0, result.err
    assert snapshot(workspace) == before
    # And search still works on the rebuilt full-text index.
    assert workspace.cli("search", "Corrected", "--json").json()["total"] == 1


def test_reindex_twice_is_stable_and_skips_foreign_files(workspace: Workspace, feed_server: FakeFeedServer) -> None:
    feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=5))
    workspace.capture["media"] = False
    workspace.account("news", feed_server.url("/feeds/news.atom"))
    assert workspace.cli("harvest").code == 0
    (workspace.root / "data" / "warcs" / "README.txt").write_text("not a WARC")
    first = workspace.cli("reindex")
    assert first.code == 0 and "reindexed 1 WARC file(s)" in first.out
    once = snapshot(workspace)
    assert workspace.cli("reindex").code == 0
    assert snapshot(workspace) == once
