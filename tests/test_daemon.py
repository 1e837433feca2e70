"""``archiver run``: scheduled harvests in the foreground, sealing what is in flight on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from sqlalchemy import select

from archiver.daemon import Daemon
from archiver.index.models import Harvest
from conftest import ROOT, Workspace
from connectors.rss.fakeserver import FakeFeed, FakeFeedServer
from storage.local import LocalStorage
from test_harvest import warcio_check


def test_every_account_is_harvested_at_start_then_on_schedule(workspace: Workspace,
                                                              feed_server: FakeFeedServer) -> None:
    feed_server.add_feed("/a.atom", FakeFeed.synthetic(entries=5))
    feed_server.add_feed("/b.rss", FakeFeed.synthetic(entries=5, kind="rss", seed=1))
    workspace.capture["media"] = False
    workspace.account("a", feed_server.url("/a.atom"), schedule="1h")
    workspace.account("b", feed_server.url("/b.rss"), schedule="*/5 * * * *")
    workspace.write()
    config = workspace.config
    stop = threading.Event()
    db = workspace.index()
    daemon = Daemon(config, db, LocalStorage(workspace.root / "data" / "warcs"), stop)
    runner = threading.Thread(target=daemon.run_until_stopped)
    runner.start()
    deadline = time.monotonic() + 20
    while len(daemon.completed) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    jobs = {job.id: job for job in daemon.scheduler.get_jobs()}
    stop.set()
    runner.join(timeout=20)
    assert not runner.is_alive()
    assert sorted(daemon.completed) == ["a", "b"]
    assert set(jobs) == {"harvest:a", "harvest:b", "recovery", "holds", "fixity", "alerts"}
    assert str(jobs["harvest:b"].trigger).startswith("cron")
    assert len(workspace.stored_warcs()) == 2 and workspace.spool_files() == []
    db.dispose()


def test_sigterm_finishes_and_seals_what_is_in_flight(workspace: Workspace, feed_server: FakeFeedServer) -> None:
    feed = feed_server.add_feed("/slow.atom", FakeFeed.synthetic(entries=300, page_size=10))
    feed.delay_seconds = 0.2
    workspace.capture["media"] = False
    workspace.account("slow", feed_server.url("/slow.atom"), schedule="1h")
    config = workspace.write()
    process = subprocess.Popen([sys.executable, "-m", "archiver", "--config", str(config), "run"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=os.environ | {"PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 30
    while len(feed_server.requests_for("/slow.atom")) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "finishing and sealing what is in flight" in err
    assert workspace.spool_files() == []
    warcio_check(workspace.stored_warcs())
    db = workspace.index()
    with db.session() as session:
        assert session.scalars(select(Harvest.status)).all() == ["interrupted"]
    db.dispose()
    assert len(feed_server.requests_for("/slow.atom")) < 30  # it stopped, it did not run to the end
