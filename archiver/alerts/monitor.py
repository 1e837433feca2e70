"""Keeping the alert register and telling people: opened, reminded every ``repeat_every``, all clear.

One ``check`` finds the conditions (``conditions.evaluate``), records new ones in the index,
marks ended ones cleared (never those of a kind whose check failed this time), and sends what
each channel is owed: the opening alert, a reminder once ``repeat_every`` has passed since the
last one, the all-clear to every channel that heard the alert. A delivery that fails is tried
again on the next check (after ``RETRY_SECONDS``); nothing is marked sent that was not.

Several daemons may share one PostgreSQL index: a check runs under a transaction-level
advisory lock, so one of them sends while the others skip that round.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from archiver.alerts.channels import Channel, DeliveryError, channels
from archiver.alerts.conditions import KINDS, Condition, Probe, evaluate
from archiver.alerts.models import AlertCondition
from archiver.alerts.notices import Notice
from archiver.capture.redact import Redactor
from archiver.config import Config, configured_secrets
from archiver.index.db import IndexDB

log = logging.getLogger(__name__)
ADVISORY_LOCK = 0x61726368  # "arch": one alert check at a time across daemons sharing PostgreSQL
RETRY_SECONDS = 300.0  # a channel that failed is left alone this long


@dataclass
class CheckReport:
    open: list[Condition] = field(default_factory=list)
    opened: list[str] = field(default_factory=list)  # keys
    cleared: list[str] = field(default_factory=list)
    sent: list[tuple[str, str, str]] = field(default_factory=list)  # (channel, event, key)
    undelivered: list[str] = field(default_factory=list)
    failed_checks: dict[str, str] = field(default_factory=dict)
    skipped: bool = False  # another daemon held the lock


def notice_for(row: AlertCondition | Condition, event: str, config: Config, at: datetime, *,
               since: datetime | None = None, ended: datetime | None = None, reminder: int = 0) -> Notice:
    return Notice(event, row.kind, KINDS[row.kind].title if row.kind in KINDS else row.kind, row.subject,
                  row.account, row.cause, since or getattr(row, "since", None) or at, row.command,
                  config.archiver.agency, socket.gethostname(), at, ended, reminder)


class AlertMonitor:
    def __init__(self, config: Config, db: IndexDB, storage_problem: Callable[[], str | None]):
        self.db, self.storage_problem = db, storage_problem
        self._failed_at: dict[str, datetime] = {}
        self.reconfigure(config)

    def reconfigure(self, config: Config) -> None:
        """A reloaded config: new channels, cadence and thresholds from the next check on."""
        self.config = config
        self.channels: list[Channel] = channels(config)
        self.redactor = Redactor(configured_secrets(config))

    def conditions(self, now: datetime | None = None) -> tuple[list[Condition], dict[str, str]]:
        return evaluate(Probe(self.config, self.db, self.storage_problem, now or datetime.now(UTC)))

    def open_subjects(self, kind: str) -> list[str]:
        """What one kind's check finds now (e.g. the WARCs with a fixity mismatch, to verify again)."""
        probe = Probe(self.config, self.db, self.storage_problem, datetime.now(UTC))
        return [condition.subject for condition in KINDS[kind].check(probe)]

    def check(self, now: datetime | None = None) -> CheckReport:
        now = now or datetime.now(UTC)
        found, failed = self.conditions(now)
        report = CheckReport(open=found, failed_checks=failed)
        for name, problem in failed.items():
            log.error("alert check %s failed (its conditions stay as they were): %s", name, problem)
        current = {condition.key: condition for condition in found}
        with self.db.session() as session:
            if not _exclusive(session):
                report.skipped = True
                return report
            rows = list(session.scalars(select(AlertCondition).where(AlertCondition.settled.is_(False))))
            by_key = {row.open_key: row for row in rows if row.open_key}
            for key, condition in current.items():
                row = by_key.get(key)
                if row is None:
                    row = AlertCondition(kind=condition.kind, subject=condition.subject, account=condition.account,
                                         open_key=key, cause=condition.cause, command=condition.command,
                                         since=condition.since or now, detected_at=now, notified={}, settled=False)
                    session.add(row)
                    rows.append(row)
                    report.opened.append(key)
                    log.warning("alert: %s — %s (since %s; more: %s)", _who(row), condition.cause,
                                row.since.isoformat(timespec="seconds"), condition.command)
                else:
                    row.cause, row.command = condition.cause, condition.command
            for row in rows:
                if row.cleared_at is None and row.open_key not in current and row.kind not in failed:
                    row.cleared_at, row.open_key = now, None
                    report.cleared.append(f"{row.kind}|{row.subject}")
                    log.info("all clear: %s (it lasted since %s)", _who(row), row.since.isoformat(timespec="seconds"))
            session.flush()
            for row in rows:
                self._deliver(row, now, report)
        return report

    def _deliver(self, row: AlertCondition, now: datetime, report: CheckReport) -> None:
        notified: dict[str, Any] = {name: dict(entry) for name, entry in (row.notified or {}).items()}
        owed = False
        for channel in self.channels:
            entry = notified.get(channel.name)
            event = _due(row, entry, now, self.config.alerts.repeat_seconds)
            if event is None:
                continue
            failed_at = self._failed_at.get(channel.name)
            if failed_at is not None and (now - failed_at).total_seconds() < RETRY_SECONDS and now >= failed_at:
                owed = True
                continue
            count = int(entry["count"]) if entry else 0
            notice = notice_for(row, event, self.config, now, ended=row.cleared_at, reminder=count)
            try:
                channel.send(notice.redacted(self.redactor))
            except DeliveryError as exc:
                self._failed_at[channel.name] = now
                owed = True
                report.undelivered.append(f"{channel.name}: {exc}")
                log.error("alert %s for %s not sent by %s: %s; tried again later", event, _who(row), channel.name, exc)
                continue
            self._failed_at.pop(channel.name, None)
            report.sent.append((channel.name, event, f"{row.kind}|{row.subject}"))
            if event == "cleared":
                entry = {**(entry or {}), "cleared": now.isoformat()}
            else:
                entry = {"sent": now.isoformat(), "count": count + 1, "cleared": None}
            notified[channel.name] = entry
        row.notified = notified
        if row.cleared_at is not None and not owed:
            row.settled = True

    def send_tests(self) -> list[tuple[str, str, str | None]]:
        """One made-up alert of every kind through every channel: (channel, kind, problem or None)."""
        now = datetime.now(UTC)
        results: list[tuple[str, str, str | None]] = []
        for name, entry in KINDS.items():
            notice = notice_for(entry.sample(now - timedelta(hours=2)), "test", self.config, now)
            notice = notice.redacted(self.redactor)
            for channel in self.channels:
                try:
                    channel.send(notice)
                except DeliveryError as exc:
                    results.append((channel.name, name, str(exc)))
                else:
                    results.append((channel.name, name, None))
        return results


def _due(row: AlertCondition, entry: dict[str, Any] | None, now: datetime, repeat_seconds: float) -> str | None:
    """What a channel is owed for this condition now: opened, repeat, cleared, or nothing."""
    if row.cleared_at is not None:
        return "cleared" if entry is not None and not entry.get("cleared") else None
    if entry is None:
        return "opened"
    last = datetime.fromisoformat(entry["sent"])
    return "repeat" if (now - last).total_seconds() >= repeat_seconds else None


def _who(row: AlertCondition) -> str:
    title = KINDS[row.kind].title if row.kind in KINDS else row.kind
    return f"{row.account or row.subject}: {title}"


def _exclusive(session: Session) -> bool:
    """On PostgreSQL, this transaction's hold on the alert lock (False: another daemon is checking)."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK}))


def open_rows(db: IndexDB) -> dict[str, AlertCondition]:
    """The register's open conditions by key."""
    with db.session() as session:
        return {row.open_key: row for row in session.scalars(select(AlertCondition)
                                                            .where(AlertCondition.open_key.is_not(None)))
                if row.open_key}
