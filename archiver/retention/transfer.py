"""Transfer before destruction: a minimal, valid WACZ package of the records being transferred.

``write_package`` is the one entry point disposition uses. It writes WACZ 1.1.1: the records
cut from the stored WARCs by byte range (each record is its own gzip member, so they are copied
whole, digests intact) into ``archive/data.warc.gz`` after a ``warcinfo`` record describing the
transfer; ``indexes/index.cdxj`` (by the webrecorder ``cdxj-indexer``); ``pages/pages.jsonl``
(one page per captured response); ``datapackage.json`` with the SHA-256 of every file; and
``datapackage-digest.json``. When the shared export writer (``archiver/exports/wacz.py``)
lands, this function can call it instead with the same spans: its callers need only the
returned ``Package``.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cdxj_indexer.main import CDXJIndexer
from warcio.archiveiterator import ArchiveIterator

from archiver import __version__
from archiver.capture.warc import WarcFileWriter
from storage.base import Storage, file_sha256

WACZ_VERSION = "1.1.1"


@dataclass(frozen=True)
class Package:
    path: Path
    sha256: str
    size: int
    records: int
    files: dict[str, str]  # name in the package → sha256


def _pages(warc: Path) -> list[dict[str, str]]:
    pages = []
    with warc.open("rb") as stream:
        for record in ArchiveIterator(stream):
            if record.rec_type == "response" and record.http_headers is not None:
                status = record.http_headers.get_statuscode()
                if status.startswith("2"):
                    headers = record.rec_headers
                    url = headers.get_header("WARC-Target-URI")
                    pages.append({"id": headers.get_header("WARC-Record-ID").strip("<>").removeprefix("urn:uuid:"),
                                  "url": url, "ts": headers.get_header("WARC-Date"), "title": url})
    return pages


def write_package(storage: Storage, spans: Iterable[tuple[str, int, int]], out: Path, *, title: str,
                  description: dict[str, object]) -> Package:
    """Write the records at ``spans`` ((key, offset, length), any order) into the WACZ file ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="transfer-", dir=out.parent) as scratch:
        work = Path(scratch)
        warc = work / "data.warc.gz"
        with WarcFileWriter(warc) as writer:
            writer.write_warcinfo({"software": f"gov-social-archiver/{__version__}", "format": "WARC File Format 1.1",
                                   "description": title, "archiver-transfer": json.dumps(description, default=str)},
                                  datetime.now(UTC))
        records = 0
        with warc.open("ab") as sink:
            for key, offset, length in sorted(set(spans)):
                sink.write(storage.read_range(key, offset, length))
                records += 1
        index = work / "index.cdxj"
        CDXJIndexer(output=str(index), inputs=[str(warc)], sort=True).process_all()
        pages = work / "pages.jsonl"
        lines = [{"format": "json-pages-1.0", "id": "pages", "title": "Captured responses"}, *_pages(warc)]
        pages.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
        members = {"archive/data.warc.gz": warc, "indexes/index.cdxj": index, "pages/pages.jsonl": pages}
        hashes = {name: file_sha256(path) for name, path in members.items()}
        datapackage = {
            "profile": "data-package", "wacz_version": WACZ_VERSION, "title": title,
            "description": json.dumps(description, default=str), "created": datetime.now(UTC).isoformat(),
            "software": f"gov-social-archiver/{__version__}",
            "resources": [{"name": Path(name).name, "path": name, "hash": f"sha256:{hashes[name]}",
                           "bytes": path.stat().st_size} for name, path in members.items()],
        }
        package_json = json.dumps(datapackage, indent=2).encode()
        digest = {"path": "datapackage.json", "hash": "sha256:" + hashlib.sha256(package_json).hexdigest()}
        partial = out.with_name(out.name + ".partial")
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as archive:
            for name, path in members.items():
                archive.write(path, name)
            archive.writestr("datapackage.json", package_json)
            archive.writestr("datapackage-digest.json", json.dumps(digest, indent=2))
        partial.replace(out)
    return Package(out, file_sha256(out), out.stat().st_size, records,
                   hashes | {"datapackage.json": digest["hash"].removeprefix("sha256:")})
