"""Reindex never rewrites history: after really killed harvests (SIGKILL mid-listing, SIGTERM, a
harvest whose storage failed after its summary was written), every harvest keeps its status,
counts and times, and ``coverage`` says the same before and after ``reindex`` — and after a
rebuild of a lost index from the WARCs alone."""

from __future__ import annotations

import doctest
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

import archiver.summary
from archiver.index.models import Harvest
from archiver.simulate.platforms import CityNewsFeed
from archiver.simulate.run import Simulation
from archiver.simulate.scenario import Rates, scenario
from conftest import ROOT, Workspace
from connectors.rss.fakeserver import FakeFeed, FakeFeedServer

UNTIL = "2100-01-01"


def _harvests(workspace: Workspace) -> list[tuple[Any, ...]]:
    db = workspace.index()
    with db.session() as session:
        rows = [(h.uid, h.status, h.complete, h.cause, h.error, h.pages, h.observations, h.new_versions,
                 h.started_at, h.finished_at, str(h.cursor_after)) for h in
                session.scalars(select(Harvest).order_by(Harvest.started_at))]
    db.dispose()
    return rows


def _coverage(workspace: Workspace, account: str) -> dict[str, Any]:
    result = workspace.cli("coverage", account, "--until", UNTIL, "--json")
    assert result.code == 0, result.err
    statement = result.json()
    now = statement.pop("to")  # the statement ends now (when it is asked), whatever --until says
    for span in statement["spans"]:
        span["to"] = "now" if span["to"] == now else span["to"]
    return statement


def _record(workspace: Workspace) -> dict[str, Any]:
    accounts = workspace.cli("accounts", "--json")
    assert accounts.code == 0
    return {"harvests": _harvests(workspace), "coverage": _coverage(workspace, "news"), "accounts": accounts.json()}


def _killed(workspace: Workspace, feed_server: FakeFeedServer, signum: int) -> int:
    """Run ``archiver harvest`` in a process of its own and send it ``signum`` mid-listing."""
    before = len(feed_server.requests_for("/feeds/news.atom"))
    process = subprocess.Popen([sys.executable, "-m", "archiver", "--config", str(workspace.config_path), "harvest"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=os.environ | {"PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 60
    while len(feed_server.requests_for("/feeds/news.atom")) < before + 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signum)
    return process.wait(timeout=60)


def test_killed_harvests_keep_their_history_through_reindex(workspace: Workspace,
                                                            feed_server: FakeFeedServer) -> None:
    feed = feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=200, page_size=10))
    workspace.capture["media"] = False
    workspace.account("news", feed_server.url("/feeds/news.atom"), recheck_window="36500d")  # every page, each time
    workspace.write()
    assert workspace.cli("harvest").code == 0

    feed.delay_seconds = 0.1
    feed.edit(0, title="Changed before the first kill")
    _killed(workspace, feed_server, signal.SIGKILL)  # no chance to seal or summarize anything
    assert any(p.name.endswith(".open") for p in workspace.spool_files())
    feed.edit(1, title="Changed before the stop")
    assert _killed(workspace, feed_server, signal.SIGTERM) == 1  # seals, summarizes, stores what it has

    # Storage fails after the summary was written: the harvest's WARCs wait in the spool.
    feed.delay_seconds = 0
    feed.edit(2, title="Changed before storage failed")
    [month] = {p.parent for p in workspace.stored_warcs()}
    shutil.move(month, month.with_name("away"))
    month.write_text("not a folder")
    result = workspace.cli("harvest")
    assert result.code == 1 and "stay in the spool" in result.err
    month.unlink()
    shutil.move(month.with_name("away"), month)
    feed.edit(3, title="Changed before the last harvest")
    assert workspace.cli("harvest").code == 0  # recovers the harvest that waited for storage, then runs

    before = _record(workspace)
    statuses = [row[1] for row in before["harvests"]]
    assert statuses == ["succeeded", "interrupted", "interrupted", "succeeded", "succeeded"]
    assert [row[2] for row in before["harvests"]] == [True, False, False, True, True]
    # The harvest whose process died after its summary: finished when the summary says, its counts kept.
    waited = before["harvests"][3]
    assert waited[6] > 0 and waited[9] is not None and waited[9] < before["harvests"][4][8]
    assert before["harvests"][2][3] == "stopped" and before["harvests"][1][4].startswith("the process stopped")
    assert before["coverage"]["harvests"] == 5 and before["coverage"]["complete_harvests"] == 3

    assert workspace.cli("reindex").code == 0
    assert _record(workspace) == before

    # A lost index, rebuilt from the WARCs alone, tells the same history — all but the index's own
    # note that storage failed for a while (the WARCs were written before it did).
    (workspace.root / "data" / "index.sqlite").unlink()
    for suffix in ("-wal", "-shm"):
        Path(f"{workspace.root / 'data' / 'index.sqlite'}{suffix}").unlink(missing_ok=True)
    assert workspace.cli("reindex").code == 0
    assert "stored and indexed by recovery" in before["harvests"][3][4]
    before["harvests"][3] = (*before["harvests"][3][:4], None, *before["harvests"][3][5:])
    assert _record(workspace) == before


def test_a_simulated_city_with_faults_has_the_same_coverage_after_reindex(tmp_path: Path) -> None:
    plan = scenario(5, 1.0, Rates(posts=6, edits=3, post_deletions=1), kinds=CityNewsFeed.kinds,
                    faults=("5xx", "truncated", "token"))
    [report] = Simulation(tmp_path, [CityNewsFeed(seed=5, history=10)], plan).run()
    assert report.failed_harvests > 0  # the faults really happened
    workspace = Workspace(tmp_path)
    [account] = workspace.config.accounts
    before = _coverage(workspace, account.name)
    assert any(span["state"] == "gap" for span in before["spans"])
    assert workspace.cli("reindex").code == 0
    assert _coverage(workspace, account.name) == before


def test_a_harvest_begins_when_its_uid_says() -> None:
    result = doctest.testmod(archiver.summary)
    assert result.attempted > 0 and result.failed == 0
