"""The native part: the API payloads as they came from the platform, and which document needs which.

Every distinct evidence record of the case's items (each version's first and last evidence,
each media capture) gives one file ``data/native/records/<record-uuid>.<ext>``, written once
however many items it is evidence for (a listing page holds a hundred posts), and each
document gets ``data/native/DOC000001/records.json`` naming its records. A file is
the HTTP entity body of the stored record, decoded the way warcio's ``content_stream()``
decodes it — chunked transfer-encoding removed, and a Content-Encoding (gzip, deflate, br)
undone — so a JSON response is readable JSON, a photo a viewable JPEG. A revisit record holds
no payload; its file is the payload of the record it refers to, which has the same bytes.

``records.json`` says, for each record, where it came from (WARC key, record id,
offset, target URI — secrets were redacted from URIs at capture — and capture time), the
SHA-256 of the payload as the index recorded it, the SHA-256 of the file, and whether the
entity as stored matches the index (it always should; a mismatch means the WARC changed).
When the platform sent a Content-Encoding, the file is the decoded body, so its own digest
differs from the stored entity's and ``decoded`` names the encoding.
"""

from __future__ import annotations

import hashlib
import io
import json
import mimetypes
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import ChunkedDataReader
from warcio.recordloader import ArcWarcRecord

from archiver.exports.package.parts import CaseDocument, PackagePart, PartSummary
from archiver.exports.wacz import revisit_originals
from archiver.items import history_evidence, source_warcs
from storage.base import StorageError

BLOCK = 1024 * 1024
EXTENSIONS = {"application/json": ".json", "text/javascript": ".json", "application/rss+xml": ".xml",
              "application/atom+xml": ".xml", "application/xml": ".xml", "text/xml": ".xml",
              "image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
              "video/mp4": ".mp4", "text/html": ".html", "text/plain": ".txt"}


def extension(content_type: str | None) -> str:
    """The file extension for a Content-Type.

    >>> extension("application/json; charset=UTF-8"), extension("application/rss+xml"), extension(None)
    ('.json', '.xml', '.bin')
    """
    kind = (content_type or "").split(";")[0].strip().lower()
    return EXTENSIONS.get(kind) or (mimetypes.guess_extension(kind) if kind else None) or ".bin"


def record_name(record_id: str) -> str:
    """'<urn:uuid:5f0c2b9e-…>' → '5f0c2b9e…' (the whole UUID, as hex)."""
    return record_id.strip("<>").removeprefix("urn:uuid:").replace("-", "")


def parse_record(block: bytes, where: str = "") -> ArcWarcRecord:
    for record in ArchiveIterator(io.BytesIO(block)):
        return record
    raise StorageError(f"no WARC record at {where}: the index and the stored WARC disagree; run 'archiver verify'")


def _stored_entity_sha256(block: bytes) -> str:
    """SHA-256 of the entity as stored: chunking removed, any Content-Encoding kept (as the index hashed it)."""
    record = parse_record(block)
    headers = record.http_headers
    stream: Any = record.raw_stream
    if headers is not None and "chunked" in (headers.get_header("Transfer-Encoding") or "").lower():
        stream = ChunkedDataReader(record.raw_stream, decomp_type=None)
    digest = hashlib.sha256()
    while chunk := stream.read(BLOCK):
        digest.update(chunk)
    return digest.hexdigest()


class NativePart(PackagePart):
    name = "native"

    def start(self) -> None:
        self.keys: set[str] = set()
        self.files = 0
        self.mismatches: list[str] = []
        # Records already written (a listing is evidence for every item on it): path and facts.
        self.written: dict[tuple[str, int], tuple[Path, dict[str, Any]]] = {}
        (self.folder / "records").mkdir(exist_ok=True)

    def _payload(self, source: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
        """Decode the payload of the record at ``source`` into ``records/``, once per record."""
        where = (source["warc"], source["offset"])
        if where in self.written:
            return self.written[where]
        block = self.context.storage.read_range(source["warc"], source["offset"], source["length"])
        self.keys.add(source["warc"])
        record = parse_record(block, f"{source['warc']} offset {source['offset']}")
        headers = record.http_headers
        content_type = headers.get_header("Content-Type") if headers else record.rec_headers.get_header("Content-Type")
        encoding = (headers.get_header("Content-Encoding") if headers else None) or None
        path = self.folder / "records" / (record_name(source["record_id"]) + extension(content_type))
        digest, size = hashlib.sha256(), 0
        stream = record.content_stream()
        with path.open("wb") as handle:
            while chunk := stream.read(BLOCK):
                digest.update(chunk)
                handle.write(chunk)
                size += len(chunk)
        file_sha = digest.hexdigest()
        facts = {"content_type": content_type, "encoding": encoding, "bytes": size, "file_sha256": file_sha,
                 "stored_sha256": _stored_entity_sha256(block) if encoding else file_sha}
        self.written[where] = (path, facts)
        self.files += 1
        return path, facts

    def _write(self, evidence: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
        """The payload from the record at ``source`` (the evidence itself, or a revisit's original)."""
        path, facts = self._payload(source)
        content_type, encoding, size = facts["content_type"], facts["encoding"], facts["bytes"]
        file_sha, stored_sha = facts["file_sha256"], facts["stored_sha256"]
        expected = evidence.get("sha256") or source.get("sha256")
        entry = {"file": path.relative_to(self.folder).as_posix(), "warc": evidence["warc"],
                 "record_id": evidence["record_id"],
                 "record_type": evidence["record_type"], "offset": evidence["offset"],
                 "length": evidence["length"], "target_uri": evidence["target_uri"],
                 "status": evidence.get("status"), "captured_at": evidence.get("captured_at"),
                 "content_type": content_type, "bytes": size, "payload_sha256": expected,
                 "file_sha256": file_sha, "matches": stored_sha == expected}
        if encoding:
            entry["decoded"] = encoding
        if source is not evidence:
            entry["payload_from"] = {"warc": source["warc"], "record_id": source["record_id"],
                                     "offset": source["offset"], "length": source["length"]}
        if not entry["matches"] and self.relative(path) not in self.mismatches:
            self.mismatches.append(self.relative(path))
        return entry

    def add(self, document: CaseDocument) -> None:
        self.count += 1
        folder = self.folder / document.doc_id
        folder.mkdir(exist_ok=True)
        found = history_evidence(document.history)
        originals = revisit_originals(self.context.session,
                                      [e["record_id"] for e in found if e["record_type"] == "revisit"])
        entries = []
        for evidence in found:
            source = originals.get(evidence["record_id"], evidence)
            if evidence["record_type"] == "revisit" and source is evidence:
                entries.append({"record_id": evidence["record_id"], "warc": evidence["warc"],
                                "target_uri": evidence["target_uri"], "file": None,
                                "missing": "revisit whose original record is no longer in the index"})
                continue
            entries.append(self._write(evidence, source))
        history = document.history
        listing = {"doc_id": document.doc_id, "item": {"id": history.get("id"), "account": history.get("account"),
                   "platform": history.get("platform"), "platform_id": history.get("platform_id"),
                   "kind": history.get("kind")}, "records": entries}
        (folder / "records.json").write_text(json.dumps(listing, indent=2, ensure_ascii=False) + "\n",
                                             encoding="utf-8")

    def finish(self) -> PartSummary:
        files = sorted(p for p in self.folder.rglob("*") if p.is_file())
        return PartSummary(self.name, files=[self.relative(p) for p in files], documents=self.count, details={
            "payloads": self.files, "mismatches": self.mismatches,
            "source_warcs": source_warcs(self.context.session, self.keys)})
