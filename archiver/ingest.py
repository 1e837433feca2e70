"""From sealed WARC to index: store the file, then let the index point to it (invariant 3).

Shared by the harvest, by start-up recovery and by reindex, so all three follow the same
order: a WARC is sealed and stored (the store has verified its SHA-256) before any version
refers to it, and observations are applied in capture order, a chunk per transaction, each
chunk's staged rows deleted in the same transaction that applies them.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from archiver.capture.spool import SealedWarc
from archiver.index.db import IndexDB
from archiver.index.ledger import now
from archiver.index.models import Evidence, StagedObservation, WarcFile
from archiver.index.recorder import Observed, VersionRecorder, observation_from_json
from archiver.quarantine import quarantine, refused_by_index
from connectors.base import describe_failure
from storage.base import Storage

if TYPE_CHECKING:
    from archiver.retention.lock import LockPolicy

log = logging.getLogger(__name__)
APPLY_CHUNK = 2000


def mark_sealed(session: Session, sealed: SealedWarc) -> WarcFile:
    warc = session.scalar(select(WarcFile).where(WarcFile.key == sealed.key))
    if warc is None:
        raise LookupError(f"{sealed.key} has no row in the index")
    warc.size, warc.sha256, warc.state = sealed.size, sealed.sha256, "sealed"
    return warc


def store_warc(db: IndexDB, storage: Storage, sealed: SealedWarc, locks: LockPolicy | None) -> None:
    """Upload a sealed WARC and record it as stored; raises StorageError and leaves it in the spool.

    With Object Lock, its retain-until is the longest retention of the items in it (see
    ``archiver.retention.lock``).
    """
    retain_until = None
    if locks is not None:
        with db.session() as session:
            retain_until = locks.for_stored_file(session, sealed.key)
    stored = storage.put(sealed.key, sealed.path, sealed.sha256, retain_until=retain_until)
    with db.session() as session:
        warc = mark_sealed(session, sealed)
        warc.state, warc.stored_at, warc.retain_until = "stored", now(), stored.retain_until or retain_until
    log.info("stored %s (%d bytes, sha256 %s)", sealed.key, sealed.size, sealed.sha256)


def apply_staged(db: IndexDB, harvest_id: int, account_id: int, warc_file_id: int | None = None) -> int:
    """Apply a harvest's staged observations (optionally one file's) to items and versions."""
    created = 0
    while True:
        with db.session() as session:
            query = (
                select(StagedObservation.id, StagedObservation.observation, StagedObservation.evidence_id,
                       Evidence.captured_at)
                .join(Evidence, Evidence.id == StagedObservation.evidence_id)
                .where(StagedObservation.harvest_id == harvest_id)
                .order_by(StagedObservation.id)
                .limit(APPLY_CHUNK)
            )
            if warc_file_id is not None:
                query = query.where(Evidence.warc_file_id == warc_file_id)
            rows = session.execute(query).all()
            if not rows:
                return created
            # A write first: on SQLite the transaction then holds the write lock before the savepoint reads.
            session.execute(delete(StagedObservation).where(StagedObservation.id.in_([row.id for row in rows])))
            created += apply_guarded(session, account_id, [
                Observed(observation_from_json(row.observation), row.evidence_id, row.captured_at) for row in rows])


def apply_guarded(session: Session, account_id: int, observed: Sequence[Observed]) -> int:
    """Apply observations in their order; if the index refuses what some record's parser returned,
    apply record by record: what fails is quarantined (never a harvest, a recovery or the daemon
    stopped by one record), the rest is applied in order."""
    try:
        with session.begin_nested():
            return VersionRecorder(session, account_id).apply(list(observed))
    except Exception as exc:
        if not refused_by_index(exc):
            raise
    created = 0
    for evidence_id, group in itertools.groupby(observed, key=lambda o: o.evidence_id):
        records = list(group)
        try:
            with session.begin_nested():
                created += VersionRecorder(session, account_id).apply(records)
        except Exception as exc:
            if not refused_by_index(exc):
                raise
            log.exception("the index refused the observations of evidence %s", evidence_id)
            quarantine(session, evidence_id, f"the index refused what the parser returned: {describe_failure(exc)}")
    return created


def drop_file_evidence(session: Session, warc_file_id: int) -> None:
    """Forget what a harvest staged from a file about to be indexed from its own bytes instead."""
    evidence_ids = select(Evidence.id).where(Evidence.warc_file_id == warc_file_id).scalar_subquery()
    session.execute(delete(StagedObservation).where(StagedObservation.evidence_id.in_(evidence_ids)))
    session.execute(delete(Evidence).where(Evidence.warc_file_id == warc_file_id))
