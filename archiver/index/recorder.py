"""Turning observations into items and versions, and WARC records into evidence rows.

This is the only code that writes items and versions, for live harvests and for
``reindex`` alike, so both give the same index. A new version is stored only when the
content or the state changed; an unchanged re-observation just moves the version's
"last observed" time and evidence forward, which is what later lets the archive say a change
happened between two observed times.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session

from archiver.index.bulk import insert_indexed, insert_rows
from archiver.index.models import Evidence, Item, ItemEvidence, ParseProblem, Version
from connectors.base import Observation, VersionState

# Core tables: bulk statements without the ORM's per-row bookkeeping.
ITEMS = Item.__table__
VERSIONS = Version.__table__
EVIDENCE = Evidence.__table__
ITEM_EVIDENCE = ItemEvidence.__table__
PROBLEMS = ParseProblem.__table__


@dataclass(frozen=True)
class Observed:
    """An observation with the evidence it came from and when it was captured."""

    observation: Observation
    evidence_id: int
    observed_at: datetime


_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass
class _Known:
    item_id: int
    latest_hash: str
    version_count: int  # also the seq of the latest version
    state: str
    last_observed_at: datetime


def derived_state(observed: VersionState, previous_state: str | None) -> str:
    """The state a new version records.

    A visible observation whose content differs from a visible (or edited) predecessor is an
    edit; after a hidden, deleted or unavailable version it is the item coming back.
    """
    if observed is _VISIBLE and previous_state in _GOES_ON:
        return _EDITED
    return observed._value_  # (what ``.value`` returns, without the enum's descriptor: once per version)


# Looked up once: an enum member's attribute access costs a descriptor call on every version.
_VISIBLE = VersionState.VISIBLE
_GOES_ON = (VersionState.VISIBLE.value, VersionState.EDITED.value)
_EDITED = VersionState.EDITED.value


def observation_to_json(observation: Observation) -> dict[str, Any]:
    return {
        "platform_id": observation.platform_id,
        "kind": observation.kind,
        "content": observation.content,
        "text": observation.text,
        "state": observation.state.value,
        "url": observation.url,
        "author": observation.author,
        "posted_at": observation.posted_at.isoformat() if observation.posted_at else None,
        "parent_id": observation.parent_id,
        "media_urls": list(observation.media_urls),
        "metrics": dict(observation.metrics),
        "state_only": observation.state_only,
        "metrics_only": observation.metrics_only,
        "historical": observation.historical,
        "problem": observation.problem,
    }


def observation_from_json(data: dict[str, Any]) -> Observation:
    posted = data.get("posted_at")
    return Observation(
        platform_id=data["platform_id"],
        kind=data["kind"],
        content=data["content"],
        text=data.get("text", ""),
        state=VersionState(data.get("state", "visible")),
        url=data.get("url"),
        author=data.get("author"),
        posted_at=datetime.fromisoformat(posted) if posted else None,
        parent_id=data.get("parent_id"),
        media_urls=tuple(data.get("media_urls", ())),
        metrics=data.get("metrics") or {},
        state_only=bool(data.get("state_only")),
        metrics_only=bool(data.get("metrics_only")),
        historical=bool(data.get("historical")),
        problem=data.get("problem"),
    )


class VersionRecorder:
    """Applies observations of one account to the index, a batch at a time."""

    def __init__(self, session: Session, account_id: int):
        self.session = session
        self.account_id = account_id
        self.new_versions = 0
        self._linked: set[tuple[int, int]] = set()  # (item, evidence) pairs known to be in item_evidence
        self._records: set[int] = set()  # evidence ids whose existing links were loaded

    def apply(self, batch: Sequence[Observed]) -> int:
        """Record a batch in capture order; returns how many new versions it made."""
        before = self.new_versions
        problems = [observed for observed in batch if observed.observation.problem is not None]
        if problems:
            batch = [observed for observed in batch if observed.observation.problem is None]
        # Each item's observations in capture order, and every round a set of distinct items: the
        # n-th observation of each item goes into round n. (Cutting the batch at each repeat instead
        # made a feed's pages one round each, as its profile comes with every page: ten times the
        # statements.) Items are independent of one another, so only each item's own order counts.
        rounds: list[list[Observed]] = []
        seen: dict[str, int] = {}
        for observed in batch:
            platform_id = observed.observation.platform_id
            n = seen.get(platform_id, 0)
            seen[platform_id] = n + 1
            if n == len(rounds):
                rounds.append([])
            rounds[n].append(observed)
        for chunk in rounds:
            self._apply_unique(chunk)
        if problems:
            self._problems(problems)
        return self.new_versions - before

    def _problems(self, problems: list[Observed]) -> None:
        """Objects that could not be read: the problem is recorded and the record stays evidence of
        the item (if the index has it), but no version is made, nothing moves, nothing is deleted."""
        self.session.execute(insert(PROBLEMS), [
            {"evidence_id": o.evidence_id, "account_id": self.account_id,
             "platform_id": o.observation.platform_id or None, "kind": o.observation.kind[:16],
             "problem": o.observation.problem} for o in problems])
        named = list({o.observation.platform_id for o in problems if o.observation.platform_id})
        if named:
            known = self._load(named)
            self._link([(known[o.observation.platform_id].item_id, o.evidence_id) for o in problems
                        if o.observation.platform_id in known])

    def _load(self, platform_ids: list[str]) -> dict[str, _Known]:
        known: dict[str, _Known] = {}
        for start in range(0, len(platform_ids), 500):
            rows = self.session.execute(
                select(ITEMS.c.id, ITEMS.c.platform_id, ITEMS.c.latest_hash, ITEMS.c.version_count, ITEMS.c.state,
                       VERSIONS.c.last_observed_at)
                .join(VERSIONS, and_(VERSIONS.c.item_id == ITEMS.c.id, VERSIONS.c.seq == ITEMS.c.version_count))
                .where(ITEMS.c.account_id == self.account_id, ITEMS.c.platform_id.in_(platform_ids[start:start + 500]))
            )
            for row in rows:
                known[row.platform_id] = _Known(row.id, row.latest_hash, row.version_count, row.state,
                                                row.last_observed_at)
        return known

    def _state_only(self, chunk: list[Observed], known: dict[str, _Known]) -> list[Observed]:
        """A reported state change carries no content: it takes the latest version's (so a later
        full observation in the same state is no change), and is ignored for unknown items."""
        wanted = [known[o.observation.platform_id].item_id for o in chunk
                  if o.observation.state_only and o.observation.platform_id in known]
        latest: dict[int, Any] = {}
        if wanted:
            latest = {row.item_id: row for row in self.session.execute(
                select(VERSIONS.c.item_id, VERSIONS.c.content, VERSIONS.c.text, VERSIONS.c.media_urls)
                .join(ITEMS, and_(ITEMS.c.id == VERSIONS.c.item_id, ITEMS.c.version_count == VERSIONS.c.seq))
                .where(VERSIONS.c.item_id.in_(wanted)))}
        result = []
        for observed in chunk:
            observation = observed.observation
            if not observation.state_only:
                result.append(observed)
                continue
            state = known.get(observation.platform_id)
            if state is None:
                continue
            row = latest[state.item_id]
            full = replace(observation, content=row.content, text=row.text, media_urls=tuple(row.media_urls or ()),
                           state_only=False)
            result.append(Observed(full, observed.evidence_id, observed.observed_at))
        return result

    def _unseen_revisions(self, chunk: list[Observed], known: dict[str, _Known]) -> list[Observed]:
        """Past revisions (``historical``) of known items are kept only if no version has their content."""
        wanted = {known[o.observation.platform_id].item_id for o in chunk
                  if o.observation.historical and o.observation.platform_id in known}
        if not wanted:
            return chunk
        have = {(row[0], row[1]) for row in self.session.execute(
            select(VERSIONS.c.item_id, VERSIONS.c.content_hash).where(VERSIONS.c.item_id.in_(wanted)))}
        return [o for o in chunk if not (o.observation.historical and o.observation.platform_id in known and (
            known[o.observation.platform_id].item_id, o.observation.content_hash()) in have)]

    def _apply_unique(self, chunk: list[Observed]) -> None:
        known = self._load([o.observation.platform_id for o in chunk])
        counts = [o for o in chunk if o.observation.metrics_only and o.observation.platform_id in known]
        if counts:  # counts alone: the item's latest metrics and the record they came from, no version
            self._metrics(counts, known)
            self._link([(known[o.observation.platform_id].item_id, o.evidence_id) for o in counts])
        chunk = self._state_only([o for o in chunk if not o.observation.metrics_only], known)
        chunk = self._unseen_revisions(chunk, known)
        if not chunk:
            return
        digests = [o.observation.content_hash() for o in chunk]
        versions: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        touched: list[dict[str, Any]] = []
        fresh: list[tuple[Observed, str]] = []
        links: list[tuple[int, int]] = []
        for observed, digest in zip(chunk, digests, strict=True):
            state = known.get(observed.observation.platform_id)
            if state is not None:
                links.append((state.item_id, observed.evidence_id))
            if state is None:
                fresh.append((observed, digest))
            elif digest != state.latest_hash:
                versions.append(self._version_row(observed, state, digest))
                changed.append(self._item_update(observed, versions[-1]))
            elif observed.observed_at > state.last_observed_at:
                touched.append({"t_item": state.item_id, "t_seq": state.version_count, "t_at": observed.observed_at,
                                "t_ev": observed.evidence_id})
        if fresh:
            # An item is born with its first version's fields, so it needs no update afterwards.
            # (A plain executemany and one select is far faster than RETURNING row by row.)
            after = insert_indexed(self.session, ITEMS, [self._item_row(o, digest) for o, digest in fresh])
            if after is not None:  # SQLite: the items above ``after`` are exactly these (the write lock is held)
                ids = dict(self.session.connection().exec_driver_sql(
                    "SELECT platform_id, id FROM items WHERE id > ?", (after,)).all())
            else:
                ids = dict(self.session.execute(
                    select(ITEMS.c.platform_id, ITEMS.c.id).where(
                        ITEMS.c.account_id == self.account_id,
                        ITEMS.c.platform_id.in_([observed.observation.platform_id for observed, _ in fresh]),
                    )
                ).all())
            for observed, digest in fresh:
                item_id = ids[observed.observation.platform_id]
                links.append((item_id, observed.evidence_id))
                versions.append(self._version_row(observed, _Known(item_id, "", 0, "", _NEVER), digest))
            links += self._earlier_problems(ids)
        self._link(links)
        self._metrics(chunk, known)
        if versions:
            insert_indexed(self.session, VERSIONS, versions)
            self.new_versions += len(versions)
        if changed:
            self.session.execute(
                update(ITEMS).where(ITEMS.c.id == bindparam("c_id")).values(
                    latest_hash=bindparam("c_hash"), version_count=bindparam("c_seq"), state=bindparam("c_state"),
                    last_seen_at=bindparam("c_seen"),
                    # A lookup or a tombstone says little about the item: keep what earlier versions said.
                    url=func.coalesce(bindparam("c_url"), ITEMS.c.url),
                    author=func.coalesce(bindparam("c_author"), ITEMS.c.author),
                    posted_at=func.coalesce(bindparam("c_posted", type_=ITEMS.c.posted_at.type), ITEMS.c.posted_at),
                    parent_platform_id=func.coalesce(bindparam("c_parent"), ITEMS.c.parent_platform_id),
                ),
                changed,
            )
        if touched:
            self.session.execute(
                update(VERSIONS).where(VERSIONS.c.item_id == bindparam("t_item"), VERSIONS.c.seq == bindparam("t_seq"))
                .values(last_observed_at=bindparam("t_at"), last_evidence_id=bindparam("t_ev")),
                touched,
            )
            self.session.execute(
                update(ITEMS).where(ITEMS.c.id == bindparam("t_item")).values(last_seen_at=bindparam("t_at")), touched
            )

    def _earlier_problems(self, born: dict[str, int]) -> list[tuple[int, int]]:
        """Records in which a newly born item was seen but could not be read: still its evidence."""
        if self.session.execute(select(PROBLEMS.c.id).where(PROBLEMS.c.account_id == self.account_id)
                                .limit(1)).first() is None:
            return []  # the account has none (nearly always): no need to look up every new item
        return [(born[row.platform_id], row.evidence_id) for row in self.session.execute(
            select(PROBLEMS.c.platform_id, PROBLEMS.c.evidence_id).where(
                PROBLEMS.c.account_id == self.account_id, PROBLEMS.c.platform_id.in_(list(born))))]

    def _metrics(self, chunk: list[Observed], known: dict[str, _Known]) -> None:
        """The latest observed counts, on new and unchanged observations alike (never older ones)."""
        rows = [{"m_item": known[o.observation.platform_id].item_id, "m_values": dict(o.observation.metrics),
                 "m_at": o.observed_at} for o in chunk if o.observation.metrics and o.observation.platform_id in known]
        if rows:  # (new items were born with theirs)
            at = bindparam("m_at", type_=ITEMS.c.metrics_observed_at.type)
            self.session.execute(
                update(ITEMS).where(ITEMS.c.id == bindparam("m_item"),
                                    or_(ITEMS.c.metrics_observed_at.is_(None), ITEMS.c.metrics_observed_at <= at))
                .values(metrics=bindparam("m_values", type_=ITEMS.c.metrics.type), metrics_observed_at=at),
                rows,
            )

    def _link(self, links: list[tuple[int, int]]) -> None:
        """Remember every record each item was seen in (disposition and holds act on records)."""
        unseen = list({e for _, e in links} - self._records)
        if unseen:  # an earlier recorder may have linked part of the same record already
            self._records.update(unseen)
            self._linked.update((row[0], row[1]) for row in self.session.execute(
                select(ITEM_EVIDENCE.c.item_id, ITEM_EVIDENCE.c.evidence_id)
                .where(ITEM_EVIDENCE.c.evidence_id.in_(unseen))).all())
        fresh = [pair for pair in dict.fromkeys(links) if pair not in self._linked]
        if fresh:
            self._linked.update(fresh)
            insert_rows(self.session, ITEM_EVIDENCE, [{"item_id": i, "evidence_id": e} for i, e in fresh])

    def _item_row(self, observed: Observed, digest: str) -> dict[str, Any]:
        observation = observed.observation
        return {
            "account_id": self.account_id, "platform_id": observation.platform_id, "kind": observation.kind,
            "parent_platform_id": observation.parent_id, "url": observation.url, "author": observation.author,
            "posted_at": observation.posted_at, "first_seen_at": observed.observed_at,
            "last_seen_at": observed.observed_at, "state": derived_state(observation.state, None),
            "version_count": 1, "latest_hash": digest,
            "metrics": dict(observation.metrics) if observation.metrics else None,
            "metrics_observed_at": observed.observed_at if observation.metrics else None,
        }

    @staticmethod
    def _item_update(observed: Observed, version: dict[str, Any]) -> dict[str, Any]:
        observation = observed.observation
        return {"c_id": version["item_id"], "c_hash": version["content_hash"], "c_seq": version["seq"],
                "c_state": version["state"], "c_seen": observed.observed_at, "c_url": observation.url,
                "c_author": observation.author, "c_posted": observation.posted_at, "c_parent": observation.parent_id}

    @staticmethod
    def _version_row(observed: Observed, known: _Known, digest: str) -> dict[str, Any]:
        observation = observed.observation
        state = derived_state(observation.state, known.state if known.version_count else None)
        known.version_count += 1
        known.latest_hash, known.state, known.last_observed_at = digest, state, observed.observed_at
        return {
            "item_id": known.item_id, "seq": known.version_count, "content_hash": digest, "state": state,
            "content": dict(observation.content), "text": observation.text,
            "media_urls": list(observation.media_urls), "first_observed_at": observed.observed_at,
            "last_observed_at": observed.observed_at, "first_evidence_id": observed.evidence_id,
            "last_evidence_id": observed.evidence_id,
        }


def insert_evidence(session: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert evidence rows (dicts of Evidence columns); their ids in the same order."""
    if not rows:
        return []
    result = session.execute(insert(EVIDENCE).returning(EVIDENCE.c.id, sort_by_parameter_order=True), list(rows))
    return [row.id for row in result]
