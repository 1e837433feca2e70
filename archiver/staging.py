"""The index's side of a live harvest: WARC file rows, evidence rows and staged observations.

Everything here is written as the harvest goes, in short transactions, and none of it is
visible as items or versions until the harvest's WARCs are stored (see archiver/ingest.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, false, insert, or_, select

from archiver.capture.session import Exchange
from archiver.capture.warc import RevisitTarget
from archiver.index.db import IndexDB
from archiver.index.ledger import evidence_row, media_archived, revisit_target
from archiver.index.models import Item, StagedObservation, WarcFile
from archiver.index.recorder import insert_evidence, observation_to_json
from connectors.base import ItemRef, Page, VersionState

MAX_LOOKUPS = 500  # direct lookups per harvest; the rest wait for the next one


class HarvestStaging:
    def __init__(self, db: IndexDB, account_id: int, harvest_id: int, month: str):
        self.db = db
        self.account_id = account_id
        self.harvest_id = harvest_id
        self.month = month
        self.files: dict[str, int] = {}  # WARC name → warc_files.id
        self.evidence_ids: dict[str, int] = {}  # response record id → evidence.id
        self.seen: set[str] = set()  # platform ids observed in this harvest

    def register_file(self, key: str, month: str) -> None:
        with self.db.session() as session:
            row = WarcFile(key=key, account_id=self.account_id, harvest_id=self.harvest_id, month=month,
                           state="open")
            session.add(row)
            session.flush()
            self.files[key.rsplit("/", 1)[-1]] = row.id

    def record_exchange(self, exchange: Exchange) -> None:
        evidence = exchange.evidence
        with self.db.session() as session:
            [evidence_id] = insert_evidence(
                session, [evidence_row(self.files[evidence.warc_name], evidence, exchange.response.status)])
        self.evidence_ids[evidence.response.record_id] = evidence_id

    def stage(self, page: Page) -> None:
        self.seen.update(observation.platform_id for observation in page.observations)
        if not page.observations:
            return
        evidence_id = self.evidence_ids[page.exchange.evidence.response.record_id]
        with self.db.session() as session:
            session.execute(
                insert(StagedObservation),
                [{"harvest_id": self.harvest_id, "evidence_id": evidence_id, "observation": observation_to_json(o)}
                 for o in page.observations],
            )

    def revisit(self, payload_sha256: str) -> RevisitTarget | None:
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

    def suspects(self, kinds: tuple[str, ...], listed_since: datetime, previous: datetime | None,
                 pending: set[str]) -> list[ItemRef]:
        """Items the previous complete listing (started at ``previous``) showed and this one,
        covering the same range, did not; plus earlier suspects whose lookup got no answer.
        Each is looked up once, not every harvest."""
        if not kinds or (previous is None and not pending):
            return []
        with self.db.session() as session:
            listed_before = Item.last_seen_at >= previous if previous is not None else false()
            rows = session.execute(
                select(Item.platform_id, Item.kind, Item.url, Item.posted_at, Item.parent_platform_id)
                .where(Item.account_id == self.account_id, Item.kind.in_(kinds),
                       Item.state != VersionState.DELETED.value,
                       or_(and_(listed_before, Item.posted_at >= listed_since), Item.platform_id.in_(pending)))
                .order_by(Item.posted_at.desc())
            ).all()
        missing = [ItemRef(*row) for row in rows if row.platform_id not in self.seen]
        return missing[:MAX_LOOKUPS]
