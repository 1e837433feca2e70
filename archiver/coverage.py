"""Coverage: over a period, was capture of an account complete, and where were the gaps?

The ledger is the harvest record itself (rebuilt by reindex from each WARC's summary): every
harvest that listed the account completely closes a *covered* span back to the previous one.
Between two complete harvests, anything that kept the account from being captured on schedule
(a failed harvest, no harvest at all) is a *gap*, with its causes. A gap is *filled* when the
next complete harvest pages back to the last cursor — new items from the gap were then captured,
later than scheduled; it stays open (content may be missing) when the platform's own window no
longer reached back (a feed keeps only its newest entries, X search only 7 days).

This is the statement a clerk attaches to a response or a lawyer to a declaration.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.index.models import Account, Harvest
from archiver.quarantine import quarantined
from archiver.schedule import parse_schedule

CAUSES = {
    "token": "the access token expired or was revoked",
    "permission": "a permission was missing",
    "quota": "the platform throttled the account",
    "outage": "the platform did not answer (errors, timeouts)",
    "platform": "the platform answered with an error",
    "listing": "the listing could not be read completely",
    "storage": "storage was unavailable",
    "spool": "the local spool could not be written",
    "stopped": "the archiver was stopped during the harvest",
    "config": "the configuration was incomplete",
    "size": "an answer was larger than [capture] body_max_bytes",
    "idle": "no harvest ran (the archiver was not running)",
    "window": "the platform's listing window no longer reached back",
    "parser": "the connector failed on a response (a defect; what was captured is kept)",
}


def expected_interval(schedule: str) -> timedelta:
    trigger = parse_schedule(schedule, minimum=1)  # the config checked the account's minimum
    if isinstance(trigger, IntervalTrigger):
        return trigger.interval
    assert isinstance(trigger, CronTrigger)
    start = datetime(2026, 1, 5, tzinfo=UTC)  # any Monday: the longest wait between two firings
    times = [trigger.get_next_fire_time(None, start)]
    for _ in range(60):
        times.append(trigger.get_next_fire_time(times[-1], times[-1] + timedelta(seconds=1)))
    return max(b - a for a, b in itertools.pairwise(times) if a and b)


@dataclass
class Span:
    start: datetime
    end: datetime
    state: str  # covered | gap | uncovered
    causes: list[str] = field(default_factory=list)
    filled_at: datetime | None = None  # when a complete harvest recovered the gap
    may_be_missing: bool = False  # content from this span may never have been captured
    harvests: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.start.isoformat(), "to": self.end.isoformat(), "state": self.state,
            "causes": [{"cause": c, "meaning": CAUSES.get(c, c)} for c in self.causes],
            "filled_at": self.filled_at.isoformat() if self.filled_at else None,
            "may_be_missing": self.may_be_missing, "failed_harvests": self.harvests,
        }


def _merge(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for span in spans:
        last = merged[-1] if merged else None
        if last and last.state == span.state == "covered" and last.end >= span.start:
            last.end = max(last.end, span.end)
        else:
            merged.append(span)
    return merged


def coverage(session: Session, account_name: str, schedule: str, since: datetime | None = None,
             until: datetime | None = None, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    asked_until, until = until, min(until or now, now)
    account = session.scalar(select(Account).where(Account.name == account_name))
    harvests = [] if account is None else session.scalars(
        select(Harvest).where(Harvest.account_id == account.id).order_by(Harvest.started_at)).all()
    tolerance = expected_interval(schedule) * 2 + timedelta(minutes=5)
    spans: list[Span] = []
    previous: datetime | None = None  # end of the last complete harvest
    failures: list[Harvest] = []
    for harvest in harvests:
        if harvest.status == "running" or (harvest.coverage or {}).get("targeted"):
            continue  # a webhook's re-fetch of a few objects neither covers nor breaks coverage
        done = harvest.finished_at or harvest.started_at
        if not harvest.complete:
            failures.append(harvest)
            continue
        window = (harvest.coverage or {}).get("window_exceeded")
        if previous is None:
            spans.append(Span(done, done, "covered"))
        elif failures or done - previous > tolerance or window:
            causes = sorted({f.cause or "platform" for f in failures}) or ["idle"]
            if window:
                causes.append("window")
            spans.append(Span(previous, done, "gap", causes, filled_at=done, may_be_missing=bool(window),
                              harvests=len(failures)))
        else:
            spans.append(Span(previous, done, "covered"))
        previous, failures = done, []
    if previous is not None and (failures or until - previous > tolerance):
        causes = sorted({f.cause or "platform" for f in failures}) or ["idle"]
        spans.append(Span(previous, until, "gap", causes, may_be_missing=True, harvests=len(failures)))
    start = since or (spans[0].start if spans else until)
    if not spans or spans[0].start > start:
        spans.insert(0, Span(start, spans[0].start if spans else until, "uncovered",
                             ["no complete harvest yet"] if not spans else []))
    clipped = [Span(max(s.start, start), min(s.end, until), s.state, s.causes, s.filled_at, s.may_be_missing,
                    s.harvests) for s in _merge(spans) if s.end >= start and s.start <= until]
    gaps = [s for s in clipped if s.state != "covered"]
    missing = [s for s in gaps if s.may_be_missing or s.state == "uncovered"]
    verdict = ("complete" if not gaps else "complete; delayed during gaps that were later filled" if not missing
               else "incomplete: content from the gaps marked may_be_missing may not have been captured")
    held = [q.as_dict() for q in quarantined(session, account_name, since, asked_until)]
    return {
        "account": account_name, "from": start.isoformat(), "to": until.isoformat(), "verdict": verdict,
        # Captured (the bytes are in storage) but not indexed: listed apart, since capture was complete.
        "quarantined": held,
        "complete": not missing, "expected_interval_seconds": int(tolerance.total_seconds() - 300) // 2,
        "harvests": len(harvests), "complete_harvests": sum(1 for h in harvests if h.complete),
        "spans": [s.as_dict() for s in clipped],
    }
