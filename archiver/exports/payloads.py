"""One archived record's payload, read from the stored WARC by byte range.

The packages (the PDF's captured images) and the web app (record downloads, media) read a
record the same way: a revisit's payload comes from the record it refers to
(``exports.wacz.revisit_originals``); chunking and any Content-Encoding are undone, as warcio's
``content_stream()`` does; the archived response's status and headers come along.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from archiver.exports.package.native import extension, parse_record, record_name
from archiver.exports.wacz import revisit_originals
from storage.base import Storage


@dataclass
class Payload:
    evidence: dict[str, Any]
    content_type: str
    body: bytes
    status: int | None
    headers: list[tuple[str, str]]

    @property
    def filename(self) -> str:
        return record_name(self.evidence["record_id"]) + extension(self.content_type)


def read_payload(session: Session, storage: Storage, evidence: dict[str, Any], limit: int | None = None) -> Payload:
    """The decoded payload (at most ``limit`` bytes when given) with the archived response headers."""
    source = evidence
    if evidence["record_type"] == "revisit":
        source = revisit_originals(session, [evidence["record_id"]]).get(evidence["record_id"], evidence)
    block = storage.read_range(source["warc"], source["offset"], source["length"])
    record = parse_record(block, f"{source['warc']} offset {source['offset']}")
    http = record.http_headers
    content_type = ((http.get_header("Content-Type") if http else None)
                    or record.rec_headers.get_header("Content-Type") or "application/octet-stream")
    status = int(http.get_statuscode()) if http is not None and http.get_statuscode() else None
    return Payload(evidence, content_type, record.content_stream().read(limit), status,
                   list(http.headers) if http is not None else [])
