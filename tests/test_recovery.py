"""A crash at any point is recovered on the next start, and the index never points at nothing."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

import archiver.segments
from archiver.capture.spool import complete_records_end
from archiver.capture.warc import WarcFileWriter
from archiver.index.models import Harvest, Item, StagedObservation, WarcFile
from archiver.recovery import _complete_open_file
from conftest import ROOT, Workspace
from connectors.rss.fakeserver import FakeFeed, FakeFeedServer
from test_harvest import count, warcio_check


def test_half_written_file_is_cut_back_to_its_last_whole_record(tmp_path: Path) -> None:
    path = tmp_path / "rss" / "news" / "2026" / "11" / "x.warc.gz.open"
    path.parent.mkdir(parents=True)
    with WarcFileWriter(path) as writer:
        writer.write_resource("urn:a", b"first", "text/plain")
        second = writer.write_resource("urn:b", b"second" * 1000, "text/plain")
    whole = path.stat().st_size
    with path.open("r+b") as handle:
        handle.truncate(second.offset + second.length // 2)  # the process died mid-record
    assert complete_records_end(path) == (second.offset, 1)
    sealed = _complete_open_file(path)
    assert sealed.path.name == "x.warc.gz" and whole > second.offset
    data = gzip.decompress(sealed.path.read_bytes())
    assert b"urn:a" in data and b"urn:b" not in data and b'"event": "recovered"' in data
    warcio_check([sealed.path])


def test_killed_harvest_is_recovered_on_next_start(workspace: Workspace, feed_server: FakeFeedServer) -> None:
    feed = feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=200, page_size=10))
    feed.delay_seconds = 0.25
    workspace.capture["media"] = False
    workspace.account("news", feed_server.url("/feeds/news.atom"))
    config = workspace.write()
    process = subprocess.Popen([sys.executable, "-m", "archiver", "--config", str(config), "harvest"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=os.environ | {"PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 30
    while len(feed_server.requests_for("/feeds/news.atom")) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)  # no chance to seal anything
    process.wait(timeout=10)
    [open_file] = workspace.spool_files()
    assert open_file.name.endswith(".warc.gz.open")

    feed.delay_seconds = 0
    result = workspace.cli("harvest")
    assert result.code == 0, result.err
    assert workspace.spool_files() == []
    warcio_check(workspace.stored_warcs())
    recovered = gzip.decompress(workspace.stored_warcs()[0].read_bytes())
    assert b'"event": "recovered"' in recovered
    db = workspace.index()
    with db.session() as session:
        statuses = session.scalars(select(Harvest.status).order_by(Harvest.id)).all()
        assert statuses == ["interrupted", "succeeded"]
        assert session.scalar(select(func.count()).select_from(StagedObservation)) == 0
        # Every file the index knows is in storage.
        for key in session.scalars(select(WarcFile.key)):
            assert (workspace.root / "data" / "warcs" / key).is_file()
    db.dispose()
    assert count(workspace, Item, Item.kind == "entry") == 200


def test_crash_between_storing_and_indexing_is_finished_on_next_start(
    workspace: Workspace, feed_server: FakeFeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=25, page_size=10))
    workspace.capture["media"] = False
    workspace.account("news", feed_server.url("/feeds/news.atom"))

    class PowerCut(BaseException):
        """Nothing in the archiver may catch this, as nothing can catch a power cut."""

    def power_cut(*_args: object, **_kwargs: object) -> int:
        raise PowerCut

    monkeypatch.setattr(archiver.segments, "apply_observations", power_cut)
    with pytest.raises(PowerCut):
        workspace.cli("harvest")
    monkeypatch.undo()
    assert count(workspace, Item) == 0 and len(workspace.stored_warcs()) == 1
    assert count(workspace, WarcFile) == 0  # the index never pointed to it
    assert [p.name for p in workspace.spool_files()] == [workspace.stored_warcs()[0].name]  # sealed, kept
    result = workspace.cli("harvest")
    assert result.code == 0, result.err
    assert count(workspace, Item, Item.kind == "entry") == 25
    assert count(workspace, StagedObservation) == 0


def test_a_sealed_warc_the_index_never_heard_of_is_stored_and_indexed(
    workspace: Workspace, feed_server: FakeFeedServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=7))
    workspace.capture["media"] = False
    workspace.account("news", feed_server.url("/feeds/news.atom"))
    assert workspace.cli("harvest").code == 0
    [warc] = workspace.stored_warcs()
    other = Workspace(tmp_path_factory.mktemp("other"))
    other.capture["media"] = False
    other.account("news", feed_server.url("/feeds/news.atom"))
    other.write()
    key = warc.relative_to(workspace.root / "data" / "warcs")
    orphan = other.root / "data" / "spool" / key
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(warc.read_bytes())  # e.g. the index was restored from an older backup
    assert other.cli("accounts").code == 0  # any command opens the index; harvest also recovers
    result = other.cli("harvest")
    assert result.code == 0, result.err
    assert other.spool_files() == []
    assert (other.root / "data" / "warcs" / key).read_bytes() == warc.read_bytes()
    assert count(other, Item, Item.kind == "entry") == 7
