"""The WACZ part of a case package: valid WACZ, replayable in pywb, only the case's records, no secrets."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator

from archiver.cases.register import case_item_ids, get_case, summary
from archiver.exports.package.documents import documents
from archiver.exports.package.native import NativePart
from archiver.exports.package.parts import PackageContext, PackagePart, PartSummary
from archiver.exports.package.wacz import WaczPart
from archiver.index.models import Item, WarcFile
from archiver.items import item_history
from case_helpers import main_street_case
from conftest import Workspace
from connectors.rss.fakeserver import FakeFeed, FakeFeedServer
from graph_helpers import TOKEN
from seaweed import SeaweedServer, free_ports, storage_lines
from storage import open_storage

BIN = Path(sys.executable).parent


def build_parts(workspace: Workspace, case_name: str, kinds: list[type[PackagePart]],
                out: Path) -> tuple[dict[str, PartSummary], dict[str, PackagePart]]:
    """Drive the parts as the package builder does: start, every document of the case, finish."""
    db = workspace.index()
    try:
        with db.session() as session:
            case = get_case(session, case_name)
            context = PackageContext(session, open_storage(workspace.config), out / "data", "City of Testing",
                                     summary(session, case), datetime.now(UTC), "clerk", "gov-social-archiver/0.1.0")
            parts = [kind(context) for kind in kinds]
            for part in parts:
                part.start()
            for document in documents(session, case_item_ids(session, case)):
                for part in parts:
                    part.add(document)
            return {p.name: p.finish() for p in parts}, {p.name: p for p in parts}
    finally:
        db.dispose()


def case_evidence(workspace: Workspace, case_name: str) -> list[dict[str, Any]]:
    """Every evidence dict of the case's items (versions and media), from the index."""
    db = workspace.index()
    try:
        with db.session() as session:

            found = []
            for item_id in case_item_ids(session, get_case(session, case_name)):
                history = item_history(session, session.get(Item, item_id))
                found += [v[k] for v in history["versions"] for k in ("first_evidence", "last_evidence")]
                found += [c for m in history["media"] for c in m["captures"]]
            return found
    finally:
        db.dispose()


def wacz_records(path: Path) -> list[tuple[str, str, str | None, bytes]]:
    """(type, record id, target URI, payload) of each record in the package's data.warc.gz."""
    with zipfile.ZipFile(path) as archive, archive.open("archive/data.warc.gz") as stream:
        return [(r.rec_type, r.rec_headers.get_header("WARC-Record-ID"), r.rec_headers.get_header("WARC-Target-URI"),
                 r.content_stream().read()) for r in ArchiveIterator(stream)]


def assert_no_secret(root: Path, secret: str) -> None:
    """No byte of any file under ``root`` holds ``secret``, also inside the gzipped WARC in a WACZ."""
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        assert secret.encode() not in data, path
        if path.suffix == ".wacz":
            with zipfile.ZipFile(path) as archive:
                for name in archive.namelist():
                    inner = archive.read(name)
                    inner = gzip.decompress(inner) if name.endswith(".gz") else inner
                    assert secret.encode() not in inner, f"{path}:{name}"


def validate(path: Path) -> None:
    checked = subprocess.run([str(BIN / "wacz"), "validate", "--file", str(path)], capture_output=True, text=True,
                             timeout=120)
    assert checked.returncode == 0 and "the passed WACZ is valid" in checked.stdout, checked.stdout + checked.stderr


@contextmanager
def pywb(wacz: Path, folder: Path) -> Iterator[str]:
    """pywb serving ``wacz`` as collection ``coll`` on 127.0.0.1: yields its base URL, stopped after."""
    folder.mkdir()
    made = subprocess.run([str(BIN / "wb-manager"), "init", "coll"], cwd=folder, capture_output=True, text=True,
                          timeout=120)
    assert made.returncode == 0, made.stderr
    # Unpacked as `wb-manager add --unpack-wacz` does, but keeping our index: that command only
    # picks up indexes named *.cdx, while pywb serves any *.cdxj in the collection's indexes/.
    collection = folder / "collections" / "coll"
    with zipfile.ZipFile(wacz) as archive:
        (collection / "archive" / "data.warc.gz").write_bytes(archive.read("archive/data.warc.gz"))
        (collection / "indexes" / "index.cdxj").write_bytes(archive.read("indexes/index.cdxj"))
    port = free_ports(1)[0]
    server = subprocess.Popen([str(BIN / "wayback"), "-p", str(port), "-b", "127.0.0.1", "-d", str(folder)],
                              cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/", timeout=2).close()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode() if server.stderr else "pywb exited"
                assert time.monotonic() < deadline, "pywb did not start in 60 s"
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def replay(base: str, timestamp: str, url: str) -> bytes:
    with urllib.request.urlopen(f"{base}/coll/{timestamp}id_/{url}", timeout=30) as response:
        return response.read()


def native_payloads(data: Path) -> dict[str, list[tuple[Path, dict[str, Any]]]]:
    """Target URI → [(native file, its records.json entry)]."""
    found: dict[str, list[tuple[Path, dict[str, Any]]]] = {}
    for listing in sorted(data.glob("native/DOC*/records.json")):
        for entry in json.loads(listing.read_text())["records"]:
            found.setdefault(entry["target_uri"], []).append((listing.parent.parent / entry["file"], entry))
    return found


def test_case_wacz_is_valid_replays_in_pywb_and_holds_only_the_case(workspace: Workspace, tmp_path: Path) -> None:
    with main_street_case(workspace) as case:
        pass
    summaries, _ = build_parts(workspace, case.case, [WaczPart, NativePart], tmp_path / "bag")
    data = tmp_path / "bag" / "data"
    made = summaries["wacz"]
    assert made.files == ["wacz/PRR-2026-114.wacz"] and made.documents == 5
    wacz = data / made.files[0]
    validate(wacz)

    # Exactly the case's evidence and the requests behind it: the Page's own profile capture
    # (an item outside the case) is not there, nor its cover photo.
    evidence = case_evidence(workspace, case.case)
    records = wacz_records(wacz)
    assert records[0][0] == "warcinfo" and b"PRR-2026-114" in records[0][3]
    responses = {r[1] for r in records if r[0] == "response"}
    assert responses == {e["record_id"] for e in evidence}
    assert sum(1 for r in records if r[0] == "request") == len(responses) == made.details["records"] // 2
    assert not any("/media/cover.jpg" in (r[2] or "") or "fields=id,name" in (r[2] or "") for r in records)

    # The custody record gets each source WARC with the SHA-256 the index holds, which is the stored file's.
    storage = open_storage(workspace.config)
    assert {w["key"] for w in made.details["source_warcs"]} == {e["warc"] for e in evidence}
    for warc in made.details["source_warcs"]:
        assert warc["sha256"] == storage.sha256(warc["key"])

    # pages.jsonl: one page per 2xx response, titled from the item.
    with zipfile.ZipFile(wacz) as archive:
        pages = [json.loads(line) for line in archive.read("pages/pages.jsonl").decode().splitlines()]
        index = [line.split(" ", 2) for line in archive.read("indexes/index.cdxj").decode().splitlines()]
    assert pages[0]["format"] == "json-pages-1.0"
    assert len(pages) - 1 == len({e["record_id"] for e in evidence if 200 <= e["status"] < 300})
    assert any("Main Street project: construction starts Monday" in p["title"] for p in pages[1:])

    # Replayed by pywb, a captured Graph API response is byte for byte the native payload.
    natives = native_payloads(data)
    feed = next(line for line in index if "/feed?" in line[0])
    feed_url = json.loads(feed[2])["url"]
    photo = next(line for line in index if "/media/fb-" in line[0])
    photo_url = json.loads(photo[2])["url"]
    with pywb(wacz, tmp_path / "pywb") as base:
        body = replay(base, feed[1], feed_url)
        photo_body = replay(base, photo[1], photo_url)
    assert json.loads(body)["data"][0]["message"]
    candidates = {path.read_bytes() for path, _ in natives[feed_url]}
    assert body in candidates  # two harvests in the same second: pywb serves either capture
    assert photo_body == natives[photo_url][0][0].read_bytes() and photo_body[:3] == b"\xff\xd8\xff"
    assert_no_secret(tmp_path / "bag", TOKEN)


def test_a_revisit_brings_the_record_holding_its_payload(workspace: Workspace, feed_server: FakeFeedServer,
                                                         tmp_path: Path) -> None:
    # Posts 42 and 21 carry the same city seal: post 21's copy is stored as a revisit of post 42's.
    feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=42, page_size=50))
    workspace.account("news", feed_server.url("/feeds/news.atom"))
    assert workspace.cli("harvest").code == 0
    assert workspace.cli("request", "new", "PRR-7").code == 0
    added = workspace.cli("request", "add", "PRR-7", "--item", "news:tag:city.example,2015:city0/post/21")
    assert added.code == 0, added.err
    summaries, _ = build_parts(workspace, "PRR-7", [WaczPart, NativePart], tmp_path / "bag")
    data = tmp_path / "bag" / "data"
    wacz = data / summaries["wacz"].files[0]
    validate(wacz)
    revisit = next(e for e in case_evidence(workspace, "PRR-7") if e["record_type"] == "revisit")
    records = wacz_records(wacz)
    original = next(r for r in records if r[0] == "response" and r[2] and r[2].endswith("city0-42.jpg"))
    assert hashlib.sha256(original[3]).hexdigest() == revisit["sha256"]
    assert any(r[0] == "revisit" and r[1] == revisit["record_id"] for r in records)

    natives = native_payloads(data)
    path, entry = natives[revisit["target_uri"]][0]
    assert entry["record_type"] == "revisit" and entry["record_id"] == revisit["record_id"]
    assert entry["payload_from"]["record_id"] == original[1] and entry["matches"] is True
    assert path.suffix == ".jpg" and path.read_bytes() == original[3]

    with zipfile.ZipFile(wacz) as archive:
        line = next(x.split(" ", 2) for x in archive.read("indexes/index.cdxj").decode().splitlines()
                    if "city0-21.jpg" in x)
    with pywb(wacz, tmp_path / "pywb") as base:
        assert replay(base, line[1], revisit["target_uri"]) == original[3]


@pytest.mark.s3
def test_ranged_reads_from_s3_give_the_same_records(workspace: Workspace, seaweedfs: SeaweedServer, s3_bucket: str,
                                                    s3_env: tuple[str, str], tmp_path: Path) -> None:
    workspace.storage_lines = storage_lines(seaweedfs, s3_bucket)
    with main_street_case(workspace) as case:
        pass
    summaries, parts = build_parts(workspace, case.case, [WaczPart], tmp_path / "bag")
    wacz = tmp_path / "bag" / "data" / summaries["wacz"].files[0]
    validate(wacz)
    # The records after the warcinfo are the stored objects' bytes at the spans, read whole from S3.
    client = seaweedfs.client()
    whole = {}
    for key in {key for key, _, _ in parts["wacz"].spans}:  # type: ignore[attr-defined]
        whole[key] = client.get_object(Bucket=s3_bucket, Key=f"city/{key}")["Body"].read()
    expected = b"".join(whole[key][offset:offset + length]
                        for key, offset, length in sorted(parts["wacz"].spans))  # type: ignore[attr-defined]
    with zipfile.ZipFile(wacz) as archive:
        warc = archive.read("archive/data.warc.gz")
    assert warc.endswith(expected) and len(warc) > len(expected)
    assert next(ArchiveIterator(io.BytesIO(warc))).rec_type == "warcinfo"
    db = workspace.index()
    try:
        with db.session() as session:
            stored = dict(session.execute(select(WarcFile.key, WarcFile.sha256)).all())
    finally:
        db.dispose()
    for warc_file in summaries["wacz"].details["source_warcs"]:
        assert hashlib.sha256(whole[warc_file["key"]]).hexdigest() == stored[warc_file["key"]] == warc_file["sha256"]
    assert_no_secret(tmp_path / "bag", TOKEN)
