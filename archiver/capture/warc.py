"""Writing WARC/1.1 files: one gzip member per record, SHA-256 digests, offsets for the index.

warcio builds the records; this module adds what a records archive needs on top: SHA-256
instead of SHA-1 block and payload digests, the offset and length of every record (so the
index can point into the file and exports can cut records out by byte range), and a
compression level chosen for throughput.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

GZIP_LEVEL = 6  # ~3x faster than warcio's level 9 for ~2% larger files


def warc_date(moment: datetime) -> str:
    """WARC/1.1 date with microseconds, always UTC ("2026-11-23T06:45:24.123456Z")."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_warc_date(text: str) -> datetime:
    text = text.rstrip("Z")
    fmt = "%Y-%m-%dT%H:%M:%S.%f" if "." in text else "%Y-%m-%dT%H:%M:%S"
    return datetime.strptime(text, fmt).replace(tzinfo=UTC)


def sha256_label(data: bytes) -> str:
    """A digest in the WARC header form: "sha256:" + base32."""
    return "sha256:" + base64.b32encode(hashlib.sha256(data).digest()).decode()


def digest_hex(label: str) -> str:
    """Hex of a WARC digest label ("sha256:BASE32..." → "ab12...")."""
    _, _, value = label.partition(":")
    try:
        return base64.b32decode(value).hex()
    except (binascii.Error, ValueError):
        return value  # already hex, as some tools write it


class _Sha256WARCWriter(WARCWriter):
    @staticmethod
    def _create_digester() -> Digester:
        return Digester("sha256")


class _GzipMember:
    """A file-like that gzips everything written between flushes into one member.

    warcio flushes once at the end of each record, so each record becomes its own gzip
    member, which is what lets readers seek straight to a record's offset.
    """

    def __init__(self, sink: BinaryIO):
        self.sink = sink
        self._compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS + 16)

    def write(self, data: bytes) -> int:
        self.sink.write(self._compressor.compress(data))
        return len(data)

    def flush(self) -> None:
        self.sink.write(self._compressor.flush())
        self._compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS + 16)


@dataclass(frozen=True)
class RecordRef:
    """Where a record landed: enough to find it again and to prove it unchanged."""

    record_id: str
    record_type: str
    offset: int
    length: int
    block_digest: str
    payload_digest: str | None
    date: str
    target_uri: str


@dataclass(frozen=True)
class RevisitTarget:
    """The earlier record that holds a payload again being received."""

    record_id: str
    target_uri: str
    date: str
    payload_digest: str


class WarcFileWriter:
    """Appends records to one WARC file and reports where each one went.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.warc.gz"
    >>> with WarcFileWriter(path) as warc:
    ...     ref = warc.write_resource("urn:example", b"hello", "text/plain")
    >>> ref.offset, ref.record_type
    (0, 'resource')
    """

    def __init__(self, path: Path):
        self.path = path
        self._file = path.open("ab")
        self._writer = _Sha256WARCWriter(None, gzip=False, warc_version="WARC/1.1")
        self.records = 0

    def __enter__(self) -> WarcFileWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def size(self) -> int:
        return self._file.tell()

    def write(self, record: ArcWarcRecord) -> RecordRef:
        offset = self._file.tell()
        self._writer.out = _GzipMember(self._file)
        self._writer.write_record(record)
        headers = record.rec_headers
        self.records += 1
        return RecordRef(
            record_id=headers.get_header("WARC-Record-ID"),
            record_type=headers.get_header("WARC-Type"),
            offset=offset,
            length=self._file.tell() - offset,
            block_digest=headers.get_header("WARC-Block-Digest") or "",
            payload_digest=headers.get_header("WARC-Payload-Digest"),
            date=headers.get_header("WARC-Date"),
            target_uri=headers.get_header("WARC-Target-URI") or "",
        )

    def make_record(
        self,
        uri: str,
        record_type: str,
        payload: bytes | BinaryIO,
        *,
        http_headers: StatusAndHeaders | None = None,
        warc_headers: dict[str, str] | None = None,
        content_type: str | None = None,
        length: int | None = None,
    ) -> ArcWarcRecord:
        stream = io.BytesIO(payload) if isinstance(payload, bytes) else payload
        if length is None and isinstance(payload, bytes):
            length = len(payload)
        return self._writer.create_warc_record(
            uri,
            record_type,
            payload=stream,
            length=length,
            warc_content_type=content_type or "",
            http_headers=http_headers,
            warc_headers_dict=warc_headers or {},
        )

    def make_revisit(
        self, uri: str, original: RevisitTarget, http_headers: StatusAndHeaders, warc_headers: dict[str, str]
    ) -> ArcWarcRecord:
        """A revisit record: the headers of a response whose payload is already archived."""
        record = self._writer.create_revisit_record(
            uri, original.payload_digest, original.target_uri, original.date,
            http_headers=http_headers, warc_headers_dict=warc_headers,
        )
        record.rec_headers.add_header("WARC-Refers-To", original.record_id)
        return record

    def write_warcinfo(self, fields: dict[str, str], moment: datetime) -> RecordRef:
        body = "".join(f"{name}: {value}\r\n" for name, value in fields.items() if value).encode()
        return self.write(
            self.make_record(
                "",
                "warcinfo",
                body,
                content_type="application/warc-fields",
                warc_headers={"WARC-Filename": self.path.name.removesuffix(".open"), "WARC-Date": warc_date(moment)},
            )
        )

    def write_resource(
        self, uri: str, data: bytes, content_type: str, extra: dict[str, str] | None = None
    ) -> RecordRef:
        return self.write(self.make_record(uri, "resource", data, content_type=content_type, warc_headers=extra))

    def write_metadata(self, uri: str, data: bytes, extra: dict[str, str] | None = None) -> RecordRef:
        return self.write(self.make_record(uri, "metadata", data, content_type="application/json", warc_headers=extra))

    def sync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if not self._file.closed:
            self.sync()
            self._file.close()
