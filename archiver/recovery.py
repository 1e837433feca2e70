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
from pathlib import Path

from sqlalchemy import select

from archiver import audit
from archiver.capture.spool import OPEN_SUFFIX, SealedWarc, complete_records_end, seal, spool_files, try_lock
from archiver.capture.warc import WarcFileWriter, warc_date
from archiver.config import Config
from archiver.index.db import IndexDB
from archiver.index.ledger import now
from archiver.index.models import Harvest, StagedObservation, WarcFile
from archiver.ingest import apply_staged, drop_file_evidence, store_warc
from archiver.reindex import WarcIndexer
from archiver.retention.lock import LockPolicy
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
                self._recover(uid, sorted(paths, key=lambda p: p.name), report)
            except StorageError as exc:
                report.errors.append(str(exc))
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
        indexer = WarcIndexer(self.db)
        for recovered in files:
            sealed = recovered.sealed
            if recovered.from_bytes:
                with sealed.path.open("rb") as stream:
                    indexer.index(sealed.key, stream, size=sealed.size, sha256=sealed.sha256)
            elif owner is not None:
                with self.db.session() as session:
                    warc_id = session.scalar(select(WarcFile.id).where(WarcFile.key == sealed.key))
                apply_staged(self.db, *owner, warc_id)
        with self.db.session() as session:
            harvest = session.scalar(select(Harvest).where(Harvest.uid == uid))
            if harvest is not None and harvest.status == "running":
                harvest.status, harvest.finished_at = "interrupted", now()
                harvest.error = harvest.error or "the process stopped before the harvest finished; recovered on start"
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
        for harvest_id, uid, account_id in rows:
            lock = try_lock(self.locks / f"harvest-{uid}.lock", create=True)
            if lock is None:
                continue
            try:
                with self.db.session() as session:
                    unstored = session.scalar(select(WarcFile.id).where(
                        WarcFile.harvest_id == harvest_id, WarcFile.state != "stored"))
                if unstored is not None:
                    continue
                apply_staged(self.db, harvest_id, account_id)
                with self.db.session() as session:
                    harvest = session.get(Harvest, harvest_id)
                    if harvest is not None:
                        harvest.status, harvest.finished_at = "interrupted", now()
                report.harvests.append(uid)
            finally:
                os.close(lock)
                (self.locks / f"harvest-{uid}.lock").unlink(missing_ok=True)
