"""Facebook Pages end to end against the fake Graph API: a large Page harvested completely,
threads and hidden flags right, media bytes in the WARC, counts as metrics, paging of both kinds."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from archiver.index.models import Account, Evidence
from conftest import Workspace
from connectors.facebook.fakepage import FakePage, FakePost
from graph_helpers import graph_account, items


def test_a_large_page_is_harvested_completely(workspace: Workspace) -> None:
    page = FakePage.synthetic(posts=1000, comments=20000, seed=7)
    truth = page.counts()
    with graph_account(workspace, page, account_id=page.page_id) as server:
        result = workspace.cli("harvest", "--json")
        assert result.code == 0, result.err
        [outcome] = result.json()
        assert outcome["status"] == "succeeded"
        calls = len(server.api_calls())
    found = items(workspace)
    kinds = [kind for kind, *_ in found.values()]
    assert kinds.count("profile") == 1
    assert kinds.count("post") == truth["posts"] == 1000
    assert kinds.count("comment") == truth["comments"]
    assert kinds.count("reply") == truth["replies"]
    assert kinds.count("comment") + kinds.count("reply") == 20000
    # Threads rebuild: every comment and reply hangs under the parent the platform gave it.
    expected = {c.id: c.parent_id or c.post_id for p in page.posts for c in p.comments}
    assert {pid: parent for pid, (_, _, parent, _) in found.items() if pid in expected} == expected
    assert max(_depth(page, c.id) for p in page.posts for c in p.comments) >= 4  # nested, not only one level
    hidden = {c.id for p in page.posts for c in p.comments if c.hidden}
    assert {pid for pid, (_, state, _, _) in found.items() if state == "hidden"} == hidden
    assert len(hidden) == truth["hidden"]
    visitors = {p.id for p in page.posts if p.visitor}
    assert visitors and visitors <= set(found)
    # Counts are metrics on the item, not content.
    post = page.posts[3]
    assert found[post.id][3]["reactions"] == post.reactions and found[post.id][3]["comments"] == len(post.comments)
    # Every photo's bytes are in the WARC, under the URL the API gave.
    db = workspace.index()
    with db.session() as session:
        stored = {row.target_uri.split("/media/")[1].split("?")[0]: row.payload_sha256 for row in session.execute(
            select(Evidence.target_uri, Evidence.payload_sha256).where(Evidence.target_uri.contains("/media/")))}
        cursor = session.scalar(select(Account.cursor).where(Account.name == "city-fb"))
    db.dispose()
    photos = {p.photo for p in page.posts if p.photo} | {c.photo for p in page.posts for c in p.comments if c.photo}
    assert {name: stored.get(name) for name in photos} == {
        name: hashlib.sha256(page.media_file(name) or b"").hexdigest() for name in photos}
    assert cursor and cursor["newest"] and cursor["full_sweep_at"]
    # API calls: the profile, 10 feed pages of 100 posts (each with its first 100 comments), and
    # one more page per hundred comments beyond that.
    floor = 1 + 10 + sum(max(0, -(-len(p.comments) // 100) - 1) for p in page.posts)
    assert calls == floor
    # ``show`` prints a post with its whole thread.
    busiest = max(page.posts, key=lambda p: len(p.comments))
    shown = workspace.cli("show", f"city-fb:{busiest.id}")
    assert shown.code == 0 and f"thread: {len(busiest.comments)} comment(s) and replies" in shown.out
    assert "[hidden]" in shown.out and "counts as last observed" in shown.out


def _depth(page: FakePage, comment_id: str) -> int:
    depth, comment = 1, page.comment_by_id[comment_id]
    while comment.parent_id:
        depth, comment = depth + 1, page.comment_by_id[comment.parent_id]
    return depth


def test_counts_change_without_new_versions_and_edits_hides_make_them(workspace: Workspace) -> None:
    page = FakePage.synthetic(posts=30, comments=300, seed=3)
    with graph_account(workspace, page, account_id=page.page_id, page_size=25):
        assert workspace.cli("harvest").code == 0
        post, second = [p for p in page.posts if p.comments][:2]
        post.reactions += 50
        page.fans += 10
        assert workspace.cli("harvest", "--json").json()[0]["new_versions"] == 0
        assert items(workspace)[post.id][3]["reactions"] == post.reactions
        comment = post.comments[0]
        comment.message = "edited by its author"
        comment.hidden = True
        other = second.comments[0]
        other.message = "corrected"
        result = workspace.cli("harvest", "--json").json()[0]
        assert result["new_versions"] == 2
    history = workspace.cli("show", f"city-fb:{comment.id}", "--json").json()
    assert [v["state"] for v in history["versions"]] == ["visible", "hidden"]
    assert history["versions"][1]["content"]["message"] == "edited by its author"
    edited = workspace.cli("show", f"city-fb:{other.id}", "--json").json()
    assert [v["state"] for v in edited["versions"]] == ["visible", "edited"]


def test_time_paging_and_comments_without_ids(workspace: Workspace) -> None:
    """Time-based paging (``until``/``__paging_token``) is followed like cursors; without the Page's
    MODERATE task comments come without ids, which are derived from permalink_url and say so."""
    page = FakePage.synthetic(posts=60, comments=400, seed=5)
    page.time_paging, page.moderator = True, False
    with graph_account(workspace, page, account_id=page.page_id, page_size=20) as server:
        assert workspace.cli("harvest").code == 0
        assert any("__paging_token" in c.query.get("fields", "") or "until" in c.query for c in server.api_calls())
    found = items(workspace)
    assert sum(1 for kind, *_ in found.values() if kind == "post") == 60
    comments = {c.id: c for p in page.posts for c in p.comments}
    assert set(comments) <= set(found)  # every derived id is the real one
    top_level = [c for c in comments.values() if c.parent_id is None]
    assert all(found[c.id][2] == c.post_id for c in top_level)
    shown = workspace.cli("show", f"city-fb:{top_level[0].id}", "--json").json()
    assert "derived from permalink_url" in shown["versions"][0]["content"]["id_source"]


def test_an_idle_reharvest_makes_the_fewest_calls_graph_allows(workspace: Workspace) -> None:
    """Nothing changed: the profile, the feed back to the 30-day re-check window, and the further
    comment pages of the posts in it (Graph has no conditional request, and a comment's edit or hide
    leaves no trace on its post). A post from before the window keeps the comments embedded with it;
    the rest of its thread waits for the full sweep, unless it was commented on since."""
    page = FakePage.synthetic(posts=60, comments=200, seed=11)
    now = datetime.now(UTC)
    recent, old = page.posts[5], page.posts[45]  # 3.5 and 32 days old; old is on the feed page that crosses
    for post in (recent, old):
        for n in range(60):
            page.add_comment(post, post.created + timedelta(minutes=n + 1), f"reply {n}", ("5001", "Pat"))
    with graph_account(workspace, page, account_id=page.page_id, page_size=25) as server:
        assert workspace.cli("harvest").code == 0
        before = len(server.api_calls())
        assert workspace.cli("harvest", "--json").json()[0]["new_versions"] == 0
        idle = server.api_calls()[before:]
        window = now - timedelta(days=30)
        listed = page.posts[:50]  # two feed pages of 25: the second reaches back past the window

        def further(post: FakePost) -> int:  # comment pages beyond the first, which comes with the post
            return max(0, -(-len(post.comments) // 25) - 1)

        def changed(post: FakePost) -> datetime:  # its updated_time: created, or its newest comment
            return max([post.created, *(c.created for c in post.comments)])

        minimum = 1 + 2 + sum(further(p) for p in listed if changed(p) >= window)
        assert len(idle) == minimum
        assert not [c for c in idle if c.path.endswith(f"/{old.id}/comments")]
        assert len([c for c in idle if c.path.endswith(f"/{recent.id}/comments")]) == further(recent) == 2
        # A comment edited on a later page of a recent post is still caught,
        recent.comments[-1].message = "edited on page three"
        # and a new comment on the older post brings the rest of its thread with it.
        fresh = page.add_comment(old, now, "a new question", ("5002", "Sam"))
        result = workspace.cli("harvest", "--json").json()[0]
        assert result["new_versions"] == 2
    found = items(workspace)
    assert fresh.id in found and found[fresh.id][2] == old.id
    assert found[recent.comments[-1].id][1] == "edited"
