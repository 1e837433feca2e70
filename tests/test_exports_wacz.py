"""The shared WACZ writer: records copied whole from storage, few reads, a clear error on a short WARC."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from archiver.exports.wacz import copy_records, write_wacz
from archiver.index.models import Evidence, WarcFile
from conftest import Workspace
from connectors.rss.fakeserver import FakeFeed, FakeFeedServer
from storage import open_storage
from storage.base import StorageError
from storage.local import LocalStorage
from test_package_wacz import validate, wacz_records


class CountingStorage(LocalStorage):
    """The real local store, counting the ranged reads made of it."""

    reads = 0

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        self.reads += 1
        return super().read_range(key, offset, length)


def harvested(workspace: Workspace, feed_server: FakeFeedServer) -> list[tuple[str, int, int]]:
    """Harvest a 30-post feed with media; the spans of every response and request record."""
    feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=30, page_size=10))
    workspace.account("news", feed_server.url("/feeds/news.atom"))
    assert workspace.cli("harvest").code == 0
    db = workspace.index()
    try:
        with db.session() as session:
            rows = session.execute(select(Evidence, WarcFile.key).join(WarcFile, WarcFile.id == Evidence.warc_file_id))
            spans = []
            for evidence, key in rows:
                spans.append((key, evidence.offset, evidence.length))
                spans.append((key, evidence.request_offset, evidence.request_length))
            return spans
    finally:
        db.dispose()


def test_records_are_copied_whole_with_few_reads(workspace: Workspace, feed_server: FakeFeedServer,
                                                 tmp_path: Path) -> None:
    spans = harvested(workspace, feed_server)
    local = open_storage(workspace.config)
    assert isinstance(local, LocalStorage)
    storage = CountingStorage(local.root)
    out = tmp_path / "out" / "all.wacz"
    package = write_wacz(storage, [*spans, *spans[:5]], out, title="Everything", description={"why": "test"},
                         titles={spans[0]: "The first capture"})
    validate(out)
    assert package.records == len(set(spans)) and package.path == out
    assert package.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    # Responses and their requests lie back to back: one read covers a run of them.
    assert storage.reads < len(spans) / 4

    with zipfile.ZipFile(out) as archive:
        warc = archive.read("archive/data.warc.gz")
        datapackage = json.loads(archive.read("datapackage.json"))
        digest = json.loads(archive.read("datapackage-digest.json"))
        pages = [json.loads(line) for line in archive.read("pages/pages.jsonl").decode().splitlines()]
        for resource in datapackage["resources"]:
            body = archive.read(resource["path"])
            assert resource["hash"] == "sha256:" + hashlib.sha256(body).hexdigest()
            assert resource["bytes"] == len(body)
        assert digest["hash"] == "sha256:" + hashlib.sha256(archive.read("datapackage.json")).hexdigest()
    assert datapackage["wacz_version"] == "1.1.1" and json.loads(datapackage["description"]) == {"why": "test"}
    stored = b"".join(storage.read_range(*span) for span in sorted(set(spans)))
    assert warc.endswith(stored)  # byte for byte, after the package's own warcinfo
    records = wacz_records(out)
    assert records[0][0] == "warcinfo" and b"Everything" in records[0][3]
    responses = [r for r in records if r[0] in ("response", "revisit")]
    assert len(pages) - 1 == len(responses)  # every capture answered 200
    assert pages[0]["format"] == "json-pages-1.0"
    assert sum(1 for p in pages if p.get("title") == "The first capture") == 1
    assert all(p["ts"].endswith("Z") and p["url"].startswith("http://127.0.0.1") for p in pages[1:])
    assert not list(out.parent.glob(".wacz-*")) and not list(out.parent.glob("*.partial"))


def test_a_warc_shorter_than_indexed_is_named(workspace: Workspace, feed_server: FakeFeedServer,
                                              tmp_path: Path) -> None:
    key, offset, _ = max(harvested(workspace, feed_server), key=lambda span: span[1])
    storage = open_storage(workspace.config)
    stat = storage.stat(key)
    assert stat is not None
    length = stat.size - offset  # what is there; the index claims 100 bytes more
    with pytest.raises(StorageError) as failure, (tmp_path / "sink").open("wb") as sink:
        copy_records(storage, [(key, offset, length + 100)], sink)
    assert str(failure.value) == (f"{key} holds {length} of the {length + 100} bytes the index expects at offset "
                                  f"{offset}: the stored WARC is shorter than indexed; run 'archiver verify'")
    with pytest.raises(StorageError):
        write_wacz(storage, [(key, offset, length + 100)], tmp_path / "out" / "x.wacz", title="t", description={})
    assert list((tmp_path / "out").iterdir()) == []
