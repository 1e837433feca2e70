"""Storage that hangs: SeaweedFS frozen (SIGSTOP) while a harvest uploads.

A frozen store accepts connections (the kernel does) and never answers, the worst kind of
outage. An upload must still end in bounded time, SIGTERM must end a harvest and the daemon
within 30 s, the sealed WARC must wait in the spool, and the harvest must say what happened
(never ``running``) until recovery stores it on the next start.

The store is thawed (SIGCONT) whatever happens, before the test ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import select

from archiver.index.models import Harvest
from conftest import ROOT, Workspace
from connectors.rss.fakeserver import FakeFeed, FakeFeedServer
from seaweed import SeaweedServer, storage_lines

pytestmark = pytest.mark.s3


@contextmanager
def frozen(server: SeaweedServer) -> Iterator[None]:
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.process.pid, signal.SIGCONT)


@pytest.fixture
def start() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Starts ``archiver ARGS`` in a child process; kills it if the test leaves it running."""
    started: list[subprocess.Popen[str]] = []

    def run(workspace: Workspace, *args: str) -> subprocess.Popen[str]:
        started.append(subprocess.Popen(
            [sys.executable, "-m", "archiver", "--config", str(workspace.config_path), *args], cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ | {"PYTHONPATH": str(ROOT)}))
        return started[-1]

    yield run
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()


def slow_news(workspace: Workspace, feed_server: FakeFeedServer, store: SeaweedServer, **storage: object) -> None:
    feed = feed_server.add_feed("/news.atom", FakeFeed.synthetic(entries=30, page_size=10))
    feed.delay_seconds = 0.4  # each page answers this late: time to freeze the store before the upload
    workspace.capture["media"] = False
    workspace.storage_lines = storage_lines(store, store.bucket(object_lock=True), **storage)
    workspace.account("news", feed_server.url("/news.atom"))
    workspace.write()


def wait_for_pages(feed_server: FakeFeedServer, pages: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while len(feed_server.requests_for("/news.atom")) < pages and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        time.sleep(0.05)


def harvest_rows(workspace: Workspace) -> list[Harvest]:
    db = workspace.index()
    with db.session() as session:
        rows = list(session.scalars(select(Harvest).order_by(Harvest.id)))
        session.expunge_all()
    db.dispose()
    return rows


def test_an_upload_to_a_frozen_store_ends_in_bounded_time_and_the_next_start_completes_it(
        workspace: Workspace, feed_server: FakeFeedServer, seaweedfs: SeaweedServer,
        s3_env: tuple[str, str], start: Callable[..., subprocess.Popen[str]]) -> None:
    slow_news(workspace, feed_server, seaweedfs, timeout_seconds=1, upload_timeout_seconds=2)
    process = start(workspace, "harvest")
    wait_for_pages(feed_server, 3, process)  # the last page is asked for; once it is answered, the upload begins
    with frozen(seaweedfs):
        _, err = process.communicate(timeout=90)
        assert process.returncode == 1, err
        [line] = [line for line in err.splitlines() if line.startswith("archiver: news: ")]
        assert "stay in the spool" in line and "Traceback" not in err
        assert [p.name.endswith(".warc.gz") for p in workspace.spool_files()] == [True]  # sealed, waiting
        [harvest] = harvest_rows(workspace)
        assert (harvest.status, harvest.cause) == ("failed", "storage") and harvest.finished_at is not None
    # The store is back: the next start stores the waiting WARC and indexes what it holds.
    result = workspace.cli("harvest")
    assert result.code == 0, result.err
    assert workspace.spool_files() == []
    first, second = harvest_rows(workspace)
    assert first.status != "running" and second.status == "succeeded"
    assert "stay in the spool" in (first.error or "") and "stored and indexed by recovery" in (first.error or "")
    assert workspace.cli("search", "--account", "news", "--kind", "entry", "--json").json()["total"] == 30


def test_sigterm_ends_the_daemon_within_30_seconds_while_the_store_is_frozen(
        workspace: Workspace, feed_server: FakeFeedServer, seaweedfs: SeaweedServer,
        s3_env: tuple[str, str], start: Callable[..., subprocess.Popen[str]]) -> None:
    slow_news(workspace, feed_server, seaweedfs, stop_grace_seconds=2)  # bench/hardening.py: the defaults
    process = start(workspace, "run")
    wait_for_pages(feed_server, 1, process)
    with frozen(seaweedfs):
        process.send_signal(signal.SIGTERM)
        asked = time.monotonic()
        _, err = process.communicate(timeout=30)
        took = time.monotonic() - asked
        print(f"\nSIGTERM to exit of `archiver run` with the store frozen: {took:.1f} s")
        assert process.returncode == 0, err
        assert [p.name.endswith(".warc.gz") for p in workspace.spool_files()] == [True]  # sealed, for recovery
        [harvest] = harvest_rows(workspace)
        assert harvest.status == "interrupted" and harvest.finished_at is not None
        assert "stay in the spool" in (harvest.error or "")
