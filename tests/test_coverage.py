"""Coverage statements: complete spans, gaps with causes, filled or not."""

from __future__ import annotations

from datetime import datetime, timedelta

from archiver.coverage import coverage, expected_interval
from conftest import Workspace
from connectors.rss.fakeserver import FakeFeed, FakeFeedServer


def statement(workspace: Workspace, **kwargs: object) -> dict:
    db = workspace.index()
    with db.session() as session:
        result = coverage(session, "news", "1h", **kwargs)
    db.dispose()
    return result


def test_outage_gap_is_filled_by_the_next_complete_harvest(workspace: Workspace,
                                                           feed_server: FakeFeedServer) -> None:
    feed = feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=5))
    workspace.capture.update(media=False, retries=0)
    workspace.account("news", feed_server.url("/feeds/news.atom"))
    assert workspace.cli("harvest").code == 0
    assert workspace.cli("harvest").code == 0
    assert workspace.cli("coverage", "news", "--json").json()["verdict"] == "complete"
    feed.status = 503
    assert workspace.cli("harvest").code == 1
    assert workspace.cli("harvest").code == 1
    feed.status = None
    new = feed.add_new(1)[0]
    assert workspace.cli("harvest").code == 0
    result = workspace.cli("coverage", "news", "--json").json()
    assert result["verdict"] == "complete; delayed during gaps that were later filled" and result["complete"]
    [gap] = [s for s in result["spans"] if s["state"] == "gap"]
    assert [c["cause"] for c in gap["causes"]] == ["outage"] and gap["failed_harvests"] == 2
    assert gap["filled_at"] and not gap["may_be_missing"]
    assert workspace.cli("show", f"news:{new.id}").code == 0  # the gap's new entry was captured
    text = workspace.cli("coverage", "news").out
    assert "gap" in text and "the platform did not answer (errors, timeouts)" in text and "filled at" in text


def test_a_feed_window_that_no_longer_reaches_back_leaves_an_open_gap(workspace: Workspace,
                                                                       feed_server: FakeFeedServer) -> None:
    feed = FakeFeed.synthetic(entries=10)
    feed.window = 3
    feed_server.add_feed("/feeds/news.atom", feed)
    workspace.capture["media"] = False
    workspace.account("news", feed_server.url("/feeds/news.atom"))
    assert workspace.cli("harvest").code == 0
    feed.add_new(5)  # five new posts, but the feed shows three: two went by unseen
    assert workspace.cli("harvest").code == 0
    result = workspace.cli("coverage", "news", "--json").json()
    assert not result["complete"] and result["verdict"].startswith("incomplete")
    [gap] = [s for s in result["spans"] if s["state"] == "gap"]
    assert "window" in [c["cause"] for c in gap["causes"]] and gap["may_be_missing"]


def test_no_harvest_for_too_long_is_an_open_gap(workspace: Workspace, feed_server: FakeFeedServer) -> None:
    feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=2))
    workspace.capture["media"] = False
    workspace.account("news", feed_server.url("/feeds/news.atom"))
    assert workspace.cli("harvest").code == 0
    first = statement(workspace)
    later = statement(workspace, now=datetime.fromisoformat(first["to"]) + timedelta(hours=5))
    assert later["spans"][-1]["state"] == "gap" and later["spans"][-1]["causes"][0]["cause"] == "idle"
    assert later["spans"][-1]["may_be_missing"] and not later["complete"]
    assert expected_interval("*/15 * * * *") == timedelta(minutes=15)
    assert expected_interval("0 9 * * 1-5") == timedelta(days=3)  # Friday 09:00 to Monday 09:00
