"""Fixity: proof that the stored WARCs are the bytes the index says they are.

Each object is streamed once. Its SHA-256 and size are recomputed and compared with the
index; at the same time every gzip member is inflated (zlib checks each member's CRC-32) and
every record's ``WARC-Block-Digest`` and ``WARC-Payload-Digest`` are recomputed, and each
record the index points to must start where the index says, with the same record id. Any
changed byte changes the object's SHA-256, so it is always detected; the report also names
the record it is in (by offset and record id): a flipped byte in compressed data breaks the
member's inflation or CRC, one in a member's gzip header (not covered by the CRC) shows as a
header that differs from the one the archiver writes.
"""

from __future__ import annotations

import base64
import hashlib
import random
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from archiver import audit
from archiver.index.db import IndexDB
from archiver.index.models import Evidence, WarcFile
from archiver.retention.models import FixityRun
from storage.base import CHUNK, Storage, StorageError

GZIP_HEADER = bytes.fromhex("1f8b08000000000000" + "03")  # what WarcFileWriter writes before every record
_HTTP_TYPES = ("application/http",)


@dataclass(frozen=True)
class Mismatch:
    key: str
    offset: int | None
    record_id: str | None
    problem: str

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "offset": self.offset, "record_id": self.record_id, "problem": self.problem}

    def __str__(self) -> str:
        where = f" record {self.record_id or '?'} at offset {self.offset}" if self.offset is not None else ""
        return f"{self.key}{where}: {self.problem}"


@dataclass
class FixityReport:
    objects: int = 0
    bytes: int = 0
    seconds: float = 0.0
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches


def _digest_matches(label: str | None, hasher: Any) -> bool:
    if not label:
        return True
    _, _, value = label.partition(":")
    raw = hasher.digest()
    return value.strip() in (base64.b32encode(raw).decode(), raw.hex())


def _new_hasher(label: str | None) -> Any:
    algorithm = (label or "sha256:").partition(":")[0].lower().replace("-", "")
    try:
        return hashlib.new(algorithm)
    except ValueError:
        return hashlib.sha256()


class _Records:
    """Parses the inflated stream into records and checks each one's digests as bytes arrive."""

    def __init__(self, report: Any):
        self.report = report  # callable(offset, record_id, problem)
        self.buffer = b""
        self.state = "header"
        self.start = 0
        self.headers: dict[str, str] = {}
        self.remaining = 0
        self.block: Any = None
        self.payload: Any = None
        self.http_head: bytes | None = None
        self.seen: dict[int, str] = {}

    def feed(self, data: bytes, member_start: int) -> None:
        buffer = self.buffer + data if self.buffer else data
        view, position = memoryview(buffer), 0  # no copies: records are consumed by position
        while position < len(buffer):
            if self.state == "header":
                end = buffer.find(b"\r\n\r\n", position)
                if end < 0:
                    if len(buffer) - position > 1 << 20:
                        raise ValueError("a WARC header longer than 1 MB")
                    break
                self._start(buffer[position:end].decode("utf-8", "replace"), member_start)
                position = end + 4
            elif self.state == "block":
                piece = view[position:position + self.remaining]
                self._block(piece)
                position += len(piece)
                self.remaining -= len(piece)
                if self.remaining == 0:
                    self.state = "trailer"
            else:
                if len(buffer) - position < 4:
                    break
                if buffer[position:position + 4] != b"\r\n\r\n":
                    self.report(self.start, self.headers.get("warc-record-id"), "the record does not end where "
                                "its Content-Length says")
                position += 4
                self._finish()
        self.buffer = bytes(view[position:])

    def _start(self, text: str, member_start: int) -> None:
        lines = text.split("\r\n")
        if not lines[0].startswith("WARC/"):
            raise ValueError(f"no WARC record starts here ({lines[0][:40]!r})")
        self.headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        self.start = member_start
        self.remaining = int(self.headers.get("content-length", "0"))
        self.block = _new_hasher(self.headers.get("warc-block-digest"))
        self.payload = _new_hasher(self.headers.get("warc-payload-digest"))
        http = self.headers.get("content-type", "").startswith(_HTTP_TYPES)
        self.http_head = b"" if http else None
        self.state = "block" if self.remaining else "trailer"

    def _block(self, piece: memoryview) -> None:
        self.block.update(piece)
        if self.http_head is None:
            self.payload.update(piece)
            return
        if isinstance(self.http_head, bytes) and self.state == "block":
            joined = self.http_head + bytes(piece)
            end = joined.find(b"\r\n\r\n")
            if end < 0:
                self.http_head = joined[-(1 << 20):]
                return
            self.payload.update(joined[end + 4:])
            self.http_head = None

    def _finish(self) -> None:
        record_id = self.headers.get("warc-record-id")
        self.seen[self.start] = record_id or ""
        if not _digest_matches(self.headers.get("warc-block-digest"), self.block):
            self.report(self.start, record_id, "WARC-Block-Digest does not match the record's bytes")
        kind = self.headers.get("warc-type")
        if kind != "revisit" and self.http_head is None and \
                not _digest_matches(self.headers.get("warc-payload-digest"), self.payload):
            self.report(self.start, record_id, "WARC-Payload-Digest does not match the record's payload")
        self.state = "header"


def verify_object(storage: Storage, warc: WarcFile, indexed: dict[int, str]) -> tuple[int, list[Mismatch]]:
    """(bytes read, mismatches) for one stored WARC."""
    problems: list[Mismatch] = []
    headers_off: list[tuple[int, bytes]] = []

    def report(offset: int | None, record_id: str | None, problem: str) -> None:
        problems.append(Mismatch(warc.key, offset, record_id or indexed.get(offset or -1), problem))

    records = _Records(report)
    whole = hashlib.sha256()
    size, position, member_start, broken = 0, 0, 0, False
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    pending_header = b""  # the first 10 bytes of the current member
    try:
        with storage.open(warc.key) as stream:
            while block := stream.read(CHUNK):
                whole.update(block)
                size += len(block)
                data = block
                while data and not broken:
                    if len(pending_header) < 10:
                        pending_header += data[:10 - len(pending_header)]
                        if len(pending_header) == 10:
                            headers_off.append((member_start, pending_header))
                    try:
                        records.feed(inflater.decompress(data), member_start)
                    except (zlib.error, ValueError) as exc:
                        report(member_start, None, f"the record's bytes are damaged ({exc})")
                        broken = True
                        break
                    if not inflater.eof:
                        position += len(data)
                        break
                    used = len(data) - len(inflater.unused_data)
                    position += used
                    data = inflater.unused_data
                    member_start, pending_header = position, b""
                    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    except StorageError as exc:
        return 0, [Mismatch(warc.key, None, None, f"cannot be read: {exc}")]
    if not broken and (records.buffer or records.state != "header" or pending_header):
        report(member_start, None, "the object ends in the middle of a record")
    if warc.sha256 and whole.hexdigest() != warc.sha256:
        if not problems:
            for offset, header in headers_off:
                if header != GZIP_HEADER:
                    report(offset, None, "the gzip header of this record's member was changed")
        problems.append(Mismatch(warc.key, None, None, f"SHA-256 is {whole.hexdigest()}, the index has "
                                                        f"{warc.sha256}"))
    if warc.size is not None and size != warc.size:
        problems.append(Mismatch(warc.key, None, None, f"size is {size} bytes, the index has {warc.size}"))
    if not broken:
        for offset, record_id in sorted(indexed.items()):
            if records.seen.get(offset) not in (record_id, None) or offset not in records.seen:
                problems.append(Mismatch(warc.key, offset, record_id, "the index points to a record that is not "
                                                                      "at this offset"))
    return size, problems


def choose(db: IndexDB, *, sample: int | None = None, since: datetime | None = None) -> list[WarcFile]:
    with db.session() as session:
        query = select(WarcFile).where(WarcFile.state == "stored").order_by(WarcFile.key)
        if since is not None:
            query = query.where(WarcFile.stored_at >= since)
        files = list(session.scalars(query))
    if sample is not None and sample < len(files):
        files = sorted(random.sample(files, sample), key=lambda f: f.key)
    return files


def verify(db: IndexDB, storage: Storage, files: list[WarcFile], scope: str) -> FixityReport:
    report = FixityReport()
    started, clock = datetime.now(UTC), time.perf_counter()
    for warc in files:
        with db.session() as session:
            indexed: dict[int, str] = {}
            for offset, record_id, request_offset, request_id in session.execute(
                    select(Evidence.offset, Evidence.record_id, Evidence.request_offset, Evidence.request_record_id)
                    .where(Evidence.warc_file_id == warc.id)):
                indexed[offset] = record_id
                if request_offset is not None and request_id:
                    indexed[request_offset] = request_id
        size, problems = verify_object(storage, warc, indexed)
        report.objects += 1
        report.bytes += size
        report.mismatches += problems
    report.seconds = time.perf_counter() - clock
    failures = [m.as_dict() for m in report.mismatches]
    with db.session() as session:
        session.add(FixityRun(started_at=started, finished_at=datetime.now(UTC), scope=scope, objects=report.objects,
                              bytes=report.bytes, failures=failures, ok=report.ok))
        audit.record(session, "fixity.verified", storage.url, scope=scope, objects=report.objects, bytes=report.bytes,
                     mismatches=len(failures), failures=failures[:50])
    return report
