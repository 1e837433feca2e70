"""Turning observations into items and versions, and WARC records into evidence rows.

This is the only code that writes items and versions, for live harvests and for
``reindex`` alike, so both give the same index. A new version is stored only when the
content or the state changed; an unchanged re-observation just moves the version's
"last observed" time and evidence forward, which is what later lets the archive say a change
happened between two observed times.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from archiver.index.models import Evidence, Item, Version
from connectors.base import Observation, VersionState

# Core tables: bulk statements without the ORM's per-row bookkeeping.
ITEMS = Item.__table__
VERSIONS = Version.__table__
EVIDENCE = Evidence.__table__


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
    latest_version_id: int
    version_count: int
    state: str
    last_observed_at: datetime


def derived_state(observed: VersionState, previous_state: str | None) -> str:
    """The state a new version records.

    A visible observation whose content differs from a visible (or edited) predecessor is an
    edit; after a hidden, deleted or unavailable version it is the item coming back.
    """
    if observed is VersionState.VISIBLE and previous_state in (VersionState.VISIBLE, VersionState.EDITED):
        return VersionState.EDITED.value
    return observed.value


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
    )


class VersionRecorder:
    """Applies observations of one account to the index, a batch at a time."""

    def __init__(self, session: Session, account_id: int):
        self.session = session
        self.account_id = account_id
        self.new_versions = 0

    def apply(self, batch: Sequence[Observed]) -> int:
        """Record a batch in capture order; returns how many new versions it made."""
        before = self.new_versions
        chunk: list[Observed] = []
        ids: set[str] = set()
        for observed in batch:
            if observed.observation.platform_id in ids:  # same item twice: apply in order
                self._apply_unique(chunk)
                chunk, ids = [], set()
            chunk.append(observed)
            ids.add(observed.observation.platform_id)
        if chunk:
            self._apply_unique(chunk)
        return self.new_versions - before

    def _load(self, platform_ids: list[str]) -> dict[str, _Known]:
        known: dict[str, _Known] = {}
        for start in range(0, len(platform_ids), 500):
            rows = self.session.execute(
                select(Item.id, Item.platform_id, Item.latest_hash, Item.latest_version_id, Item.version_count,
                       Item.state, Version.last_observed_at)
                .join(Version, Version.id == Item.latest_version_id)
                .where(Item.account_id == self.account_id, Item.platform_id.in_(platform_ids[start:start + 500]))
            )
            for row in rows:
                known[row.platform_id] = _Known(row.id, row.latest_hash, row.latest_version_id, row.version_count,
                                                row.state, row.last_observed_at)
        return known

    def _apply_unique(self, chunk: list[Observed]) -> None:
        known = self._load([o.observation.platform_id for o in chunk])
        fresh = [o for o in chunk if o.observation.platform_id not in known]
        if fresh:
            rows = self.session.execute(
                insert(ITEMS).returning(ITEMS.c.id, ITEMS.c.platform_id, sort_by_parameter_order=True),
                [self._item_row(o) for o in fresh],
            )
            for row in rows:
                known[row.platform_id] = _Known(row.id, "", 0, 0, "", _NEVER)
        new_rows: list[tuple[dict[str, Any], dict[str, Any]]] = []
        touched: list[dict[str, Any]] = []
        for observed in chunk:
            observation = observed.observation
            state = known[observation.platform_id]
            digest = observation.content_hash()
            if state.version_count and digest == state.latest_hash:
                if observed.observed_at > state.last_observed_at:
                    touched.append({"v_id": state.latest_version_id, "v_at": observed.observed_at,
                                    "v_ev": observed.evidence_id, "i_id": state.item_id})
                continue
            new_rows.append(self._version_row(observed, state, digest))
        if new_rows:
            created = self.session.execute(
                insert(VERSIONS).returning(VERSIONS.c.id, sort_by_parameter_order=True), [row for row, _ in new_rows]
            ).all()
            self.session.execute(
                update(ITEMS).where(ITEMS.c.id == bindparam("i_id")).values(
                    latest_version_id=bindparam("i_version"), latest_hash=bindparam("i_hash"),
                    version_count=bindparam("i_count"), state=bindparam("i_state"),
                    last_seen_at=bindparam("i_seen"), url=bindparam("i_url"), author=bindparam("i_author"),
                    posted_at=bindparam("i_posted"), parent_platform_id=bindparam("i_parent"),
                ),
                [
                    {"i_id": row["item_id"], "i_version": made.id, "i_hash": row["content_hash"],
                     "i_count": row["seq"], "i_state": row["state"], "i_seen": row["last_observed_at"], **item}
                    for (row, item), made in zip(new_rows, created, strict=True)
                ],
            )
            self.new_versions += len(new_rows)
        if touched:
            self.session.execute(
                update(VERSIONS).where(VERSIONS.c.id == bindparam("v_id")).values(
                    last_observed_at=bindparam("v_at"), last_evidence_id=bindparam("v_ev")
                ),
                touched,
            )
            self.session.execute(
                update(ITEMS).where(ITEMS.c.id == bindparam("i_id")).values(last_seen_at=bindparam("v_at")), touched
            )

    def _item_row(self, observed: Observed) -> dict[str, Any]:
        observation = observed.observation
        return {
            "account_id": self.account_id, "platform_id": observation.platform_id, "kind": observation.kind,
            "parent_platform_id": observation.parent_id, "url": observation.url, "author": observation.author,
            "posted_at": observation.posted_at, "first_seen_at": observed.observed_at,
            "last_seen_at": observed.observed_at, "state": observation.state.value, "version_count": 0,
            "latest_hash": "",
        }

    def _version_row(
        self, observed: Observed, known: _Known, digest: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        observation = observed.observation
        state = derived_state(observation.state, known.state if known.version_count else None)
        known.version_count += 1
        known.latest_hash, known.state, known.last_observed_at = digest, state, observed.observed_at
        row = {
            "item_id": known.item_id, "seq": known.version_count, "content_hash": digest, "state": state,
            "content": dict(observation.content), "text": observation.text,
            "media_urls": list(observation.media_urls), "first_observed_at": observed.observed_at,
            "last_observed_at": observed.observed_at, "first_evidence_id": observed.evidence_id,
            "last_evidence_id": observed.evidence_id,
        }
        item = {"i_url": observation.url, "i_author": observation.author, "i_posted": observation.posted_at,
                "i_parent": observation.parent_id}
        return row, item


def insert_evidence(session: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert evidence rows (dicts of Evidence columns); their ids in the same order."""
    if not rows:
        return []
    result = session.execute(insert(EVIDENCE).returning(EVIDENCE.c.id, sort_by_parameter_order=True), list(rows))
    return [row.id for row in result]
