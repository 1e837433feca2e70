"""``archiver retention plan``: what has become eligible for disposition, saved for approval.

A plan is a proposal: the due items (per series), the WARC objects that would be deleted or
rewritten, and what cannot go yet and why. Its digest covers exactly that content, so an
approval binds to what the records manager saw. Nothing is destroyed by planning.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver import audit
from archiver.config import Config
from archiver.index.models import Account, Item
from archiver.retention import holds
from archiver.retention.models import HeldObject, PlanItem, PlanObject, RetentionPlan
from archiver.retention.schedule import Due, due_items
from archiver.retention.selection import Selection, select_records


class PlanError(Exception):
    """A plan that cannot be made, approved or applied; the message says why."""


@dataclass
class Draft:
    as_of: datetime
    due: list[Due]
    selection: Selection
    held: set[int]


def draft(session: Session, config: Config, as_of: datetime, *, accounts: tuple[str, ...] = (),
          series: tuple[str, ...] = (), only: set[tuple[str, str]] | None = None,
          frozen: set[str] = frozenset()) -> Draft:  # type: ignore[assignment]
    """Due items and the records that would go; ``only`` limits it to approved items."""
    holds.refresh(session)
    due = [d for d in due_items(session, config, as_of, accounts=accounts, series=series)
           if only is None or (d.account, d.item.platform_id) in only]
    held = holds.held_item_ids(session)
    frozen_keys = set(session.scalars(select(HeldObject.key))) | set(frozen)
    selection = select_records(session, {d.item.id for d in due}, held, frozen_keys)
    return Draft(as_of, due, selection, held)


def propose(session: Session, config: Config, as_of: datetime | None, who: str, *, accounts: tuple[str, ...] = (),
            series: tuple[str, ...] = ()) -> RetentionPlan:
    """Draft and save a plan of what is eligible as of ``as_of`` (default now; never in the future)."""
    as_of = as_of or datetime.now(UTC)
    if as_of > datetime.now(UTC):
        raise PlanError("--as-of cannot be in the future: a plan lists what is eligible now or was by then")
    for code in series:
        if config.retention.get(code) is None:
            raise PlanError(f"no record series {code!r} in [[retention.series]]")
    return save(session, config, draft(session, config, as_of, accounts=accounts, series=series), who)


def _digest(content: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def save(session: Session, config: Config, made: Draft, who: str) -> RetentionPlan:
    selection = made.selection
    chosen = [d for d in made.due if d.item.id in selection.disposed]
    objects = []
    for file_id in sorted(selection.delete_files | selection.rewrite_files, key=lambda f: selection.files[f].key):
        warc = selection.files[file_id]
        doomed = selection.destroyed[file_id]
        kept = sum(1 for r in selection.records.values() if r.file_id == file_id) - len(doomed)
        objects.append(PlanObject(key=warc.key, action="delete" if file_id in selection.delete_files else "rewrite",
                                  sha256=warc.sha256 or "", size=warc.size or 0, records_removed=len(doomed),
                                  records_kept=kept, retain_until=warc.retain_until))
    deferred = [{"account": d.account, "platform_id": d.item.platform_id, "series": d.series.code,
                 "reason": selection.deferred[d.item.id]} for d in made.due if d.item.id in selection.deferred]
    summary = {"series": _per_series(config, chosen), "items": len(chosen), "objects": len(objects),
               "deferred": deferred,
               "locked": [o.key for o in objects if o.retain_until and o.retain_until > datetime.now(UTC)]}
    content = {"as_of": made.as_of.isoformat(),
               "items": sorted((d.account, d.item.platform_id, d.series.code, d.item.latest_hash) for d in chosen),
               "objects": [(o.key, o.action, o.sha256, o.records_removed) for o in objects]}
    plan = RetentionPlan(uid=f"P{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(3)}", created_at=datetime.now(UTC),
                         created_by=who, as_of=made.as_of, state="proposed", digest=_digest(content), summary=summary)
    session.add(plan)
    session.flush()
    session.add_all(PlanItem(plan_id=plan.id, account=d.account, platform_id=d.item.platform_id, series=d.series.code,
                             kind=d.item.kind, posted_at=d.item.posted_at, first_seen_at=d.item.first_seen_at,
                             last_seen_at=d.item.last_seen_at, versions=d.item.version_count,
                             content_hash=d.item.latest_hash, eligible_on=d.eligible_on) for d in chosen)
    for obj in objects:
        obj.plan_id = plan.id
    session.add_all(objects)
    audit.record(session, "retention.planned", plan.uid, who=who, as_of=made.as_of.isoformat(), items=len(chosen),
                 objects=len(objects), deferred=len(deferred), digest=plan.digest)
    return plan


def _per_series(config: Config, chosen: list[Due]) -> list[dict[str, Any]]:
    grouped: dict[str, list[Due]] = defaultdict(list)
    for due in chosen:
        grouped[due.series.code].append(due)
    rows = []
    for code, members in sorted(grouped.items()):
        series = config.retention.get(code)
        rows.append({"code": code, "title": series.title if series else "", "authority": series.authority if series
                     else "", "keep": series.keep if series else "", "trigger": series.trigger if series else "",
                     "action": series.action if series else "destroy", "items": len(members),
                     "kinds": dict(Counter(d.item.kind for d in members)),
                     "accounts": sorted({d.account for d in members}),
                     "eligible_from": min(d.eligible_on for d in members).isoformat(),
                     "eligible_to": max(d.eligible_on for d in members).isoformat()})
    return rows


def find(session: Session, uid: str) -> RetentionPlan:
    plan = session.scalar(select(RetentionPlan).where(RetentionPlan.uid == uid))
    if plan is None:
        raise PlanError(f"no retention plan {uid!r}; see 'archiver retention list'")
    return plan


def approve(session: Session, uid: str, approver: str) -> RetentionPlan:
    plan = find(session, uid)
    if plan.state != "proposed":
        raise PlanError(f"plan {uid} is {plan.state}; only a proposed plan can be approved")
    if not approver.strip():
        raise PlanError("--by must name the person approving the disposition")
    if approver.strip() == plan.created_by:
        raise PlanError(f"plan {uid} was drafted by {plan.created_by}; another records manager must approve it")
    if plan.as_of > datetime.now(UTC):
        raise PlanError(f"plan {uid} looks ahead to {plan.as_of:%Y-%m-%d}; it can be approved from that date")
    plan.state, plan.approved_by, plan.approved_at = "approved", approver.strip(), datetime.now(UTC)
    audit.record(session, "retention.approved", plan.uid, approver=plan.approved_by, digest=plan.digest,
                 items=plan.summary.get("items"), objects=plan.summary.get("objects"))
    return plan


def describe(session: Session, plan: RetentionPlan) -> dict[str, Any]:
    objects = session.scalars(select(PlanObject).where(PlanObject.plan_id == plan.id).order_by(PlanObject.key)).all()
    return {"id": plan.uid, "state": plan.state, "as_of": plan.as_of.isoformat(),
            "created_at": plan.created_at.isoformat(), "created_by": plan.created_by, "digest": plan.digest,
            "approved_by": plan.approved_by, "approved_at": plan.approved_at.isoformat() if plan.approved_at else None,
            "applied_at": plan.applied_at.isoformat() if plan.applied_at else None, "certificate": plan.certificate,
            "series": plan.summary.get("series", []), "items": plan.summary.get("items", 0),
            "deferred": plan.summary.get("deferred", []), "locked": plan.summary.get("locked", []),
            "objects": [{"key": o.key, "action": o.action, "sha256": o.sha256, "size": o.size,
                         "records_removed": o.records_removed, "records_kept": o.records_kept,
                         "retain_until": o.retain_until.isoformat() if o.retain_until else None,
                         "outcome": o.outcome, "new_key": o.new_key, "message": o.message} for o in objects]}


def plan_items(session: Session, plan: RetentionPlan) -> list[PlanItem]:
    return list(session.scalars(select(PlanItem).where(PlanItem.plan_id == plan.id).order_by(PlanItem.id)))


def current_items(session: Session, members: set[tuple[str, str]]) -> dict[tuple[str, str], Item]:
    found: dict[tuple[str, str], Item] = {}
    for account in {a for a, _ in members}:
        wanted = sorted(p for a, p in members if a == account)
        for start in range(0, len(wanted), 500):
            for item in session.scalars(select(Item).join(Account, Account.id == Item.account_id).where(
                    Account.name == account, Item.platform_id.in_(wanted[start:start + 500]))):
                found[(account, item.platform_id)] = item
    return found
