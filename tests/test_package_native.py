"""The native part: each item's API payloads as the platform sent them, traced to their WARC records."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sqlalchemy import select

from archiver.exports.package.native import NativePart
from archiver.index.models import Evidence
from case_helpers import main_street_case
from conftest import Workspace
from connectors.rss.fakeserver import FakeFeed, FakeFeedServer
from graph_helpers import TOKEN
from storage import open_storage
from test_package_wacz import assert_no_secret, build_parts, case_evidence


def test_native_payloads_are_the_captured_bodies_with_their_provenance(workspace: Workspace, tmp_path: Path) -> None:
    with main_street_case(workspace) as case:
        pass
    summaries, _ = build_parts(workspace, case.case, [NativePart], tmp_path / "bag")
    data = tmp_path / "bag" / "data"
    made = summaries["native"]
    assert made.documents == 5 and made.details["mismatches"] == []
    folders = sorted(p.name for p in (data / "native").iterdir() if p.name != "records")
    assert folders == [f"DOC00000{n}" for n in range(1, 6)]
    assert all(path in made.files for path in ("native/DOC000001/records.json", "native/DOC000005/records.json"))

    db = workspace.index()
    try:
        with db.session() as session:
            index = {e.record_id: e for e in session.scalars(select(Evidence))}
            payloads = 0
            for folder in folders:
                listing = json.loads((data / "native" / folder / "records.json").read_text())
                assert listing["doc_id"] == folder and listing["item"]["account"] == "city-fb"
                for entry in listing["records"]:
                    evidence = index[entry["record_id"]]
                    body = (data / "native" / entry["file"]).read_bytes()
                    # The file is the entity body the index hashed at capture, and says where it lies.
                    assert hashlib.sha256(body).hexdigest() == evidence.payload_sha256 == entry["payload_sha256"]
                    assert entry["file_sha256"] == evidence.payload_sha256 and entry["matches"] is True
                    assert (entry["offset"], entry["length"], entry["target_uri"]) == (
                        evidence.offset, evidence.length, evidence.target_uri)
                    assert entry["file"] == f"records/{entry['record_id'][10:-1].replace('-', '')}" + Path(
                        entry["file"]).suffix  # one file per record, named by its WARC-Record-ID
                    if "/media/" in entry["target_uri"]:
                        assert entry["file"].endswith(".jpg") and body[:3] == b"\xff\xd8\xff"
                    else:
                        assert entry["file"].endswith(".json") and json.loads(body)
                    payloads += 1
    finally:
        db.dispose()
    # Each record's payload is written once, however many documents it is evidence for.
    assert len(list((data / "native" / "records").iterdir())) == made.details["payloads"] < payloads
    # One file per distinct record of each item: every version's evidence and media capture.
    listed = {r["record_id"] for p in (data / "native").glob("DOC*/records.json")
              for r in json.loads(p.read_text())["records"]}
    assert listed == {e["record_id"] for e in case_evidence(workspace, case.case)}

    # The deleted comment's folder holds the 400 answer that proved it gone, not just the listings.
    deleted = next(json.loads(p.read_text()) for p in (data / "native").glob("DOC*/records.json")
                   if json.loads(p.read_text())["item"]["platform_id"] == case.deleted_id)
    gone = [e for e in deleted["records"] if e["status"] == 400]
    assert len(gone) == 1 and "error" in json.loads((data / "native" / gone[0]["file"]).read_text())

    storage = open_storage(workspace.config)
    for warc in made.details["source_warcs"]:
        assert warc["sha256"] == storage.sha256(warc["key"])
    assert_no_secret(tmp_path / "bag", TOKEN)


def test_gzipped_chunked_feed_is_decoded_and_a_revisit_gives_its_originals_payload(
        workspace: Workspace, feed_server: FakeFeedServer, tmp_path: Path) -> None:
    feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=42, page_size=50, gzip=True, chunked=True))
    workspace.account("news", feed_server.url("/feeds/news.atom"))
    assert workspace.cli("harvest").code == 0
    assert workspace.cli("request", "new", "PRR-8").code == 0
    # Post 21 carries the city seal, stored first with post 42: its copy is a revisit.
    assert workspace.cli("request", "add", "PRR-8", "--item", "news:tag:city.example,2015:city0/post/21").code == 0
    summaries, _ = build_parts(workspace, "PRR-8", [NativePart], tmp_path / "bag")
    listing = json.loads((tmp_path / "bag" / "data" / "native" / "DOC000001" / "records.json").read_text())
    folder = tmp_path / "bag" / "data" / "native" / "DOC000001"
    feed = next(e for e in listing["records"] if "/feeds/news.atom" in e["target_uri"])
    body = (folder.parent / feed["file"]).read_bytes()
    # The platform gzipped the feed: the file is readable XML, its stored (gzipped) entity matches the index.
    assert feed["file"].endswith(".xml") and body.lstrip().startswith(b"<?xml") and "post/21" in body.decode()
    assert feed["decoded"] == "gzip" and feed["matches"] is True
    assert feed["file_sha256"] == hashlib.sha256(body).hexdigest() != feed["payload_sha256"]

    seal = next(e for e in listing["records"] if e["record_type"] == "revisit")
    assert seal["payload_from"]["record_id"] != seal["record_id"] and seal["matches"] is True
    photo = (folder.parent / seal["file"]).read_bytes()
    assert seal["file"].endswith(".jpg") and hashlib.sha256(photo).hexdigest() == seal["payload_sha256"]
    assert summaries["native"].details["mismatches"] == []
