"""Legal holds: a register of freezes on items that may matter to litigation.

A hold names its matter and what it covers (accounts, a posted-time range, search words,
particular items). Creating it freezes every matching item; items captured later that match
join it until it is released (membership is refreshed after each harvest, before every
retention plan and disposition, and by the daemon). A member never leaves an active hold,
even if it stops matching (an edited comment stays frozen).

Held items are never disposed. Every WARC object that holds a record of a held item also gets
the store's own legal hold where the store has one (S3 Object Lock), so not even a mistaken
delete succeeds; the flag is lifted when no active hold needs the object any more.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from archiver import audit
from archiver.exports.selection import matching_item_ids
from archiver.index.db import IndexDB
from archiver.index.ledger import now
from archiver.index.models import Account, Evidence, Item, ItemEvidence, Version, WarcFile
from archiver.items import ItemRef, find_item, item_ref, item_refs
from archiver.retention.models import HeldObject, HoldItem, LegalHold
from archiver.search import QueryError, SearchQuery, parse
from storage.base import Storage, StorageError

log = logging.getLogger(__name__)


class HoldError(Exception):
    """A hold request that cannot be carried out; the message says why."""


@dataclass(frozen=True)
class HoldCriteria:
    accounts: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    query: str | None = None
    items: tuple[str, ...] = ()  # ACCOUNT:PLATFORM-ID, resolved when the hold is created

    def as_json(self) -> dict[str, Any]:
        return {"accounts": list(self.accounts), "since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None, "query": self.query,
                "items": list(self.items)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HoldCriteria:
        since, until = data.get("since"), data.get("until")
        return cls(tuple(data.get("accounts") or ()), datetime.fromisoformat(since) if since else None,
                   datetime.fromisoformat(until) if until else None, data.get("query"), tuple(data.get("items") or ()))

    @property
    def searches(self) -> bool:
        """Whether the hold selects by filters (and so catches later captures), not only named items."""
        return bool(self.accounts or self.since or self.until or self.query)


def _matches(session: Session, criteria: HoldCriteria) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    if criteria.searches:
        query = SearchQuery(text=criteria.query, accounts=criteria.accounts, since=criteria.since,
                            until=criteria.until)
        found.update((ref.account, ref.platform_id)
                     for ref in item_refs(session, matching_item_ids(session, query)).values())
    for name in criteria.items:
        ref = ItemRef.parse(name)
        found.add((ref.account, ref.platform_id))
    return found


def create(session: Session, matter: str, criteria: HoldCriteria, who: str) -> LegalHold:
    if not matter.strip():
        raise HoldError("--matter must name the matter (case name or number)")
    if not (criteria.searches or criteria.items):
        raise HoldError("a hold needs at least one of --account, --since, --until, --query or --item")
    if criteria.query is not None and parse(criteria.query).matches_nothing:  # QueryError: refused syntax
        # A hold whose words match nothing would freeze nothing, now or later: refused, not placed empty.
        raise QueryError(f"--query {criteria.query!r} has no words to search for, so the hold would freeze nothing; "
                         "give words that can match, or hold by --account, --since, --until or --item")
    unknown = [a for a in criteria.accounts if session.scalar(select(Account.id).where(Account.name == a)) is None]
    if unknown:
        raise HoldError(f"no account named {unknown[0]!r} in the index")
    resolved = []
    for ref in criteria.items:
        try:
            item = find_item(session, ref)
        except LookupError as exc:
            raise HoldError(str(exc)) from None
        resolved.append(str(item_ref(session, item)))
    criteria = HoldCriteria(criteria.accounts, criteria.since, criteria.until, criteria.query, tuple(resolved))
    hold = LegalHold(matter=matter.strip(), criteria=criteria.as_json(), created_at=now(), created_by=who)
    session.add(hold)
    session.flush()
    members = _add_members(session, hold, _matches(session, criteria))
    audit.record(session, "hold.created", f"hold {hold.id}", who=who, matter=hold.matter, criteria=hold.criteria,
                 items=members)
    return hold


def _add_members(session: Session, hold: LegalHold, matches: set[tuple[str, str]]) -> int:
    existing = {(a, p) for a, p in session.execute(select(HoldItem.account, HoldItem.platform_id)
                                                   .where(HoldItem.hold_id == hold.id))}
    fresh = sorted(matches - existing)
    at = now()
    session.add_all(HoldItem(hold_id=hold.id, account=a, platform_id=p, added_at=at) for a, p in fresh)
    session.flush()
    return len(fresh)


def refresh(session: Session) -> dict[int, int]:
    """Add to every active hold the items that match it now; {hold id: items added}."""
    added: dict[int, int] = {}
    for hold in session.scalars(select(LegalHold).where(LegalHold.released_at.is_(None))):
        criteria = HoldCriteria.from_json(hold.criteria)
        if not criteria.searches:
            continue
        try:
            matches = _matches(session, criteria)
        except QueryError as exc:  # words an earlier version took; the hold keeps its members
            log.warning("hold %s: its query %r is no longer accepted (%s); no new items join it", hold.id,
                        criteria.query, exc)
            continue
        count = _add_members(session, hold, matches)
        if count:
            added[hold.id] = count
            audit.record(session, "hold.items_added", f"hold {hold.id}", items=count)
    return added


def release(session: Session, hold_id: int, reason: str, who: str) -> LegalHold:
    hold = session.get(LegalHold, hold_id)
    if hold is None:
        raise HoldError(f"no hold {hold_id}; see 'archiver hold list'")
    if hold.released_at is not None:
        raise HoldError(f"hold {hold_id} was already released on {hold.released_at:%Y-%m-%d} by {hold.released_by}")
    if not reason.strip():
        raise HoldError("--reason must say why the hold ends (e.g. case dismissed, settlement final)")
    hold.released_at, hold.released_by, hold.release_reason = now(), who, reason.strip()
    audit.record(session, "hold.released", f"hold {hold.id}", who=who, matter=hold.matter, reason=hold.release_reason)
    return hold


def summary(session: Session, hold: LegalHold) -> dict[str, Any]:
    """A hold as the register lists it."""
    members = session.scalar(select(func.count()).select_from(HoldItem).where(HoldItem.hold_id == hold.id)) or 0
    return {"id": hold.id, "matter": hold.matter, "state": "released" if hold.released_at else "active",
            "items": members, "criteria": hold.criteria, "created_at": hold.created_at.isoformat(),
            "created_by": hold.created_by, "released_at": hold.released_at.isoformat() if hold.released_at else None,
            "released_by": hold.released_by, "release_reason": hold.release_reason}


def details(session: Session, hold: LegalHold) -> dict[str, Any]:
    """A hold with its members (ACCOUNT:PLATFORM-ID) and the WARC objects it keeps under the store's hold."""
    row = summary(session, hold)
    row["members"] = [str(ItemRef(m.account, m.platform_id)) for m in session.scalars(
        select(HoldItem).where(HoldItem.hold_id == hold.id).order_by(HoldItem.account, HoldItem.platform_id))]
    keys = item_files(session, held_item_ids(session, hold.id)) if not hold.released_at else set()
    flags = {o.key: o.store_flag for o in session.scalars(select(HeldObject))}
    row["objects"] = [{"key": k, "store_legal_hold": flags.get(k, False)} for k in sorted(keys)]
    return row


def held_items(session: Session) -> set[tuple[str, str]]:
    """(account, platform id) of every item an active hold covers."""
    return {(a, p) for a, p in session.execute(
        select(HoldItem.account, HoldItem.platform_id).join(LegalHold, LegalHold.id == HoldItem.hold_id)
        .where(LegalHold.released_at.is_(None)))}


def held_item_ids(session: Session, hold_id: int | None = None) -> set[int]:
    """Index ids of the items active holds cover (or one hold's members)."""
    members = held_items(session) if hold_id is None else {(a, p) for a, p in session.execute(
        select(HoldItem.account, HoldItem.platform_id).where(HoldItem.hold_id == hold_id))}
    ids: set[int] = set()
    for account in {a for a, _ in members}:
        wanted = [p for a, p in members if a == account]
        for start in range(0, len(wanted), 500):
            ids.update(session.scalars(select(Item.id).join(Account, Account.id == Item.account_id).where(
                Account.name == account, Item.platform_id.in_(wanted[start:start + 500]))))
    return ids


def item_files(session: Session, item_ids: set[int]) -> set[str]:
    """Keys of every stored WARC holding a record of these items, their media included."""
    keys: set[str] = set()
    ids = sorted(item_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        keys.update(session.scalars(
            select(WarcFile.key).join(Evidence, Evidence.warc_file_id == WarcFile.id)
            .join(ItemEvidence, ItemEvidence.evidence_id == Evidence.id).where(ItemEvidence.item_id.in_(chunk))))
        media: dict[int, set[str]] = {}
        for account_id, urls in session.execute(
                select(Item.account_id, Version.media_urls).join(Item, Item.id == Version.item_id)
                .where(Version.item_id.in_(chunk))):
            media.setdefault(account_id, set()).update(urls or [])
        for account_id, urls in media.items():
            hashes = set()
            for key, sha in session.execute(
                    select(WarcFile.key, Evidence.payload_sha256).join(Evidence, Evidence.warc_file_id == WarcFile.id)
                    .where(WarcFile.account_id == account_id, Evidence.target_uri.in_(sorted(urls)))):
                keys.add(key)
                hashes.add(sha)
            keys.update(session.scalars(  # a revisit's payload is in the record it refers to
                select(WarcFile.key).join(Evidence, Evidence.warc_file_id == WarcFile.id).where(
                    and_(WarcFile.account_id == account_id, Evidence.payload_sha256.in_(sorted(h for h in hashes if h)),
                         Evidence.record_type.in_(("response", "resource"))))))
    return keys


def sync_store_flags(db: IndexDB, storage: Storage) -> tuple[list[str], list[str]]:
    """Put the store's legal hold on every object active holds need, and lift it where none does."""
    with db.session() as session:
        needed = item_files(session, held_item_ids(session))
        current = {row.key: row for row in session.scalars(select(HeldObject))}
    turned_on, turned_off = [], []
    for key in sorted(needed - current.keys()):
        try:
            flag = storage.set_legal_hold(key, True)
        except StorageError as exc:
            log.error("cannot put a legal hold on %s: %s", key, exc)
            continue
        with db.session() as session:
            session.add(HeldObject(key=key, since=now(), store_flag=flag))
        turned_on.append(key)
    for key in sorted(current.keys() - needed):
        try:
            if current[key].store_flag:
                storage.set_legal_hold(key, False)
        except StorageError as exc:
            log.error("cannot lift the legal hold on %s: %s", key, exc)
            continue
        with db.session() as session:
            session.execute(HeldObject.__table__.delete().where(HeldObject.key == key))
        turned_off.append(key)
    if turned_on or turned_off:
        with db.session() as session:
            audit.record(session, "hold.objects", storage.url, legal_hold_on=turned_on, legal_hold_off=turned_off)
    return turned_on, turned_off


def after_harvest(db: IndexDB, storage: Storage) -> None:
    """New captures that match an active hold join it, and their WARCs get the store's legal hold."""
    with db.session() as session:
        active = session.scalar(select(LegalHold.id).where(LegalHold.released_at.is_(None)).limit(1))
        if active is None and session.scalar(select(HeldObject.key).limit(1)) is None:
            return
        refresh(session)
    sync_store_flags(db, storage)
