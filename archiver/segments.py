"""A harvest's WARC files as segments: each file is stored and indexed as soon as it is cut.

A harvest keeps in memory only what the file being written holds: the evidence rows of its
exchanges and what the parser found in them (a ``Segment``). When the file is cut (by month,
by size, or because the segment is full: ``[capture] warc_max_items``), it is handed to
``SegmentIngest``, which — in order, one file at a time, on a thread of its own so the index
work overlaps the next pages' network waits — seals the file, stores it (the store verifies its
SHA-256), and then, in ONE transaction, adds the file's row, its evidence rows and the items
and versions its observations make. The spool copy is deleted last.

Why a crash anywhere is still recovered (invariant 3): nothing in the index points to a file
before that transaction commits, and it commits only after the store has the sealed file. A
crash before the commit leaves the file in the spool (open or sealed) with no row in the
index, which start-up recovery treats as it always has: the file is the record, so it is cut
back to its last whole record if need be, stored, and indexed from its own bytes. A crash
after the commit leaves a spool copy of a stored, indexed file, which recovery deletes. The
cursor is written by the harvest only after every segment is stored and indexed.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.capture.spool import SealedWarc, seal
from archiver.capture.warc import RevisitTarget
from archiver.index.db import IndexDB
from archiver.index.ledger import now
from archiver.index.models import Evidence, WarcFile
from archiver.index.recorder import Observed, insert_evidence
from archiver.ingest import apply_guarded
from archiver.quarantine import quarantine
from connectors.base import Observation
from storage.base import Storage, StorageError

if TYPE_CHECKING:
    from archiver.retention.lock import LockPolicy

log = logging.getLogger(__name__)


@dataclass
class Segment:
    """What one WARC file of a harvest holds, kept until the file is stored and indexed."""

    key: str
    month: str
    evidence: list[dict[str, Any]] = field(default_factory=list)  # rows in capture order, no warc_file_id yet
    positions: dict[str, int] = field(default_factory=dict)  # response record id → index in ``evidence``
    # What the parser found, with the response record id of the evidence it came from (which
    # may be in an earlier file, for a page yielded after the file was cut).
    observations: list[tuple[Observation, str]] = field(default_factory=list)
    payloads: dict[str, RevisitTarget] = field(default_factory=dict)  # payload SHA-256 → first full record
    failures: list[tuple[str, str]] = field(default_factory=list)  # (record id, why no parser could read it)
    done: bool = False  # stored and indexed (or left to recovery): no longer needed for revisits

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]

    def size(self) -> int:
        return max(len(self.observations), len(self.evidence))


@dataclass
class IngestFigures:
    keys: list[str] = field(default_factory=list)  # every file handed over, stored or not, in order
    stored: list[str] = field(default_factory=list)
    new_versions: int = 0
    storage_error: StorageError | None = None  # the first refusal: later files stay in the spool too


class SegmentIngest:
    """Seals, stores and indexes a harvest's files in order, on a thread of its own.

    At most one file waits while another is being ingested (``submit`` blocks until there is
    room), so memory stays bounded however fast pages arrive. After the store refuses a file,
    that file and every later one are only sealed and left in the spool: recovery stores and
    indexes them in order once the store is back (indexing a later file first could record an
    older version after a newer one).
    """

    def __init__(self, db: IndexDB, storage: Storage, locks: LockPolicy | None, account: str, account_id: int,
                 harvest_id: int, *, threaded: bool = True):
        self.db, self.storage, self.locks = db, storage, locks
        self.account, self.account_id, self.harvest_id = account, account_id, harvest_id
        self.figures = IngestFigures()
        self.failure: BaseException | None = None  # anything but a storage refusal: the harvest stops
        self._queue: queue.Queue[tuple[Segment, Path] | None] = queue.Queue(maxsize=1)
        self._thread: threading.Thread | None = None
        if threaded:
            self._thread = threading.Thread(target=self._work, name=f"ingest-{account}", daemon=True)
            self._thread.start()

    def submit(self, segment: Segment, path: Path) -> None:
        """Hand over a closed file (durably written) and what the harvest kept for it."""
        self.figures.keys.append(segment.key)
        if self._thread is None:
            self._ingest(segment, path)
        else:
            self._queue.put((segment, path))

    def finish(self) -> IngestFigures:
        """Wait until every submitted file is ingested; raises what made the ingest stop, if anything."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        if self.failure is not None:
            raise self.failure
        return self.figures

    def abandon(self) -> None:
        """The harvest itself failed: finish what was handed over, without raising (the spool keeps
        anything not ingested for recovery)."""
        with contextlib.suppress(BaseException):  # already logged; the harvest's own error is the one that matters
            self.finish()

    def _work(self) -> None:
        while (job := self._queue.get()) is not None:
            self._ingest(*job)

    def _ingest(self, segment: Segment, path: Path) -> None:
        try:
            sealed = seal(path)
            if self.failure is None and self.figures.storage_error is None:
                self._store_and_index(segment, sealed)
        except StorageError as exc:
            log.warning("%s stays in the spool until storage takes it: %s", segment.key, exc)
            self.figures.storage_error = exc
        except BaseException as exc:  # handed to the harvest, which stops with it
            log.exception("storing or indexing %s failed; it stays in the spool for recovery", segment.key)
            self.failure = self.failure or exc
        finally:
            segment.done = True

    def _store_and_index(self, segment: Segment, sealed: SealedWarc) -> None:
        retain_until = None
        if self.locks is not None:
            with self.db.session() as session:
                retain_until = self.locks.for_segment(session, self.account, segment)
        stored = self.storage.put(sealed.key, sealed.path, sealed.sha256, retain_until=retain_until)
        self.figures.stored.append(sealed.key)
        with self.db.session() as session:
            warc = WarcFile(key=sealed.key, account_id=self.account_id, harvest_id=self.harvest_id,
                            month=segment.month, size=sealed.size, sha256=sealed.sha256, state="stored",
                            stored_at=now(), retain_until=stored.retain_until or retain_until)
            session.add(warc)
            session.flush()
            ids = insert_evidence(session, [row | {"warc_file_id": warc.id} for row in segment.evidence])
            self.figures.new_versions += apply_observations(session, self.account_id, segment, ids)
        sealed.path.unlink(missing_ok=True)
        log.info("stored and indexed %s (%d bytes, sha256 %s)", sealed.key, sealed.size, sealed.sha256)


def apply_observations(session: Session, account_id: int, segment: Segment, evidence_ids: list[int]) -> int:
    """Apply a segment's observations, in the order they were staged, to items and versions, and
    quarantine the records no parser could read."""
    found = {row["record_id"]: (evidence_id, row["captured_at"])
             for row, evidence_id in zip(segment.evidence, evidence_ids, strict=True)}
    wanted = {record for _, record in segment.observations} | {record for record, _ in segment.failures}
    if earlier := wanted - found.keys():  # pages yielded after their file was cut: that file was indexed first
        found |= {row.record_id: (row.id, row.captured_at) for row in session.execute(
            select(Evidence.record_id, Evidence.id, Evidence.captured_at).where(Evidence.record_id.in_(earlier)))}
    if lost := wanted - found.keys():
        raise LookupError(f"observations in {segment.key} come from records the index does not have: "
                          f"{sorted(lost)[:3]}")
    for record, failure in segment.failures:
        quarantine(session, found[record][0], failure)
    if not segment.observations:
        return 0
    return apply_guarded(session, account_id,
                         [Observed(observation, *found[record]) for observation, record in segment.observations])
