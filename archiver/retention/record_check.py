"""The deep fixity check: one streamed pass that inflates every gzip member once and recomputes
every record's ``WARC-Block-Digest`` and ``WARC-Payload-Digest``, beside the object's SHA-256.

Memory is bounded whatever the size of the object or of a record: input is read in ``CHUNK``
pieces and handed to the inflater in slices that start at ``_IN_STEP`` for each member and grow
while it lasts (the bytes copied out after a member's end stay few however short the members
are, and long members take few calls), and each call inflates at most ``_OUT_STEP`` bytes.
Records are hashed piece by piece as they arrive, never assembled; only a record's WARC header,
and the HTTP header at the start of an ``application/http`` block, are buffered (each at most
``_HEADER_MAX``). When the payload is the whole block and both digests use the same algorithm,
one hasher serves both. Members are inflated by ISA-L (``isal``: the same gzip format and CRC
checks as zlib, about twice as fast, and like zlib it works outside the GIL).
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Callable
from typing import Any, BinaryIO

from isal import isal_zlib

from storage.base import CHUNK

GZIP_HEADER = bytes.fromhex("1f8b08000000000000" + "03")  # what WarcFileWriter writes before every record
_IN_STEP = 16 * 1024
_OUT_STEP = 1024 * 1024
_HEADER_MAX = 1 << 20
_END = b"\r\n\r\n"
_OTHER_HEADERS_KEPT = 1000  # members with a foreign gzip header whose offsets are kept for the report

Problem = Callable[[int | None, str | None, str], None]  # (offset, record id, what is wrong)


def digest_matches(label: str, hasher: Any) -> bool:
    """Does a WARC digest label ("sha256:BASE32…", or hex) name what ``hasher`` has seen?"""
    _, _, value = label.partition(":")
    raw = hasher.digest()
    return value.strip() in (base64.b32encode(raw).decode(), raw.hex())


def _hasher(label: str) -> Any:
    algorithm = label.partition(":")[0].lower().replace("-", "")
    try:
        return hashlib.new(algorithm)
    except ValueError:
        return hashlib.sha256()


class RecordDigests:
    """Reads the inflated stream as WARC records and checks each one's digests as its bytes arrive.

    ``member_start`` is the offset of the gzip member being inflated; a record is named by the
    offset of the member its header starts in (the offset the index keeps)."""

    def __init__(self, problem: Problem, indexed: dict[int, str]):
        self.problem = problem
        self.expected = dict(indexed)  # index offset → record id, popped as the records are met
        self.misplaced: list[tuple[int, str]] = []
        self.member_start = 0
        self.head = bytearray()  # a WARC header split across pieces
        self.in_header = True
        self.start = 0
        self.headers: dict[str, str] = {}
        self.remaining = 0
        self.trailer = b""
        self.block: Any = None
        self.payload: Any = None  # its own hasher, the block's (same bytes, same algorithm), or None
        self.http_tail: bytes | None = None  # while looking for the end of an HTTP header: its last 3 bytes
        self.http_seen = 0

    @property
    def between_records(self) -> bool:
        return self.in_header and not self.head

    def feed(self, data: bytes) -> None:
        view, position, size = memoryview(data), 0, len(data)
        while position < size:
            if self.in_header:
                position = self._header(data, view, position)
            elif self.remaining:
                take = min(self.remaining, size - position)
                self._block(data, view, position, position + take)
                position += take
                self.remaining -= take
            else:
                take = 4 - len(self.trailer)
                self.trailer += data[position:position + take]
                position += take
                if len(self.trailer) == 4:
                    self._finish()

    def _header(self, data: bytes, view: memoryview, position: int) -> int:
        if not self.head:
            self.start = self.member_start
            end = data.find(_END, position)
            if end >= 0:
                self._begin(data[position:end])
                return end + 4
            self.head += view[position:]
        else:
            old = len(self.head)
            self.head += view[position:position + _HEADER_MAX]
            end = self.head.find(_END, max(0, old - 3))
            if end >= 0:
                text, self.head = bytes(self.head[:end]), bytearray()
                self._begin(text)
                return position + end + 4 - old
        if len(self.head) > _HEADER_MAX:
            raise ValueError("a WARC header longer than 1 MB")
        return len(data)

    def _begin(self, text: bytes) -> None:
        lines = text.decode("utf-8", "replace").split("\r\n")
        if not lines[0].startswith("WARC/"):
            raise ValueError(f"no WARC record starts here ({lines[0][:40]!r})")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        self.headers, self.in_header, self.trailer = headers, False, b""
        self.remaining = int(headers.get("content-length", "0"))
        indexed = self.expected.pop(self.start, None)
        if indexed is not None and indexed != headers.get("warc-record-id"):
            self.misplaced.append((self.start, indexed))
        block_label, payload_label = headers.get("warc-block-digest"), headers.get("warc-payload-digest")
        self.block = _hasher(block_label) if block_label else None
        http = headers.get("content-type", "").startswith("application/http")
        self.http_tail, self.http_seen, self.payload = (b"" if http else None), 0, None
        if payload_label and headers.get("warc-type") != "revisit":
            same = self.block is not None and not http and \
                _hasher(payload_label).name == self.block.name
            self.payload = self.block if same else _hasher(payload_label)

    def _block(self, data: bytes, view: memoryview, start: int, stop: int) -> None:
        piece = view[start:stop]
        if self.block is not None:
            self.block.update(piece)
        if self.payload is None or self.payload is self.block:
            return
        if self.http_tail is None:
            self.payload.update(piece)
            return
        body = self._http_body(data, start, stop)
        if body >= 0:
            self.payload.update(view[body:stop])

    def _http_body(self, data: bytes, start: int, stop: int) -> int:
        """Where the payload starts in ``data[start:stop]`` once the HTTP header's end is found, else -1."""
        tail = self.http_tail or b""
        if tail:
            joined = tail + data[start:min(stop, start + 3)]
            found = joined.find(_END)
            if found >= 0:
                self.http_tail = None
                return start + found + 4 - len(tail)
        end = data.find(_END, start, stop)
        if end >= 0:
            self.http_tail = None
            return end + 4
        self.http_seen += stop - start
        # an HTTP header that never ends (over 1 MB): the payload cannot be told apart, nor checked
        self.http_tail = (tail + data[max(start, stop - 3):stop])[-3:] if self.http_seen <= _HEADER_MAX else None
        if self.http_tail is None:
            self.payload = None
        return -1

    def _finish(self) -> None:
        record_id = self.headers.get("warc-record-id")
        if self.trailer != _END:
            self.problem(self.start, record_id, "the record does not end where its Content-Length says")
        block_label, payload_label = self.headers.get("warc-block-digest"), self.headers.get("warc-payload-digest")
        if self.block is not None and block_label and not digest_matches(block_label, self.block):
            self.problem(self.start, record_id, "WARC-Block-Digest does not match the record's bytes")
        if self.payload is not None and payload_label and self.http_tail is None and \
                not digest_matches(payload_label, self.payload):
            self.problem(self.start, record_id, "WARC-Payload-Digest does not match the record's payload")
        self.in_header = True

    def not_found(self) -> list[tuple[int, str]]:
        """Index entries (offset, record id) with no such record at that offset, in offset order."""
        return sorted([*self.misplaced, *self.expected.items()])


class MemberReader:
    """Splits a stored object into gzip members, inflates each once and feeds ``RecordDigests``;
    hashes the stored bytes (SHA-256) on the way."""

    def __init__(self, records: RecordDigests, problem: Problem):
        self.records, self.problem = records, problem
        self.whole = hashlib.sha256()
        self.size = 0
        self.broken = False  # inflation stopped at damaged bytes
        self.other_headers: list[int] = []  # members whose gzip header is not the one the archiver writes
        self._inflater: Any = None
        self._header = b""  # the first bytes of the current member, up to 10
        self._step = _IN_STEP

    def read(self, stream: BinaryIO) -> None:
        buffer = bytearray(CHUNK)
        while count := stream.readinto(buffer):  # type: ignore[attr-defined]
            view = memoryview(buffer)[:count]
            self.whole.update(view)
            if not self.broken:
                self._inflate(view, self.size)
            self.size += count
        if not self.broken and (self._inflater is not None or not self.records.between_records):
            self.problem(self.records.member_start, None, "the object ends in the middle of a record")

    def _inflate(self, chunk: Any, base: int) -> None:
        position, size = 0, len(chunk)
        while position < size:
            if self._inflater is None:
                self._inflater = isal_zlib.decompressobj(zlib.MAX_WBITS | 16)
                self.records.member_start, self._header, self._step = base + position, b"", _IN_STEP
            if len(self._header) < 10:
                self._header += bytes(chunk[position:position + 10 - len(self._header)])
                if len(self._header) == 10 and self._header != GZIP_HEADER and \
                        len(self.other_headers) < _OTHER_HEADERS_KEPT:
                    self.other_headers.append(self.records.member_start)
            piece = chunk[position:position + self._step]
            inflater = self._inflater
            try:
                self.records.feed(inflater.decompress(piece, _OUT_STEP))
                while inflater.unconsumed_tail:
                    self.records.feed(inflater.decompress(inflater.unconsumed_tail, _OUT_STEP))
            except (isal_zlib.error, ValueError) as exc:
                self.problem(self.records.member_start, None, f"the record's bytes are damaged ({exc})")
                self.broken = True
                return
            if inflater.eof:
                position += len(piece) - len(inflater.unused_data)
                self._inflater = None
            else:
                position += len(piece)
                self._step = min(4 * self._step, CHUNK)
