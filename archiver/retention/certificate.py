"""The disposition certificate: what was destroyed, under which authority, approved by whom.

Kept permanently, after the records are gone: in the index (a table the database refuses to
change) and as a JSON object in storage next to the WARCs (``certificates/<id>.json``, under
the permanent Object Lock). Its SHA-256 is in the audit trail. It lists every disposed item
with its content hash, every WARC object with its SHA-256 and what became of it (deleted,
rewritten into which new object, or refused by the store and why), the transfer packages,
and every approved item that was not disposed, with the reason.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver import __version__
from archiver.audit import AuditEntry
from archiver.config import Config
from archiver.items import ItemRef
from archiver.retention.models import DisposedItem, DispositionCertificate, RetentionPlan
from archiver.retention.plan import _per_series, plan_items
from storage.base import Storage, StorageError

if TYPE_CHECKING:
    from archiver.retention.plan import Draft
    from archiver.retention.transfer import Package


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def issue(session: Session, config: Config, storage: Storage, plan: RetentionPlan, made: Draft, disposed: set[int],
          outcomes: dict[str, dict[str, Any]], refused: dict[str, str], packages: list[Package],
          who: str) -> dict[str, Any]:
    chosen = [d for d in made.due if d.item.id in disposed]
    gone = {(d.account, d.item.platform_id) for d in chosen}
    reasons = {(d.account, d.item.platform_id): made.selection.deferred.get(d.item.id) for d in made.due}
    not_disposed = [{"account": p.account, "platform_id": p.platform_id, "series": p.series,
                     "reason": reasons.get((p.account, p.platform_id)) or "no longer due (captured again since the "
                     "plan, or its series changed)"}
                    for p in plan_items(session, plan) if (p.account, p.platform_id) not in gone]
    for entry in not_disposed:
        key = (entry["account"], entry["platform_id"])
        if key in reasons and reasons[key] is None and key not in gone:
            entry["reason"] = "a WARC object holding it could not be destroyed"
    head = session.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1))
    uid = f"C{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(3)}"
    content = {
        "certificate": uid, "title": "Certificate of records disposition", "agency": config.archiver.agency,
        "software": f"gov-social-archiver/{__version__}", "plan": plan.uid, "plan_digest": plan.digest,
        "as_of": _iso(plan.as_of), "approved_by": plan.approved_by, "approved_at": _iso(plan.approved_at),
        "applied_by": who, "issued_at": datetime.now(UTC).isoformat(),
        "series": _per_series(config, chosen) if chosen else [],
        "counts": {"items": len(chosen), "versions": sum(d.item.version_count for d in chosen),
                   "objects_deleted": sum(o["outcome"] == "deleted" for o in outcomes.values()),
                   "objects_rewritten": sum(o["outcome"] == "rewritten" for o in outcomes.values()),
                   "objects_refused": sum(o["outcome"] in ("refused", "failed") for o in outcomes.values())
                   + len(refused), "not_disposed": len(not_disposed)},
        "items": [{"item": str(ItemRef(d.account, d.item.platform_id)), "account": d.account,
                   "platform_id": d.item.platform_id, "kind": d.item.kind,
                   "series": d.series.code, "posted_at": _iso(d.item.posted_at),
                   "first_captured_at": _iso(d.item.first_seen_at), "last_captured_at": _iso(d.item.last_seen_at),
                   "versions": d.item.version_count, "content_sha256": d.item.latest_hash,
                   "eligible_on": _iso(d.eligible_on)} for d in sorted(chosen, key=lambda d: (d.account, d.item.id))],
        "objects": [{"key": key, "sha256": o["sha256"], "size": o["size"], "outcome": o["outcome"],
                     "records_removed": len(o["records"]), "new_key": o.get("new_key"),
                     "new_sha256": o.get("new_sha256"), "new_size": o.get("new_size"), "message": o.get("message")}
                    for key, o in sorted(outcomes.items())]
        + [{"key": key, "outcome": "refused", "message": reason, "records_removed": 0}
           for key, reason in sorted(refused.items())],
        "transfers": [{"package": str(p.path), "sha256": p.sha256, "size": p.size, "records": p.records,
                       "files": p.files} for p in packages],
        "not_disposed": not_disposed,
        "audit_head": {"seq": head.seq, "hash": head.hash} if head else None,
    }
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()
    session.add(DispositionCertificate(uid=uid, plan_uid=plan.uid, issued_at=datetime.now(UTC), sha256=digest,
                                       content=json.loads(json.dumps(content, default=str))))
    session.add_all(DisposedItem(account=a, platform_id=p, certificate=uid, disposed_at=datetime.now(UTC))
                    for a, p in sorted(gone))
    session.flush()
    _store_copy(config, storage, uid, content)
    return {"id": uid, "sha256": digest, "content": content}


def _store_copy(config: Config, storage: Storage, uid: str, content: dict[str, Any]) -> None:
    """A copy beside the WARCs, locked like permanent records where the store can lock."""
    data = json.dumps(content, indent=2, sort_keys=True, default=str).encode()
    period = config.retention.permanent_period
    until = period.after(datetime.now(UTC)) if period else None
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / f"{uid}.json"
        path.write_bytes(data)
        try:
            storage.put(f"certificates/{uid}.json", path, hashlib.sha256(data).hexdigest(), retain_until=until)
        except StorageError:  # the index copy is authoritative; the store's copy is a convenience
            import logging

            logging.getLogger(__name__).exception("could not store a copy of certificate %s", uid)


def find_certificate(session: Session, ref: str) -> DispositionCertificate | None:
    return session.scalar(select(DispositionCertificate).where(
        (DispositionCertificate.uid == ref) | (DispositionCertificate.plan_uid == ref)))
