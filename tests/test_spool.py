"""WARC files are cut per account and calendar month of capture, and by size."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from archiver.capture.spool import HarvestWarcs, spool_files, try_lock
from test_harvest import warcio_check


def test_files_roll_by_month_and_size(tmp_path: Path) -> None:
    opened: list[tuple[str, str]] = []
    warcs = HarvestWarcs(tmp_path, "rss", "news", "20261130T235959000000Z-abcdef", 3000,
                         {"software": "test"}, on_open=lambda key, month: opened.append((key, month)))
    november = datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC)
    december = datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC)
    warcs.writer_for(november).write_resource("urn:1", b"x" * 10, "text/plain")
    warcs.writer_for(december).write_resource("urn:2", b"y" * 10, "text/plain")  # new month, new file
    writer = warcs.writer_for(december)
    writer.write_resource("urn:3", os.urandom(5000), "application/octet-stream")  # now over the size
    warcs.writer_for(december).write_resource("urn:4", b"z", "text/plain")
    sealed = warcs.seal_all()
    assert [s.key.rsplit("/", 1)[0] for s in sealed] == ["rss/news/2026/11", "rss/news/2026/12", "rss/news/2026/12"]
    assert [month for _, month in opened] == ["2026/11", "2026/12", "2026/12"]
    assert [key for key, _ in opened] == [s.key for s in sealed]
    assert all(s.path.is_file() and len(s.sha256) == 64 for s in sealed)
    assert list(spool_files(tmp_path)) == sorted((s.path for s in sealed), key=lambda p: p.name)
    warcio_check([s.path for s in sealed])


def test_a_live_file_is_locked_against_recovery(tmp_path: Path) -> None:
    warcs = HarvestWarcs(tmp_path, "rss", "news", "20261123T000000000000Z-abcdef", 10**9, {})
    writer = warcs.writer_for(datetime(2026, 11, 23, tzinfo=UTC))
    assert try_lock(writer.path) is None  # another process would see it as alive
    warcs.seal_all()
    assert not Path(str(writer.path)).exists()
