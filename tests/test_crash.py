"""SIGKILL during harvests: a short run of the crash harness (bench/crash.py) over every combination
of platform, store and index, and the bugs such kills found, each killed at its exact point."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from archiver.index.models import Account, Harvest, Item
from conftest import ROOT, Workspace
from connectors.rss.fakeserver import FakeFeed, FakeFeedServer

CHILD = ROOT / "bench" / "crash_child.py"


def kill_at(workspace: Workspace, phase: str, hit: int) -> str:
    """Run ``archiver harvest`` in a child process and SIGKILL it at the ``hit``-th point of ``phase``."""
    config = workspace.write()
    marker = workspace.root / "marker"
    marker.unlink(missing_ok=True)
    child = subprocess.Popen([sys.executable, str(CHILD), str(marker), phase, str(hit), "--", "--config", str(config),
                              "harvest"], cwd=workspace.root, env=os.environ | {"PYTHONPATH": str(ROOT)},
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert child.poll() is None, f"the harvest ended (exit {child.returncode}) before point {hit} of {phase}"
    child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=10) == -signal.SIGKILL
    return marker.read_text(encoding="utf-8")


def feed_account(workspace: Workspace, server: FakeFeedServer, entries: int = 12) -> FakeFeed:
    feed = server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=entries, page_size=2))
    workspace.capture.update(media=False, warc_max_items=2)  # a file per page: stored and indexed as it goes
    workspace.account("news", server.url("/feeds/news.atom"), recheck_window="36500d")
    return feed


def state(workspace: Workspace) -> tuple[dict[str, object], list[tuple[str, str]], dict[str, str]]:
    """(the account's cursor, each harvest's (status, cursor_after as "set"/"none"), item → state)."""
    db = workspace.index()
    with db.session() as session:
        cursor = session.scalar(select(Account.cursor).where(Account.name == "news")) or {}
        harvests = [(status, "set" if after else "none") for status, after in session.execute(
            select(Harvest.status, Harvest.cursor_after).order_by(Harvest.started_at))]
        items = dict(session.execute(select(Item.platform_id, Item.state).where(Item.kind == "entry")).all())
    db.dispose()
    return cursor, harvests, items


def test_a_kill_before_the_first_record_keeps_the_cursor(workspace: Workspace, feed_server: FakeFeedServer) -> None:
    feed_account(workspace, feed_server)
    assert workspace.cli("harvest").code == 0
    cursor, _, _ = state(workspace)
    assert cursor.get("listed_at")
    # The file exists, empty: recovery cuts it back to nothing and indexes a file that names no account.
    assert kill_at(workspace, "capture", 1) == "archiver.capture.warc.WarcFileWriter.write_warcinfo:before"
    from archiver.recovery import Recovery
    from storage import open_storage

    db = workspace.index()
    Recovery(workspace.config, db, open_storage(workspace.config)).run()
    db.dispose()
    after, harvests, _ = state(workspace)
    assert after == cursor  # was {}: the next harvest started over from nothing
    assert [status for status, _ in harvests] == ["succeeded", "interrupted"]


def test_a_deletion_between_the_kill_and_the_first_complete_harvest_is_found(
        workspace: Workspace, feed_server: FakeFeedServer) -> None:
    feed = feed_account(workspace, feed_server)
    kill_at(workspace, "capture", 12)
    db = workspace.index()
    with db.session() as session:  # what the killed harvest indexed before it died
        indexed = set(session.scalars(select(Item.platform_id).where(Item.kind == "entry")))
    db.dispose()
    index, gone = next((i, e) for i, e in enumerate(feed.entries) if e.id in indexed)
    feed.remove(index)
    result = workspace.cli("harvest")
    assert result.code == 0, result.err
    _, harvests, items = state(workspace)
    assert [status for status, _ in harvests] == ["interrupted", "succeeded"]
    assert items[gone.id] == "deleted"  # was "visible": no complete listing before, so no suspects
    assert feed_server.requests_for(f"/posts/{feed.prefix}/{gone.key}")


def test_a_harvest_killed_after_its_last_file_was_indexed_ends_as_its_summary_says(
        workspace: Workspace, feed_server: FakeFeedServer) -> None:
    feed_account(workspace, feed_server, entries=4)
    where = kill_at(workspace, "finishing", 5)  # summary written, both spool copies removed, holds refreshed
    assert where == "archiver.harvest.HarvestRunner._finish:before"
    assert workspace.spool_files() == []  # nothing left for the spool's recovery to find
    locks = workspace.root / "data" / "spool" / ".locks"
    assert [p.name for p in locks.glob("harvest-*.lock")]
    from archiver.recovery import Recovery
    from storage import open_storage

    db = workspace.index()
    report = Recovery(workspace.config, db, open_storage(workspace.config)).run()
    db.dispose()
    assert len(report.harvests) == 1 and not report.errors
    cursor, harvests, items = state(workspace)
    assert harvests == [("succeeded", "set")]  # was "running", for ever
    assert cursor.get("listed_at") and len(items) == 4
    assert list(locks.glob("harvest-*.lock")) == []


@pytest.mark.s3
def test_the_crash_harness_finds_nothing_in_any_combination(tmp_path: Path, postgres_url: str) -> None:
    """A kill or more in each combination (RSS and Facebook, local and S3, SQLite and PostgreSQL)."""
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "crash.py"), "--kills", "8", "--seed", "11"],
                          cwd=tmp_path, env=os.environ | {"PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr[-3000:]}"
    kills = re.search(r"^kills: (\d+) .*violations: (\d+)", done.stdout, re.M)
    assert kills and int(kills[1]) >= 8 and kills[2] == "0", done.stdout
    combos = dict(re.findall(r"^  ([a-z0-9]+-[a-z0-9]+-[a-z]+) +(\d+)$", done.stdout, re.M))
    assert len(combos) == 8 and all(int(n) >= 1 for n in combos.values()), done.stdout
