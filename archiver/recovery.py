"""Start-up recovery: finish whatever a crash, a kill or a storage outage left half done.

Run before any harvest (and periodically by the daemon). For every harvest that is not
alive (its lock is free) and still has files in the spool:

- a half-written ``.open`` WARC is cut back to its last whole record, closed with a metadata
  record saying it was recovered, sealed, and indexed from its own bytes (what the dead
  process staged for it is dropped, since the file is the record);
- sealed WARCs are stored (verified by the store) and what the harvest staged is applied;
- the harvest is marked ``interrupted`` (or ``failed``) and its cursor is left where it was.

Nothing the index refers to is ever missing from storage, and nothing is lost: a WARC that
cannot be stored yet simply stays in the spool for the next attempt.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archiver import audit, summary
from archiver.capture.spool import (
    OPEN_SUFFIX,
    SealedWarc,
    complete_records_end,
    name_order,
    seal,
    spool_files,
    try_lock,
)
from archiver.capture.warc import WarcFileWriter, warc_date
from archiver.config import Config
from archiver.index.db import IndexDB
from archiver.index.ledger import now
from archiver.index.models import Evidence, Harvest, StagedObservation, WarcFile
from archiver.ingest import apply_staged, drop_file_evidence, store_warc
from archiver.leases import leased_account_ids
from archiver.reindex import WarcIndexer
from archiver.retention.lock import LockPolicy
from connectors.base import describe_failure
from storage.base import Storage, StorageError, file_sha256

log = logging.getLogger(__name__)


@dataclass
class RecoveryReport:
    completed: list[str] = field(default_factory=list)  # half-written files cut back and sealed
    stored: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # still in the spool: storage refused
    harvests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.completed or self.stored or self.pending or self.harvests or self.errors)


@dataclass
class _Recovered:
    sealed: SealedWarc
    from_bytes: bool  # index from the file itself, not from what the dead process staged
    state: str | None = None  # the index's state for the file before recovery


def _uid_of(path: Path) -> str:
    # name: platform-account-<uid: YYYYmmddTHHMMSSZ-hex>-NNNN.warc.gz[.open]
    stem = path.name.removesuffix(OPEN_SUFFIX).removesuffix(".warc.gz")
    parts = stem.rsplit("-", 3)
    return f"{parts[1]}-{parts[2]}" if len(parts) == 4 else ""


def _complete_open_file(path: Path) -> SealedWarc:
    """Cut a half-written WARC back to its last whole record and seal it."""
    end, count = complete_records_end(path)
    with path.open("r+b") as handle:
        handle.truncate(end)
        handle.flush()
        os.fsync(handle.fileno())
    with WarcFileWriter(path) as writer:
        note = {"event": "recovered", "whole_records": count, "recovered_at": warc_date(now()),
                "reason": "the harvest that wrote this file stopped before sealing it"}
        writer.write_metadata(f"urn:archiver:recovery:{path.name}", json.dumps(note).encode())
    return seal(path)


class Recovery:
    def __init__(self, config: Config, db: IndexDB, storage: Storage):
        self.config = config
        self.db = db
        self.storage = storage
        self.locks = config.spool_dir / ".locks"

    def run(self) -> RecoveryReport:
        report = RecoveryReport()
        by_harvest: dict[str, list[Path]] = {}
        for path in spool_files(self.config.spool_dir):
            by_harvest.setdefault(_uid_of(path), []).append(path)
        for uid, paths in by_harvest.items():
            lock = try_lock(self.locks / f"harvest-{uid}.lock", create=True)
            if lock is None:
                continue  # that harvest is alive in another process
            try:
                self._recover(uid, sorted(paths, key=lambda p: name_order(p.name)), report)
            except StorageError as exc:
                report.errors.append(str(exc))
            except Exception as exc:  # one harvest's trouble never keeps the others (or the command) from running
                log.exception("recovering harvest %s failed", uid)
                report.errors.append(f"recovering harvest {uid} failed ({describe_failure(exc)}); its files stay in "
                                     "the spool and are tried again on the next start")
            finally:
                os.close(lock)
                (self.locks / f"harvest-{uid}.lock").unlink(missing_ok=True)
        self._orphaned_stages(report)
        return report

    def _recover(self, uid: str, paths: list[Path], report: RecoveryReport) -> None:
        files: list[_Recovered] = []
        for path in paths:
            if path.name.endswith(OPEN_SUFFIX):
                sealed = _complete_open_file(path)
                report.completed.append(sealed.key)
            else:
                sealed = SealedWarc(path.relative_to(self.config.spool_dir).as_posix(), path, path.stat().st_size,
                                    file_sha256(path))
            files.append(_Recovered(sealed, from_bytes=path.name.endswith(OPEN_SUFFIX)))
        with self.db.session() as session:
            harvest = session.scalar(select(Harvest).where(Harvest.uid == uid))
            owner = (harvest.id, harvest.account_id) if harvest else None
            # A harvest that could not store its WARCs says so; indexing them below must not erase that.
            upload_failed = harvest.error if harvest is not None and harvest.cause == "storage" else None
            for recovered in files:
                warc = session.scalar(select(WarcFile).where(WarcFile.key == recovered.sealed.key))
                recovered.state = warc.state if warc else None
                if warc is None or recovered.from_bytes or warc.state == "open":
                    # What the dead process staged for this file is not trusted; the file itself is.
                    recovered.from_bytes = True
                    if warc is not None:
                        drop_file_evidence(session, warc.id)
                        session.delete(warc)
        locks = LockPolicy(self.config)
        for recovered in files:
            sealed = recovered.sealed
            try:
                if recovered.from_bytes:  # the index row comes back when the file is indexed below
                    with self.db.session() as session:  # nothing staged to go by: counted from now
                        until = locks.for_account_file(session, sealed.key.split("/")[1])
                    self.storage.put(sealed.key, sealed.path, sealed.sha256, retain_until=until)
                elif recovered.state != "stored":
                    store_warc(self.db, self.storage, sealed, locks)
                else:
                    continue
            except StorageError as exc:
                report.pending.append(sealed.key)
                raise StorageError(f"{sealed.key} stays in the spool: {exc}") from None
            report.stored.append(sealed.key)
        indexer = WarcIndexer(self.db, self.config.capture.body_max_bytes)
        versions = observations = 0  # what this recovery put into the index for the harvest
        for recovered in files:
            sealed = recovered.sealed
            if recovered.from_bytes:
                with sealed.path.open("rb") as stream:
                    indexed = indexer.index(sealed.key, stream, size=sealed.size, sha256=sealed.sha256)
                versions, observations = versions + indexed.new_versions, observations + indexed.observations
            elif owner is not None:
                with self.db.session() as session:
                    warc_id = session.scalar(select(WarcFile.id).where(WarcFile.key == sealed.key))
                    observations += _staged(session, owner[0], warc_id)
                versions += apply_staged(self.db, *owner, warc_id)
        with files[-1].sealed.path.open("rb") as last:  # the summary, if any, ends the harvest's last file
            record, recovered_at = summary.read([last])
        with self.db.session() as session:
            harvest = session.scalar(select(Harvest).where(Harvest.uid == uid))
            if harvest is not None and (harvest.status == "running" or upload_failed):
                _conclude(session, harvest, record, recovered_at, versions, observations)
            if harvest is not None and upload_failed and any(r.sealed.key in report.stored for r in files):
                harvest.error = f"{upload_failed} — stored and indexed by recovery {warc_date(now())}"
            audit.record(session, "harvest.recovered", uid, warcs=[r.sealed.key for r in files],
                         cut_back=[r.sealed.key for r in files if r.sealed.key in report.completed])
        for recovered in files:
            recovered.sealed.path.unlink(missing_ok=True)
        report.harvests.append(uid)

    def _orphaned_stages(self, report: RecoveryReport) -> None:
        """Harvests whose files are all stored but whose staged observations were not all applied."""
        with self.db.session() as session:
            rows = session.execute(
                select(Harvest.id, Harvest.uid, Harvest.account_id).where(
                    Harvest.status == "running",
                    Harvest.id.in_(select(StagedObservation.harvest_id).distinct()),
                )
            ).all()
        leased = leased_account_ids(self.db) if rows else set()
        for harvest_id, uid, account_id in rows:
            if account_id in leased:  # its account is being harvested, maybe by a daemon on another host
                continue
            lock = try_lock(self.locks / f"harvest-{uid}.lock", create=True)
            if lock is None:
                continue
            try:
                with self.db.session() as session:
                    unstored = session.scalar(select(WarcFile.id).where(
                        WarcFile.harvest_id == harvest_id, WarcFile.state != "stored"))
                if unstored is not None:
                    continue
                with self.db.session() as session:
                    observations = _staged(session, harvest_id)
                    last = session.scalar(select(WarcFile.key).where(WarcFile.harvest_id == harvest_id)
                                          .order_by(WarcFile.key.desc()).limit(1))
                versions = apply_staged(self.db, harvest_id, account_id)
                record, recovered_at = None, None
                if last is not None:
                    try:
                        with self.storage.open(last) as stream:
                            record, recovered_at = summary.read([stream])
                    except StorageError as exc:  # then it ends as interrupted: nothing says otherwise
                        report.errors.append(f"the summary of harvest {uid} could not be read: {exc}")
                with self.db.session() as session:
                    harvest = session.get(Harvest, harvest_id)
                    if harvest is not None and harvest.status == "running":
                        _conclude(session, harvest, record, recovered_at, versions, observations)
                report.harvests.append(uid)
            finally:
                os.close(lock)
                (self.locks / f"harvest-{uid}.lock").unlink(missing_ok=True)


def _staged(session: Session, harvest_id: int, warc_file_id: int | None = None) -> int:
    """Observations a harvest staged (from one of its files) and that are not applied yet."""
    query = select(func.count()).select_from(StagedObservation).where(StagedObservation.harvest_id == harvest_id)
    if warc_file_id is not None:
        query = query.join(Evidence, Evidence.id == StagedObservation.evidence_id).where(
            Evidence.warc_file_id == warc_file_id)
    return session.scalar(query) or 0


def _conclude(session: Session, harvest: Harvest, record: dict[str, Any] | None, recovered_at: datetime | None,
              versions: int, observations: int) -> None:
    """The outcome of a harvest whose process died: its summary record's, when it got that far (the
    listing ended; its data is now stored and indexed), else ``interrupted``, as reindex would say."""
    harvest.new_versions += versions
    if record is not None:
        newer = session.scalar(select(Harvest.id).where(
            Harvest.account_id == harvest.account_id, Harvest.started_at > harvest.started_at,
            Harvest.complete.is_(True)).limit(1))
        summary.apply(session, harvest, record, recovered_at or now(), move_cursor=newer is None)
        return
    harvest.status, harvest.finished_at = "interrupted", recovered_at or now()
    harvest.error = harvest.error or summary.RECOVERED
    harvest.observations += observations
