"""WACZ 1.1.1 packages of stored records: the one writer behind transfers and case packages.

Records are cut from the stored WARCs by byte range: each record is its own gzip member, so
its bytes are copied whole, digests intact, never re-encoded. The package holds
``archive/data.warc.gz`` (a ``warcinfo`` record describing the package, then the records),
``indexes/index.cdxj`` (the webrecorder ``cdxj-indexer``, sorted), ``pages/pages.jsonl`` (one
page per captured 2xx response), ``datapackage.json`` (SHA-256 and size of every file) and
``datapackage-digest.json``. It streams: the WARC is built in a scratch file next to the
output, read back by the indexer and copied into the zip, so memory holds at most one read.

Adjacent records (a response and its request are written back to back) are fetched in one
ranged read, which matters on S3 where each read is a round trip.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import uuid
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cdxj_indexer.main import CDXJIndexer
from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver import __version__
from archiver.capture.warc import WarcFileWriter
from archiver.index.models import Evidence, WarcFile
from storage.base import Storage, StorageError, file_sha256

WACZ_VERSION = "1.1.1"
Span = tuple[str, int, int]  # (storage key, offset, length) of one record
MAX_READ = 8 * 1024 * 1024  # one ranged read covers at most this much
MAX_GAP = 64 * 1024  # read through a gap this small rather than make another request


@dataclass(frozen=True)
class Package:
    path: Path
    sha256: str
    size: int
    records: int
    files: dict[str, str]  # name in the package → sha256


def _runs(spans: list[Span]) -> Iterator[tuple[str, int, int, list[Span]]]:
    """Sorted spans grouped into reads: (key, start, length, spans inside)."""
    run: list[Span] = []
    for span in spans:
        if run:
            key, start, _ = run[0]
            end = run[-1][1] + run[-1][2]
            if span[0] != key or span[1] - end > MAX_GAP or span[1] < end or span[1] + span[2] - start > MAX_READ:
                yield key, start, end - start, run
                run = []
        run.append(span)
    if run:
        end = run[-1][1] + run[-1][2]
        yield run[0][0], run[0][1], end - run[0][1], run


def copy_records(storage: Storage, spans: Iterable[Span], sink: Any) -> dict[Span, int]:
    """Append the records at ``spans`` to ``sink`` in (key, offset) order; returns each span's new offset."""
    placed: dict[Span, int] = {}
    position = sink.tell()
    for key, start, length, inside in _runs(sorted(set(spans))):
        block = storage.read_range(key, start, length)
        if len(block) != length:
            raise StorageError(f"{key} holds {len(block)} of the {length} bytes the index expects at offset "
                               f"{start}: the stored WARC is shorter than indexed; run 'archiver verify'")
        view = memoryview(block)
        for span in inside:
            placed[span] = position
            sink.write(view[span[1] - start:span[1] - start + span[2]])
            position += span[2]
    return placed


def _iso_ts(timestamp: str) -> str:
    """'20260301120000' → '2026-03-01T12:00:00Z' (pages take RFC 3339 times)."""
    stamp = timestamp.ljust(14, "0")
    return f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[8:10]}:{stamp[10:12]}:{stamp[12:14]}Z"


def _pages(index: Path, titles: Mapping[int, str]) -> Iterator[dict[str, str]]:
    """A page per 2xx response or revisit in the index; ``titles`` by offset in data.warc.gz."""
    with index.open(encoding="utf-8") as lines:
        for line in lines:
            _urlkey, timestamp, raw = line.rstrip("\n").split(" ", 2)
            entry = json.loads(raw)
            if not str(entry.get("status", "")).startswith("2") or entry.get("method", "GET") != "GET":
                continue
            offset = int(entry["offset"])
            url = entry["url"]
            yield {"id": uuid.uuid5(uuid.NAMESPACE_URL, f"{url} {timestamp} {offset}").hex, "url": url,
                   "ts": _iso_ts(timestamp), "title": titles.get(offset) or url}


def write_wacz(storage: Storage, spans: Iterable[Span], out: Path, *, title: str, description: dict[str, Any],
               titles: Mapping[Span, str] | None = None, software: str | None = None,
               kind: str = "package") -> Package:
    """Write the records at ``spans`` (any order, duplicates ignored) into the WACZ file ``out``.

    ``titles`` names the page of a response span (e.g. the first words of the item it shows);
    a page without one is titled by its URL. ``description`` goes into the warcinfo record as
    ``archiver-<kind>`` and into datapackage.json.
    """
    software = software or f"gov-social-archiver/{__version__}"
    created = datetime.now(UTC)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".wacz-", dir=out.parent) as scratch:
        work = Path(scratch)
        warc = work / "data.warc.gz"
        with WarcFileWriter(warc) as writer:
            writer.write_warcinfo({"software": software, "format": "WARC File Format 1.1", "description": title,
                                   f"archiver-{kind}": json.dumps(description, default=str)}, created)
        with warc.open("ab") as sink:
            placed = copy_records(storage, spans, sink)
        index = work / "index.cdxj"
        CDXJIndexer(output=str(index), inputs=[str(warc)], sort=True).process_all()
        by_offset = {placed[span]: name for span, name in (titles or {}).items() if span in placed}
        pages = work / "pages.jsonl"
        with pages.open("w", encoding="utf-8") as handle:
            handle.write(json.dumps({"format": "json-pages-1.0", "id": "pages", "title": title}) + "\n")
            for page in _pages(index, by_offset):
                handle.write(json.dumps(page, ensure_ascii=False) + "\n")
        members = {"archive/data.warc.gz": warc, "indexes/index.cdxj": index, "pages/pages.jsonl": pages}
        hashes = {name: file_sha256(path) for name, path in members.items()}
        datapackage = {
            "profile": "data-package", "wacz_version": WACZ_VERSION, "title": title,
            "description": json.dumps(description, default=str), "created": created.isoformat(),
            "software": software,
            "resources": [{"name": Path(name).name, "path": name, "hash": f"sha256:{hashes[name]}",
                           "bytes": path.stat().st_size} for name, path in members.items()],
        }
        package_json = json.dumps(datapackage, indent=2).encode()
        digest = {"path": "datapackage.json", "hash": "sha256:" + hashlib.sha256(package_json).hexdigest()}
        partial = out.with_name(out.name + ".partial")
        # Stored, not deflated: the WARC is gzipped already, and replay tools seek into it.
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
            for name, path in members.items():
                archive.write(path, name)
            archive.writestr("datapackage.json", package_json)
            archive.writestr("datapackage-digest.json", json.dumps(digest, indent=2))
        partial.replace(out)
    return Package(out, file_sha256(out), out.stat().st_size, len(placed),
                   hashes | {"datapackage.json": digest["hash"].removeprefix("sha256:")})


def revisit_originals(session: Session, record_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """For each revisit record id, the full record holding its payload: {"warc", "record_id", "offset", …}.

    The original is chosen as capture chose it (archiver.index.ledger.revisit_target): the
    first full record with the same payload SHA-256 in the same account and month.
    """
    wanted = sorted(set(record_ids))
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), 500):
        revisits = session.execute(
            select(Evidence.record_id, Evidence.payload_sha256, WarcFile.account_id, WarcFile.month)
            .join(WarcFile, WarcFile.id == Evidence.warc_file_id)
            .where(Evidence.record_id.in_(wanted[start:start + 500]), Evidence.record_type == "revisit")
        ).all()
        hashes = {r.payload_sha256 for r in revisits if r.payload_sha256}
        originals: dict[tuple[int, str, str], dict[str, Any]] = {}
        rows = session.execute(
            select(Evidence, WarcFile.key, WarcFile.account_id, WarcFile.month)
            .join(WarcFile, WarcFile.id == Evidence.warc_file_id)
            .where(Evidence.payload_sha256.in_(hashes), Evidence.record_type.in_(("response", "resource")))
            .order_by(Evidence.id)
        ).all()
        for evidence, key, account_id, month in rows:
            originals.setdefault((account_id, month, evidence.payload_sha256), {
                "warc": key, "record_id": evidence.record_id, "record_type": evidence.record_type,
                "offset": evidence.offset, "length": evidence.length, "sha256": evidence.payload_sha256,
                "target_uri": evidence.target_uri, "status": evidence.status,
                "captured_at": evidence.captured_at.isoformat(), "request_offset": evidence.request_offset,
                "request_length": evidence.request_length})
        for record_id, sha, account_id, month in revisits:
            original = originals.get((account_id, month, sha))
            if original is not None:
                found[record_id] = original
    return found


def evidence_spans(evidence: Mapping[str, Any]) -> list[Span]:
    """The record of one evidence dict (archiver.items.evidence_dict) and the request that produced it."""
    spans = [(evidence["warc"], evidence["offset"], evidence["length"])]
    if evidence.get("request_offset") is not None and evidence.get("request_length"):
        spans.append((evidence["warc"], evidence["request_offset"], evidence["request_length"]))
    return spans
