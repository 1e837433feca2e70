"""Writing a case's package: one pass over its documents into every selected part, then the bag.

The package is built in ``OUT.partial`` and renamed to ``OUT`` only when complete, so a
half-written package never sits where a clerk would send it. Order: the parts; the redaction
log; the chain-of-custody record; the certificate listing the SHA-256 of everything before it;
then the BagIt manifests (RFC 8493) over all of it (``bag.py``), and optionally a zip of the bag.
The payload is written into ``OUT.partial/data`` from the start, and nothing in a build changes
the process's working directory: the web app builds packages in threads of its server.
"""

from __future__ import annotations

import importlib
import os
import platform
import shutil
import socket
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from archiver import __version__
from archiver.cases import register as cases
from archiver.cases import release
from archiver.exports.cells import SafeCsvWriter
from archiver.exports.package import custody
from archiver.exports.package.bag import write_bag
from archiver.exports.package.documents import documents
from archiver.exports.package.parts import BatesOptions, PackageContext, PackagePart
from archiver.exports.package.redaction import Redactor
from archiver.exports.selection import ExportTargetError, new_folder
from archiver.items import history_evidence, source_warcs
from storage.base import Storage, file_sha256

# Part name → "module:class", imported only when chosen (WeasyPrint is slow to load).
PARTS: dict[str, str] = {
    "pdf": "archiver.exports.package.pdf:PdfPart",
    "loadfiles": "archiver.exports.package.loadfiles:LoadFilesPart",
    "csv": "archiver.exports.package.tables:CsvPart",
    "xlsx": "archiver.exports.package.tables:XlsxPart",
    "jsonl": "archiver.exports.package.tables:JsonLinesPart",
    "native": "archiver.exports.package.native:NativePart",
    "wacz": "archiver.exports.package.wacz:WaczPart",
}
SELECTABLE = ("pdf", "csv", "xlsx", "jsonl", "native", "wacz")
UNREDACTABLE = ("native", "wacz")  # the captured bytes themselves: left out of a redacted package unless asked


class PackageError(Exception):
    """The package cannot be made as asked; the message says why and what to do."""


@dataclass
class PackageRequest:
    case: str
    out: Path
    parts: tuple[str, ...] = ()  # empty: every part (less the unredactable ones when redacting)
    redact: bool = False
    bates: BatesOptions | None = None
    zip: bool = False
    redaction_patterns: list[tuple[str, str]] = field(default_factory=list)
    certifier: str = ""

    def chosen(self) -> list[str]:
        unknown = [p for p in self.parts if p not in SELECTABLE]
        if unknown:
            raise PackageError(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(SELECTABLE)}")
        chosen = list(self.parts) or [p for p in SELECTABLE if not (self.redact and p in UNREDACTABLE)]
        if self.bates is not None:
            if "pdf" not in chosen:
                raise PackageError("Bates numbers are stamped on the PDF pages: include the pdf part")
            chosen.insert(chosen.index("pdf") + 1, "loadfiles")
        return chosen


@dataclass
class PackageResult:
    path: Path
    documents: int
    parts: list[dict[str, Any]]
    files: dict[str, str]  # data/ path → sha256, as in the certificate
    redactions: int
    manifest_sha256: str


def _part(name: str, context: PackageContext) -> PackagePart:
    module, _, cls = PARTS[name].partition(":")
    try:
        part_class = getattr(importlib.import_module(module), cls)
    except (ImportError, OSError) as exc:
        raise PackageError(f"the {name} part cannot load ({exc}); install the package's dependencies") from None
    part: PackagePart = part_class(context)
    return part


Progress = Callable[[int, int], None]  # (documents written, documents in all)


def build(session: Session, storage: Storage, request: PackageRequest, *, agency: str, storage_url: str,
          by: str, progress: Progress | None = None) -> PackageResult:
    out = request.out
    try:
        new_folder(out, *([_zip_path(out)] if request.zip else []), create=False)
    except ExportTargetError as exc:
        raise PackageError(str(exc)) from None
    chosen = request.chosen()
    case = cases.get_case(session, request.case)
    withheld = release.withholdings(session, case)
    item_ids = cases.case_item_ids(session, case, leave_out={w["item"] for w in withheld})
    if not item_ids:
        raise PackageError(f"case {request.case} holds no items to release; add some with: "
                           f"archiver request add {request.case} …")
    staging = out.with_name(out.name + ".partial")
    if staging.exists():
        shutil.rmtree(staging)  # left by an interrupted export: never part of a package
    payload = staging / "data"
    payload.mkdir(parents=True)
    now = datetime.now(UTC)
    summary = cases.summary(session, case)
    context = PackageContext(session=session, storage=storage, data_dir=payload, agency=agency, case=summary,
                             exported_at=now, exported_by=by, software=f"gov-social-archiver/{__version__}",
                             redacting=request.redact, bates=request.bates)
    parts: list[PackagePart] = []
    try:
        parts = [_part(name, context) for name in chosen]
        decisions = release.decisions(session, case) if request.redact else None
        finished, count, redactions, warc_keys = _write_parts(session, payload, parts, item_ids, request, decisions,
                                                              progress)
        _withholding_log(payload, withheld, decisions and release.decision_log(session, case))
        part_rows = [{"part": s.name, "documents": s.documents, "files": len(s.files),
                      **{k: v for k, v in s.details.items() if k != "source_warcs"}} for s in finished]
        for s in finished:
            warc_keys |= {w["key"] for w in s.details.get("source_warcs", [])}
        meta = {"case": summary, "exported_at": now.isoformat(), "exported_by": by, "software": context.software,
                "host": socket.gethostname(), "python": platform.python_version(), "agency": agency,
                "storage": storage_url, "options": {"parts": chosen, "redact": request.redact,
                                                    "bates": request.bates.__dict__ if request.bates else None}}
        files, manifest_sha = _seal(staging, meta, cases.searches(session, case), part_rows,
                                    source_warcs(session, warc_keys), redactions, count, request.certifier)
        if out.exists():
            out.rmdir()
        staging.replace(out)
    except BaseException:
        for part in parts:
            part.abort()
        shutil.rmtree(staging, ignore_errors=True)  # never leave half a package behind
        raise
    final = _zip(out) if request.zip else out
    return PackageResult(final, count, part_rows, files, redactions, manifest_sha)


def _seal(staging: Path, meta: dict[str, Any], searches: list[dict[str, Any]],
          part_rows: list[dict[str, Any]], sources: list[dict[str, Any]], redactions: int, count: int,
          certifier: str) -> tuple[dict[str, str], str]:
    """Custody record, certificate over every file before it, then the BagIt manifests."""
    payload = staging / "data"
    custody.write_json(payload / "custody.json",
                       custody.custody_record(meta, searches, part_rows, sources, redactions))
    files = custody.file_hashes(payload)
    text = custody.certificate_text(meta, files, sources, certifier)
    (payload / "certificate.txt").write_text(text, encoding="utf-8")
    (payload / "certificate.html").write_text(custody.certificate_html(text), encoding="utf-8")
    if "pdf" in meta["options"]["parts"]:  # WeasyPrint is loaded already; else the HTML prints from a browser
        _certificate_pdf(text, payload / "certificate.pdf")
    write_bag(staging, _bag_info(meta, meta["case"], count), known=files)
    return files, file_sha256(staging / "manifest-sha256.txt")


def _withholding_log(payload: Path, withheld: list[dict[str, Any]], decisions: list[dict[str, Any]] | None) -> None:
    """``withholding-log.csv`` (what was left out, under which statute) and the clerk's redaction decisions."""
    if withheld:
        with (payload / "withholding-log.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = SafeCsvWriter(handle)
            writer.writerow(["item", "citation", "reason", "withheld_by", "withheld_at"])
            writer.writerows([w["item"], w["citation"], w["reason"], w["by"], w["at"]] for w in withheld)
    if decisions:
        with (payload / "redaction-decisions.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = SafeCsvWriter(handle)
            writer.writerow(["item", "action", "rule", "reason", "by", "at", "revoked_by", "revoked_at"])
            writer.writerows([d["item"], d["action"], d["rule"], d["reason"] or "", d["by"], d["at"],
                              d["revoked_by"] or "", d["revoked_at"] or ""] for d in decisions)


def _write_parts(session: Session, payload: Path, parts: list[PackagePart], item_ids: list[int],
                 request: PackageRequest, decisions: release.Decisions | None = None,
                 progress: Progress | None = None) -> tuple[list[Any], int, int, set[str]]:
    """One pass over the documents into every part; the redaction log beside them."""
    for part in parts:
        part.start()
    redactor = Redactor(request.redaction_patterns, decisions) if request.redact else None
    redaction_log = (payload / "redaction-log.csv").open("w", encoding="utf-8", newline="") if redactor else None
    log_writer = SafeCsvWriter(redaction_log) if redaction_log else None
    if log_writer:
        log_writer.writerow(["document", "item", "field", "rule", "count"])
    warc_keys: set[str] = set()
    count = redactions = 0
    try:
        for document in documents(session, item_ids, redactor):
            count += 1
            warc_keys |= {evidence["warc"] for evidence in history_evidence(document.history)}
            for part in parts:
                part.add(document)
            if progress is not None:
                progress(count, len(item_ids))
            if log_writer:
                for entry in document.redactions:
                    log_writer.writerow([entry["document"], entry["item"], entry["field"], entry["rule"],
                                         entry["count"]])
                    redactions += entry["count"]
        finished = [part.finish() for part in parts]
    finally:
        if redaction_log:
            redaction_log.close()
    return finished, count, redactions, warc_keys


def _bag_info(meta: dict[str, Any], case: dict[str, Any], count: int) -> dict[str, str]:
    info = {
        "Source-Organization": meta["agency"],
        "External-Identifier": case["name"],
        "External-Description": (f"{'Records request' if case['kind'] == 'request' else 'Legal production'} "
                                 f"{case['name']}: {count} item(s) from the social media archive"),
        "Bag-Software-Agent": meta["software"],
        "Case-Kind": case["kind"],
        "Case-Requester": case["requester"] or "",
        "Case-Received": case["received"] or "",
        "Case-Due": case["due"] or "",
        "Export-Time": meta["exported_at"],
        "Exported-By": meta["exported_by"],
        "Redacted": "yes" if meta["options"]["redact"] else "no",
    }
    return {key: value for key, value in info.items() if value}


def _certificate_pdf(text: str, path: Path) -> None:
    """The certificate as a PDF/A to print and sign, like the item PDFs, when WeasyPrint is available."""
    try:
        from weasyprint import HTML

        from archiver.exports.package.render import VARIANT, url_fetcher
    except (ImportError, OSError):  # the text certificate is always there
        return
    HTML(string=custody.certificate_html(text), url_fetcher=url_fetcher()).write_pdf(path, pdf_variant=VARIANT)


def _zip_path(folder: Path) -> Path:
    return folder.with_name(folder.name + ".zip")


def _zip(folder: Path) -> Path:
    """The bag zipped as RFC 8493 serializes it: one top-level folder named like the bag."""
    target = _zip_path(folder)
    partial = target.with_name(target.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            archive.write(path, f"{folder.name}/{path.relative_to(folder).as_posix()}")
    try:
        os.link(partial, target)  # never over an earlier package: fails if the name was taken meanwhile
    except FileExistsError:
        partial.unlink()
        raise
    except OSError:  # a file system without hard links
        if target.exists():
            partial.unlink()
            raise FileExistsError(f"{target} already exists") from None
        partial.replace(target)
    partial.unlink(missing_ok=True)
    shutil.rmtree(folder)
    return target
