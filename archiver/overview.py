"""The state of the archive at a glance: accounts, what needs attention, holds and plans waiting.

``archiver accounts`` prints ``account_rows``; the web app's dashboard shows ``dashboard``,
``open_alerts`` (the daemon's alert register) and ``budgets`` (metered credentials).
Disconnected accounts come first, each with its cause and what fixes it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archiver.alerts.conditions import KINDS
from archiver.alerts.monitor import open_rows
from archiver.config import Config
from archiver.coverage import coverage
from archiver.index.db import IndexDB
from archiver.index.models import Account, Harvest, Item
from archiver.quarantine import counts as quarantine_counts
from archiver.quarantine import quarantined
from archiver.retention.models import LegalHold, RetentionPlan
from archiver.runplan import plan

FIXES = {
    "token": "renew the access token, put it in the environment variable the account's token_env names, "
             "restart the archiver and run: archiver harvest {name}",
    "permission": "grant the missing permission to the archiver's app on the platform, then run: "
                  "archiver harvest {name}",
    "quota": "nothing to do: the harvest resumes when the platform's limit resets; lengthen the schedule "
             "if this repeats",
    "outage": "nothing to do if the platform is down; the next scheduled harvest retries",
    "storage": "check the storage ([storage] url) is reachable; the spool keeps everything until it is",
    "config": "fix the account's configuration (archiver check-config), then run: archiver harvest {name}",
}
_ORDER = {"disconnected": 0, "waiting": 1, "active": 2, "never harvested": 3}


def account_rows(session: Session, config: Config) -> list[dict[str, Any]]:
    """Each configured account with its state, items, last harvest and last success."""
    rows = []
    held = {name: [q.as_dict() for q in quarantined(session, name)] for name in quarantine_counts(session)}
    for account in config.accounts:
        known = session.scalar(select(Account).where(Account.name == account.name))
        last = success = None
        items = 0
        if known is not None:
            last = session.scalar(select(Harvest).where(Harvest.account_id == known.id)
                                  .order_by(Harvest.started_at.desc()).limit(1))
            success = session.scalar(select(Harvest).where(Harvest.account_id == known.id,
                                                           Harvest.status == "succeeded")
                                     .order_by(Harvest.started_at.desc()).limit(1))
            items = session.scalar(select(func.count(Item.id)).where(Item.account_id == known.id)) or 0
        status = known.status if known else "never harvested"
        cause = last.cause if last is not None and last.status != "succeeded" else None
        rows.append({
            "name": account.name, "platform": account.platform, "id": account.id, "schedule": account.schedule,
            "status": status, "status_reason": known.status_reason if known else None, "items": items,
            "last_harvest": last.started_at.isoformat() if last else None,
            "last_result": last.status if last else None, "last_error": last.error if last else None,
            "last_success": (success.finished_at or success.started_at).isoformat() if success else None,
            "cause": cause,
            "fix": FIXES.get(cause or "", "").format(name=account.name) if status != "active" or cause else "",
            # Records captured but not indexed (archiver/quarantine.py): listed until a reindex reads them.
            "quarantined": len(held.get(account.name, [])), "quarantined_records": held.get(account.name, []),
        })
    return rows


def _spool(config: Config) -> dict[str, Any]:
    files = [p for p in config.spool_dir.rglob("*.warc.gz*") if p.is_file()] if config.spool_dir.exists() else []
    return {"files": len(files), "bytes": sum(p.stat().st_size for p in files), "path": str(config.spool_dir)}


def dashboard(session: Session, config: Config, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    accounts = sorted(account_rows(session, config), key=lambda r: (_ORDER.get(r["status"], 9), r["name"]))
    gaps = []
    for account in config.accounts:
        report = coverage(session, account.name, account.schedule, since=now - timedelta(days=30), now=now)
        gaps.extend({"account": account.name, **span} for span in report["spans"] if span["state"] != "covered")
    attention = [f"{r['name']}: {r['status']} — {r['status_reason'] or r['last_error'] or 'no reason recorded'}"
                 for r in accounts if r["status"] in ("disconnected", "waiting")]
    attention += [f"{r['name']}: last harvest {r['last_result']} — {r['last_error'] or ''}".rstrip(" —")
                  for r in accounts if r["status"] == "active" and r["last_result"] not in (None, "succeeded")]
    attention += [f"{r['name']}: {r['quarantined']} record(s) quarantined (captured, not indexed); "
                  "archiver accounts lists them, archiver reindex tries them again"
                  for r in accounts if r["quarantined"]]
    spool = _spool(config)
    if spool["files"]:
        attention.append(f"{spool['files']} WARC file(s) waiting in the spool ({spool['path']})")
    holds = session.scalar(select(func.count()).select_from(LegalHold).where(LegalHold.released_at.is_(None))) or 0
    plans = [{"id": p.uid, "as_of": p.as_of.isoformat(), "created_by": p.created_by,
              "items": (p.summary or {}).get("items", 0)}
             for p in session.scalars(select(RetentionPlan).where(RetentionPlan.state == "proposed")
                                      .order_by(RetentionPlan.id))]
    return {"accounts": accounts, "gaps": gaps, "attention": attention, "spool": spool, "active_holds": holds,
            "plans_waiting": plans}


def open_alerts(db: IndexDB) -> list[dict[str, Any]]:
    """The conditions the daemon's alert register holds open (as its last check found them), oldest first."""
    rows = sorted(open_rows(db).values(), key=lambda row: row.since)
    return [{"kind": row.kind, "title": KINDS[row.kind].title if row.kind in KINDS else row.kind,
             "subject": row.subject, "account": row.account, "cause": row.cause,
             "since": row.since.isoformat(timespec="minutes"), "command": row.command} for row in rows]


def budgets(db: IndexDB, config: Config, now: datetime | None = None) -> list[dict[str, Any]]:
    """Each metered credential once (X paid reads, YouTube units): used of the limit, the use
    projected by the reset from the schedules, its accounts, and why their runs are spaced out."""
    shown: dict[str, dict[str, Any]] = {}
    for name, planned in plan(db, config, now).items():
        if planned.budget is None:
            continue
        entry = shown.setdefault(planned.budget.credential, planned.budget.as_dict() | {"accounts": [], "note": None})
        if planned.projected is not None:
            entry["projected"] = planned.projected
        entry["accounts"].append(name)
        entry["note"] = entry["note"] or planned.reason
    return list(shown.values())
