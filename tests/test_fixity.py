"""Fixity: a changed byte anywhere in a stored WARC is detected, and named by object and record."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from archiver.index.models import Evidence, WarcFile
from conftest import Workspace
from connectors.rss.fakeserver import FakeFeed, FakeFeedServer
from seaweed import SeaweedServer, storage_lines


def flip(path: Path, offset: int, mask: int = 0x01) -> None:
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    data = bytearray(path.read_bytes())
    data[offset] ^= mask
    path.write_bytes(bytes(data))


def a_response(workspace: Workspace) -> tuple[str, int, int, str]:
    """(key, offset, length, record id) of a feed page record in the index."""
    db = workspace.index()
    with db.session() as session:
        evidence, key = session.execute(
            Evidence.__table__.select().with_only_columns(Evidence.offset, Evidence.length, Evidence.record_id,
                                                          WarcFile.key)
            .join(WarcFile, WarcFile.id == Evidence.warc_file_id).where(Evidence.record_type == "response")
            .order_by(Evidence.id).limit(1)).first(), None
    db.dispose()
    offset, length, record_id, key = evidence
    return key, offset, length, record_id


def test_every_flipped_byte_is_detected_and_named(workspace: Workspace, feed_server: FakeFeedServer) -> None:
    feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=30, page_size=10))
    workspace.account("news", feed_server.url("/feeds/news.atom"))
    assert workspace.cli("harvest").code == 0
    clean = workspace.cli("verify", "--json")
    assert clean.code == 0 and clean.json()["ok"] and clean.json()["objects"] == 1

    key, offset, length, record_id = a_response(workspace)
    path = workspace.root / "data" / "warcs" / key
    for position, mask in ((offset + length // 2, 0x10), (offset + 4, 0x01), (offset + length - 3, 0x80)):
        flip(path, position, mask)  # inside the deflate stream, in the gzip header's MTIME, in the CRC trailer
        result = workspace.cli("verify")
        assert result.code == 1
        assert f"MISMATCH {key} record {record_id} at offset {offset}:" in result.out, result.out
        assert "SHA-256 is" in result.out
        flip(path, position, mask)  # put it back
        assert workspace.cli("verify").code == 0

    report = workspace.cli("audit", "--action", "fixity.verified", "--json").json()
    assert [e["details"]["mismatches"] > 0 for e in report] == [False, True, False, True, False, True, False]


@pytest.mark.s3
def test_a_changed_object_in_s3_is_detected(workspace: Workspace, feed_server: FakeFeedServer,
                                            seaweedfs: SeaweedServer, s3_plain_bucket: str,
                                            s3_env: tuple[str, str]) -> None:
    feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=20))
    workspace.storage_lines = storage_lines(seaweedfs, s3_plain_bucket)
    workspace.capture["media"] = False
    workspace.account("news", feed_server.url("/feeds/news.atom"))
    assert workspace.cli("harvest").code == 0
    assert workspace.cli("verify", "--sample", "1").code == 0
    key, offset, length, record_id = a_response(workspace)
    client = seaweedfs.client()
    data = bytearray(client.get_object(Bucket=s3_plain_bucket, Key=f"city/{key}")["Body"].read())
    data[offset + length // 2] ^= 0x01
    client.put_object(Bucket=s3_plain_bucket, Key=f"city/{key}", Body=bytes(data))  # behind the archiver's back
    result = workspace.cli("verify", "--all", "--json")
    assert result.code == 1
    named = [m for m in result.json()["mismatches"] if m["offset"] is not None]
    assert named[0]["key"] == key and named[0]["record_id"] == record_id and named[0]["offset"] == offset


def test_the_daemon_verifies_on_its_schedule(workspace: Workspace, feed_server: FakeFeedServer) -> None:
    import threading

    from archiver.daemon import Daemon
    from storage.local import LocalStorage

    feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=5))
    workspace.capture["media"] = False
    workspace.account("news", feed_server.url("/feeds/news.atom"))
    workspace.write('[fixity]\nschedule = "0 3 * * *"\nsample = 1\n')
    assert workspace.cli("harvest").code == 0
    db = workspace.index()
    daemon = Daemon(workspace.config, db, LocalStorage(workspace.root / "data" / "warcs"), threading.Event())
    daemon.schedule()
    assert str(daemon.scheduler.get_job("fixity").trigger).startswith("cron")
    daemon.verify()
    db.dispose()
    [run] = workspace.cli("audit", "--action", "fixity.verified", "--json").json()
    assert run["details"]["scope"] == "scheduled sample 1" and run["details"]["objects"] == 1
