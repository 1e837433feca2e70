"""What a harvest keeps while it runs: the segment of the WARC file being written (evidence rows
and what the parser found, in memory: archiver/segments.py), the ids it saw (on disk), and the
lookups a connector makes in the index as it goes.

Nothing here is visible as items or versions until the file it belongs to is stored; then the
file's segment is indexed in one transaction (archiver/segments.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, false, func, or_, select

from archiver.capture.session import Exchange
from archiver.capture.warc import RevisitTarget
from archiver.index.db import IndexDB
from archiver.index.ledger import evidence_row, media_archived, revisit_target
from archiver.index.models import Harvest, Item, Version
from archiver.segments import Segment
from connectors.base import ItemRef, Page, VersionState

MAX_LOOKUPS = 500  # direct lookups per harvest; the rest wait for the next one
CHUNK = 1000


class SeenIds:
    """The platform ids a harvest saw, in a private temporary SQLite file (deleted when closed,
    or by the OS if the process dies), so a listing of millions of items costs no memory.

    >>> seen = SeenIds()
    >>> seen.add(["a", "b", "a"])
    >>> sorted(seen.missing(["a", "c"]))
    ['c']
    >>> seen.close()
    """

    def __init__(self) -> None:
        self._db = sqlite3.connect("", check_same_thread=False)  # "": a temporary file of its own
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE seen (id TEXT PRIMARY KEY) WITHOUT ROWID")

    def add(self, platform_ids: Iterable[str]) -> None:
        self._db.executemany("INSERT OR IGNORE INTO seen VALUES (?)", ((i,) for i in platform_ids))

    def missing(self, platform_ids: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(platform_ids), 500):
            chunk = platform_ids[start:start + 500]
            found.update(row[0] for row in self._db.execute(
                f"SELECT id FROM seen WHERE id IN ({','.join('?' * len(chunk))})", chunk))
        return set(platform_ids) - found

    def close(self) -> None:
        self._db.close()


class HarvestStaging:
    def __init__(self, db: IndexDB, account_id: int, harvest_id: int, month: str, max_items: int = 2000):
        self.db = db
        self.account_id = account_id
        self.harvest_id = harvest_id
        self.month = month
        self.max_items = max_items
        self.current: Segment | None = None  # the file being written
        self._pending: list[Segment] = []  # handed over, not yet stored and indexed: revisits may point there
        self.seen = SeenIds()  # platform ids observed in this harvest

    # The file being written -----------------------------------------------------------------
    def open_segment(self, key: str, month: str) -> None:
        self.current = Segment(key, month)
        self._pending = [s for s in self._pending if not s.done] + [self.current]  # the indexed ones are let go

    def close_segment(self) -> Segment:
        segment, self.current = self.current, None
        assert segment is not None
        return segment

    def full(self) -> bool:
        return self.current is not None and self.current.size() >= self.max_items

    def _segment(self, name: str) -> Segment | None:
        if self.current is not None and self.current.name == name:
            return self.current
        return next((s for s in self._pending if s.name == name and not s.done), None)

    def record_exchange(self, exchange: Exchange) -> None:
        evidence = exchange.evidence
        segment = self._segment(evidence.warc_name)
        assert segment is not None, f"an exchange in {evidence.warc_name}, which is not being written"
        row = evidence_row(0, evidence, exchange.response.status)
        segment.positions[row["record_id"]] = len(segment.evidence)
        segment.evidence.append(row)
        response = evidence.response
        if response.record_type in ("response", "resource") and response.payload_digest:
            segment.payloads.setdefault(evidence.payload_sha256, RevisitTarget(
                response.record_id, response.target_uri, response.date, response.payload_digest))

    def stage(self, page: Page) -> None:
        # An object that could not be read was still listed: seen, so never a suspect (invariant 4).
        self.seen.add(observation.platform_id for observation in page.observations if observation.platform_id)
        if self.current is None:  # nothing is written after the last file is closed
            raise RuntimeError("a page was staged with no WARC file open")
        record = page.exchange.evidence.response.record_id
        if page.failure is not None:  # quarantined with the file's evidence (archiver/segments.py)
            self.current.failures.append((record, page.failure))
        self.current.observations += [(observation, record) for observation in page.observations]

    def close(self) -> None:
        self.seen.close()

    # Lookups in what is archived ----------------------------------------------------------------
    def revisit(self, payload_sha256: str) -> RevisitTarget | None:
        self._pending = [s for s in self._pending if not s.done]
        for segment in self._pending:  # files of this harvest not indexed yet (the index has the rest)
            if segment.month == self.month and (found := segment.payloads.get(payload_sha256)) is not None:
                return found
        with self.db.session() as session:
            return revisit_target(session, self.account_id, self.month, payload_sha256)

    def archived(self, url: str) -> bool:
        with self.db.session() as session:
            return media_archived(session, self.account_id, url)

    def descendants(self, platform_id: str) -> list[str]:
        """Every item under ``platform_id`` (its comments, their replies...) not already deleted."""
        found: list[str] = []
        level = [platform_id]
        with self.db.session() as session:
            while level:
                level = list(session.scalars(
                    select(Item.platform_id).where(Item.account_id == self.account_id,
                                                   Item.parent_platform_id.in_(level),
                                                   Item.state != VersionState.DELETED.value)
                    .order_by(Item.platform_id)))
                level = [child for child in level if child not in found and child != platform_id]
                found += level
        return found

    def latest_contents(self, platform_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The latest version's content of each of these items the index has."""
        found: dict[str, dict[str, Any]] = {}
        with self.db.session() as session:
            for start in range(0, len(platform_ids), 500):
                found.update(session.execute(
                    select(Item.platform_id, Version.content)
                    .join(Version, and_(Version.item_id == Item.id, Version.seq == Item.version_count))
                    .where(Item.account_id == self.account_id,
                           Item.platform_id.in_(platform_ids[start:start + 500]))).all())
        return found

    def suspects(self, kinds: tuple[str, ...], listed_since: datetime, previous: datetime | None,
                 pending: set[str], worth: Callable[[ItemRef], bool] = lambda ref: True) -> list[ItemRef]:
        """Items the previous complete listing (started at ``previous``) showed and this one,
        covering the same range, did not; plus earlier suspects whose lookup got no answer.
        Before any complete listing, items that harvests cut short (by a kill) indexed count too.
        Each is looked up once, not every harvest. Read a chunk at a time, newest first."""
        if not kinds:
            return []
        missing: list[ItemRef] = []
        with self.db.session() as session:
            if previous is None:  # no complete listing yet, but harvests that died may have indexed items
                previous = session.scalar(select(func.min(Harvest.started_at)).where(
                    Harvest.account_id == self.account_id, Harvest.id != self.harvest_id))
            if previous is None and not pending:
                return []
            listed_before = Item.last_seen_at >= previous if previous is not None else false()
            rows = session.execute(
                select(Item.platform_id, Item.kind, Item.url, Item.posted_at, Item.parent_platform_id)
                .where(Item.account_id == self.account_id, Item.kind.in_(kinds),
                       Item.state != VersionState.DELETED.value,
                       or_(and_(listed_before, Item.posted_at >= listed_since), Item.platform_id.in_(pending)))
                .order_by(Item.posted_at.desc())
                .execution_options(yield_per=CHUNK)
            )
            for chunk in rows.partitions():
                unseen = self.seen.missing([row.platform_id for row in chunk])
                missing += [ref for row in chunk if row.platform_id in unseen and worth(ref := ItemRef(*row))]
                if len(missing) >= MAX_LOOKUPS:
                    break
        return missing[:MAX_LOOKUPS]
