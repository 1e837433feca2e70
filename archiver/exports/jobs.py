"""Case packages built in the background, for the web app: queued, running with progress, done or failed.

A job is a row (``export_jobs``, migration 0019), so it outlives the page that asked for it and
the process that ran it: a job found queued or running at start (the server stopped under it)
is run again from the beginning (the builder discards a half-written package). The package is
always a zipped bag under ``<data_dir>/web/exports/<job>/``, offered for download when done.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from archiver import audit
from archiver.cases import register as cases
from archiver.config import Config
from archiver.exports.package.builder import PackageError
from archiver.exports.package.run import export_case, package_request
from archiver.exports.package.wacz import safe_name
from archiver.index.db import IndexDB
from archiver.index.models import Base
from storage.base import Storage, StorageError

log = logging.getLogger(__name__)
STATES = ("queued", "running", "done", "failed")


class ExportJob(Base):
    __tablename__ = "export_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(40), unique=True)
    case_name: Mapped[str] = mapped_column(String(128), index=True)
    options: Mapped[dict[str, Any]] = mapped_column(JSON)  # parts, redact, bates
    state: Mapped[str] = mapped_column(String(16))
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(128))
    requested_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    path: Mapped[str | None] = mapped_column(Text)
    manifest_sha256: Mapped[str | None] = mapped_column(String(64))


def submit(session: Session, case_name: str, options: dict[str, Any], by: str) -> ExportJob:
    case = cases.get_case(session, case_name)
    job = ExportJob(uid=f"X{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(4)}", case_name=case.name, options=options,
                    state="queued", done=0, total=0, requested_by=by, requested_at=datetime.now(UTC))
    session.add(job)
    session.flush()
    audit.record(session, "case.export_requested", case.name, who=by, job=job.uid, options=options)
    return job


def find(session: Session, uid: str) -> ExportJob | None:
    return session.scalar(select(ExportJob).where(ExportJob.uid == uid))


def for_case(session: Session, case_name: str) -> list[ExportJob]:
    return list(session.scalars(select(ExportJob).where(ExportJob.case_name == case_name)
                                .order_by(ExportJob.id.desc())))


def as_dict(job: ExportJob) -> dict[str, Any]:
    return {"uid": job.uid, "case": job.case_name, "options": job.options, "state": job.state, "done": job.done,
            "total": job.total, "message": job.message, "requested_by": job.requested_by,
            "requested_at": job.requested_at.isoformat(),
            "finished_at": job.finished_at.isoformat() if job.finished_at else None,
            "file": Path(job.path).name if job.path else None, "manifest_sha256": job.manifest_sha256}


class JobRunner:
    """One worker thread running queued jobs in order; ``wake`` after submitting one."""

    def __init__(self, config: Config, db: IndexDB, storage: Storage):
        self.config, self.db, self.storage = config, db, storage
        self.root = config.data_dir / "web" / "exports"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> JobRunner:
        with self.db.session() as session:  # the server stopped under these: run them again
            for job in session.scalars(select(ExportJob).where(ExportJob.state == "running")):
                job.state, job.done, job.message = "queued", 0, "restarted after the server stopped"
        self._thread = threading.Thread(target=self._loop, name="export-jobs", daemon=True)
        self._thread.start()
        self._wake.set()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=5)
            self._wake.clear()
            while not self._stop.is_set():
                with self.db.session() as session:
                    uid = session.scalar(select(ExportJob.uid).where(ExportJob.state == "queued")
                                         .order_by(ExportJob.id).limit(1))
                if uid is None:
                    break
                self.run(uid)

    def run(self, uid: str) -> None:
        with self.db.session() as session:
            job = find(session, uid)
            if job is None:
                return
            job.state, job.started_at, job.done = "running", datetime.now(UTC), 0
            options, by, case_name = dict(job.options), job.requested_by, job.case_name
        out = self.root / uid / safe_name(case_name)
        last = [0.0]

        def progress(done: int, total: int) -> None:
            if time.monotonic() - last[0] >= 0.5 or done == total:
                last[0] = time.monotonic()
                self._update(uid, done=done, total=total)

        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            with self.db.session() as session:
                case = cases.get_case(session, case_name)
                request = package_request(self.config, case_name, out, production=case.kind == "production",
                                          parts=tuple(options.get("parts") or ()), redact=bool(options.get("redact")),
                                          bates=bool(options.get("bates")), zip_bag=True)
                result = export_case(session, self.storage, self.config, request, by, progress)
        except (PackageError, cases.CaseError) as exc:
            self._update(uid, state="failed", message=str(exc), finished_at=datetime.now(UTC))
            return
        except StorageError as exc:
            self._update(uid, state="failed", finished_at=datetime.now(UTC),
                         message=f"cannot read the records for the package: {exc}; no package was written")
            return
        except Exception as exc:  # a job must end in a state the page can show, whatever went wrong
            log.exception("export job %s failed", uid)
            self._update(uid, state="failed", message=f"{type(exc).__name__}: {exc}", finished_at=datetime.now(UTC))
            return
        self._update(uid, state="done", path=str(result.path), manifest_sha256=result.manifest_sha256,
                     finished_at=datetime.now(UTC), message=f"{result.documents} item(s) packaged")

    def _update(self, uid: str, **values: Any) -> None:
        with self.db.session() as session:
            job = find(session, uid)
            if job is not None:
                for key, value in values.items():
                    setattr(job, key, value)
