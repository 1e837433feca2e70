"""Exporting a case: the package request from options and config, the build, and its audit entry.

``archiver export CASE`` and the web app's background export jobs both come through here, so a
package made either way is the same and is audited the same way.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from archiver import audit
from archiver.cases import register as cases
from archiver.config import Config
from archiver.exports.package.builder import PackageError, PackageRequest, PackageResult, Progress, build
from archiver.exports.package.parts import BatesOptions
from storage.base import Storage


def package_request(config: Config, case: str, out: Path, *, production: bool, parts: tuple[str, ...] = (),
                    redact: bool = False, bates: bool = False, bates_prefix: str | None = None,
                    bates_start: int | None = None, zip_bag: bool = False) -> PackageRequest:
    """What to build; Bates numbering is on for productions or when asked, from [exports] unless given."""
    settings = config.exports
    numbering = None
    if bates or production or bates_prefix or bates_start:
        if bates_start is not None and bates_start < 1:
            raise PackageError("--bates-start must be 1 or more")
        numbering = BatesOptions(bates_prefix if bates_prefix is not None else settings.bates_prefix,
                                 bates_start or settings.bates_start, settings.bates_padding)
    return PackageRequest(case, out, parts, redact, numbering, zip_bag,
                          [(p.name, p.pattern) for p in settings.redaction_patterns], settings.certifier)


def export_case(session: Session, storage: Storage, config: Config, request: PackageRequest, by: str,
                progress: Progress | None = None) -> PackageResult:
    """Build the package and record it in the audit trail under ``by``, in the same unit of work."""
    cases.get_case(session, request.case)
    result = build(session, storage, request, agency=config.archiver.agency, storage_url=config.storage_url, by=by,
                   progress=progress)
    audit.record(session, "case.exported", request.case, who=by, out=str(result.path.resolve()),
                 documents=result.documents, parts=[p["part"] for p in result.parts], redacted=request.redact,
                 redactions=result.redactions, bates=request.bates.__dict__ if request.bates else None,
                 manifest_sha256=result.manifest_sha256)
    return result
