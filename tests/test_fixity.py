"""Fixity: a changed byte anywhere in a stored WARC is detected, and named by object and record."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import stat
import zlib
from pathlib import Path

import pytest
from sqlalchemy import select

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

    # records = true: the scheduled runs check every record too, and say so
    key, offset, length, record_id = a_response(workspace)
    rewrite_record(workspace, key, offset, length, b"<title>", b"<TITLE>")
    workspace.write('[fixity]\nschedule = "0 3 * * *"\nsample = 1\nrecords = true\nworkers = 2\n')
    db = workspace.index()
    Daemon(workspace.config, db, LocalStorage(workspace.root / "data" / "warcs"), threading.Event()).verify()
    db.dispose()
    deep = workspace.cli("audit", "--action", "fixity.verified", "--json").json()[-1]["details"]
    assert deep["scope"] == "scheduled sample 1 (records)" and deep["mismatches"] == 2
    assert {f["record_id"] for f in deep["failures"]} == {record_id}


def rewrite_record(workspace: Workspace, key: str, offset: int, length: int, old: bytes, new: bytes) -> None:
    """Change ``old`` to ``new`` (as long) in the record at ``offset`` without fixing its digests, and re-record the
    object's SHA-256, size and the offsets after it in the index: only the record's own digests are wrong."""
    path = workspace.root / "data" / "warcs" / key
    data = path.read_bytes()
    record = gzip.decompress(data[offset:offset + length])
    assert old in record
    packer = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    member = packer.compress(record.replace(old, new, 1)) + packer.flush()
    changed = data[:offset] + member + data[offset + length:]
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    path.write_bytes(changed)
    shift = len(member) - length
    db = workspace.index()
    with db.session() as session:
        warc = session.scalar(select(WarcFile).where(WarcFile.key == key))
        warc.sha256, warc.size = hashlib.sha256(changed).hexdigest(), len(changed)
        for evidence in session.scalars(select(Evidence).where(Evidence.warc_file_id == warc.id)):
            if evidence.offset == offset:
                evidence.length = len(member)
            if evidence.offset > offset:
                evidence.offset += shift
            if evidence.request_offset is not None and evidence.request_offset > offset:
                evidence.request_offset += shift
    db.dispose()


def test_a_wrong_record_in_a_rerecorded_object_is_found_only_by_the_record_check(
        workspace: Workspace, feed_server: FakeFeedServer) -> None:
    feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=30, page_size=10))
    workspace.capture["media"] = False
    workspace.account("news", feed_server.url("/feeds/news.atom"))
    assert workspace.cli("harvest").code == 0
    key, offset, length, record_id = a_response(workspace)
    rewrite_record(workspace, key, offset, length, b"<title>", b"<TITLE>")

    fast = workspace.cli("verify", "--json")
    assert fast.code == 0 and fast.json()["ok"] and not fast.json()["records"]
    deep = workspace.cli("verify", "--records", "--json")
    assert deep.code == 1 and deep.json()["records"]
    [block, payload] = deep.json()["mismatches"]
    assert (block["key"], block["offset"], block["record_id"]) == (key, offset, record_id)
    assert block["problem"] == "WARC-Block-Digest does not match the record's bytes"
    assert payload["problem"] == "WARC-Payload-Digest does not match the record's payload"
    assert block["check"] == "records" and block["items"] and all(i.startswith("news:") for i in block["items"])
    text = workspace.cli("verify", "--records", "--sample", "1")
    assert f"MISMATCH {key} record {record_id} at offset {offset}: WARC-Block-Digest" in text.out
    assert f"(items {block['items'][0]}" in text.out

    # The alert lasts until a record check finds the object intact: an object check cannot tell.
    [alert] = workspace.cli("alerts", "--json").json()
    assert alert["subject"] == key and alert["command"] == "archiver verify --all --records"
    assert workspace.cli("verify").code == 0
    assert [a["subject"] for a in workspace.cli("alerts", "--json").json()] == [key]


def test_parallel_and_repeated_checks_report_alike(workspace: Workspace, feed_server: FakeFeedServer) -> None:
    feed = feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=3))
    workspace.capture["media"] = False
    workspace.account("news", feed_server.url("/feeds/news.atom"))
    for entries in (6, 9, 12, 15):  # four harvests, four WARCs
        feed.entries = FakeFeed.synthetic(entries=entries).entries
        assert workspace.cli("harvest").code == 0
    db = workspace.index()
    with db.session() as session:
        keys = list(session.scalars(select(WarcFile.key).order_by(WarcFile.key)))
    db.dispose()
    assert len(keys) == 4
    flip(workspace.root / "data" / "warcs" / keys[1], 300)
    flip(workspace.root / "data" / "warcs" / keys[3], 5)  # in a gzip header: only the SHA-256 sees it

    for depth in ([], ["--records"]):
        runs = [workspace.cli("verify", "--json", "--workers", workers, *depth).json() for workers in ("1", "4", "4")]
        assert {run["objects"] for run in runs} == {4} and {run["bytes"] for run in runs} == {runs[0]["bytes"]}
        assert runs[0]["mismatches"] == runs[1]["mismatches"] == runs[2]["mismatches"]
        assert {m["key"] for m in runs[0]["mismatches"]} == {keys[1], keys[3]}
    audited = workspace.cli("audit", "--action", "fixity.verified", "--json").json()
    assert len({json.dumps(entry["details"]["failures"]) for entry in audited}) == 1
