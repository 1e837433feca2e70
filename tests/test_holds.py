"""The legal hold register: create, list, show, release; later captures that match join the hold."""

from __future__ import annotations

from conftest import Workspace
from connectors.rss.fakeserver import FakeFeed, FakeFeedServer
from test_disposition import AS_OF, SERIES, entry_id


def test_a_hold_freezes_matches_and_later_captures_until_released(workspace: Workspace,
                                                                  feed_server: FakeFeedServer) -> None:
    feed = feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=30))
    workspace.capture["media"] = False
    workspace.account("news", feed_server.url("/feeds/news.atom"), retention="NEWS-1Y")
    workspace.write(SERIES.format(action="destroy"))
    assert workspace.cli("harvest").code == 0
    matching = workspace.cli("search", "Library", "--json").json()["total"]
    created = workspace.cli("hold", "create", "--matter", "Roe v. City", "--account", "news", "--query", "Library")
    assert created.code == 0 and f"{matching} item(s) frozen" in created.out

    new = feed.add_new(25)  # some of them are about the library too
    assert workspace.cli("harvest").code == 0
    now_matching = workspace.cli("search", "Library", "--json").json()["total"]
    assert now_matching > matching
    shown = workspace.cli("hold", "show", "1", "--json").json()
    assert shown["items"] == now_matching and shown["state"] == "active"
    library = {f"news:{e.id}" for e in new if "Library" in e.title}
    assert library and library <= set(shown["members"])
    assert shown["objects"] and all(not o["store_legal_hold"] for o in shown["objects"])  # a folder has none

    # Nothing held is ever planned for disposal, even when due.
    plan = workspace.cli("retention", "plan", "--as-of", AS_OF, "--json").json()
    held = set(shown["members"])
    assert not any(f"news:{item}" in held for item in _planned(workspace, plan["id"]))
    assert any(d["reason"] == "under a legal hold" for d in plan["deferred"])

    listed = workspace.cli("hold", "list", "--json").json()
    assert [(h["id"], h["matter"], h["state"]) for h in listed] == [(1, "Roe v. City", "active")]
    assert workspace.cli("hold", "release", "1", "--reason", "").code == 1
    released = workspace.cli("hold", "release", "1", "--reason", "case dismissed with prejudice")
    assert released.code == 0
    again = workspace.cli("hold", "release", "1", "--reason", "twice")
    assert again.code == 1 and "already released" in again.err
    after = workspace.cli("hold", "show", "1", "--json").json()
    assert after["state"] == "released" and after["release_reason"] == "case dismissed with prejudice"
    feed.add_new(3)
    assert workspace.cli("harvest").code == 0
    assert workspace.cli("hold", "show", "1", "--json").json()["items"] == now_matching  # no longer grows


def _planned(workspace: Workspace, plan: str) -> list[str]:
    db = workspace.index()
    from sqlalchemy import select

    from archiver.retention.models import PlanItem, RetentionPlan

    with db.session() as session:
        plan_row = session.scalar(select(RetentionPlan).where(RetentionPlan.uid == plan))
        items = list(session.scalars(select(PlanItem.platform_id).where(PlanItem.plan_id == plan_row.id)))
    db.dispose()
    return items


def test_bad_hold_requests_are_one_line(workspace: Workspace, feed_server: FakeFeedServer) -> None:
    feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=3))
    workspace.capture["media"] = False
    workspace.account("news", feed_server.url("/feeds/news.atom"))
    assert workspace.cli("harvest").code == 0
    for args, message in ((["--matter", "X"], "needs at least one of"),
                          (["--matter", "X", "--account", "nope"], "no account named 'nope'"),
                          (["--matter", "X", "--item", "news:missing"], "no item"),
                          (["--matter", " ", "--account", "news"], "--matter must name")):
        result = workspace.cli("hold", "create", *args)
        assert result.code == 1 and message in result.err and result.err.count("\n") == 1, result.err
    assert workspace.cli("hold", "show", "7").code == 1
    one = workspace.cli("hold", "create", "--matter", "X", "--item", f"news:{entry_id(2)}")
    assert one.code == 0 and "1 item(s) frozen" in one.out
    assert workspace.cli("hold", "show", "1", "--json").json()["members"] == [f"news:{entry_id(2)}"]
