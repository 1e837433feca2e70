"""Quarantine: records no parser could read, kept in their WARC, listed, and tried again by reindex.

A record is quarantined when its connector's ``parse`` raised on it (live in ``Page.parsed``, or
in ``WarcIndexer`` during reindex, recovery and webhook intake), or when the index refused what
the parser returned. Nothing from it is indexed, but its evidence row stays, so the record is
known, verified and exported like any other. The table is derived from the WARCs: ``reindex``
clears it and parses every record again, so after an upgrade the records that now parse leave
the list and the others come back on it. First tried is the record's capture (the live harvest
parsed it then); last tried is the latest attempt.

``quarantined(session, account=None)`` is the one listing the CLI (``accounts``, ``coverage``)
and alerts use.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import InterfaceError, InternalError, OperationalError, StatementError
from sqlalchemy.orm import Session

from archiver.index.ledger import now
from archiver.index.models import Account, Evidence, ParseProblem, QuarantinedRecord, WarcFile
from connectors.base import Page

MAX_NOTES = 50  # lines of each kind in a harvest's notes; then a count


@dataclass(frozen=True)
class Quarantined:
    account: str
    warc_key: str
    record_id: str
    url: str
    error: str
    first_tried_at: datetime
    last_tried_at: datetime

    def as_dict(self) -> dict[str, Any]:
        found = asdict(self)
        return found | {k: found[k].isoformat() for k in ("first_tried_at", "last_tried_at")}

    def __str__(self) -> str:
        return f"{self.warc_key} record {self.record_id} ({self.url}): {self.error}"


def refused_by_index(error: BaseException) -> bool:
    """Whether applying observations failed because of what they hold (the record is quarantined)
    rather than because of the database (locked, gone, full: the work is tried again later)."""
    if isinstance(error, OperationalError | InterfaceError | InternalError):
        return False
    return isinstance(error, StatementError | ValueError | TypeError | KeyError | OverflowError | RecursionError)


def quarantine(session: Session, evidence_id: int, error: str) -> None:
    """Put (or keep) a record in quarantine, with the latest error."""
    row = session.get(QuarantinedRecord, evidence_id)
    if row is None:
        session.add(QuarantinedRecord(evidence_id=evidence_id, error=error, tried_at=now()))
    else:
        row.error, row.tried_at = error, now()


def quarantined(session: Session, account: str | None = None, since: datetime | None = None,
                until: datetime | None = None) -> list[Quarantined]:
    """Quarantined records, oldest capture first; of one account, captured within a period if asked."""
    query = (select(Account.name, WarcFile.key, Evidence.record_id, Evidence.target_uri, QuarantinedRecord.error,
                    Evidence.captured_at, QuarantinedRecord.tried_at)
             .join(Evidence, Evidence.id == QuarantinedRecord.evidence_id)
             .join(WarcFile, WarcFile.id == Evidence.warc_file_id)
             .join(Account, Account.id == WarcFile.account_id)
             .order_by(Evidence.captured_at, Evidence.id))
    if account is not None:
        query = query.where(Account.name == account)
    if since is not None:
        query = query.where(Evidence.captured_at >= since)
    if until is not None:
        query = query.where(Evidence.captured_at <= until)
    return [Quarantined(*row) for row in session.execute(query)]


def parse_problems(session: Session, account_id: int, platform_id: str) -> list[dict[str, Any]]:
    """The records in which an item was seen but could not be read, oldest first (for ``show``)."""
    rows = session.execute(
        select(Evidence.captured_at, WarcFile.key, Evidence.record_id, ParseProblem.problem)
        .join(Evidence, Evidence.id == ParseProblem.evidence_id).join(WarcFile, WarcFile.id == Evidence.warc_file_id)
        .where(ParseProblem.account_id == account_id, ParseProblem.platform_id == platform_id)
        .order_by(Evidence.captured_at, ParseProblem.id))
    return [{"captured_at": at.isoformat(), "warc": key, "record_id": record, "problem": problem}
            for at, key, record, problem in rows]


def counts(session: Session) -> dict[str, int]:
    """Quarantined records per account name."""
    return dict(session.execute(
        select(Account.name, func.count()).select_from(QuarantinedRecord)
        .join(Evidence, Evidence.id == QuarantinedRecord.evidence_id)
        .join(WarcFile, WarcFile.id == Evidence.warc_file_id)
        .join(Account, Account.id == WarcFile.account_id).group_by(Account.name)).all())


class ParseNotes:
    """The harvest's notes on what could not be read: one line per problem and per quarantined
    record (at most ``MAX_NOTES`` of each), then how many more."""

    def __init__(self) -> None:
        self.problems = 0
        self.quarantined = 0
        self.lines: list[str] = []

    def add(self, page: Page) -> None:
        record = f"record {page.exchange.evidence.response.record_id} ({page.exchange.response.url})"
        for observation in page.observations:
            if observation.problem is not None:
                self.problems += 1
                if self.problems <= MAX_NOTES:
                    self.lines.append(f"parse problem in {record}: {observation.problem}")
        if page.failure is not None:
            self.quarantined += 1
            if self.quarantined <= MAX_NOTES:
                self.lines.append(f"quarantined {record} in {page.exchange.evidence.warc_name}: {page.failure}")

    def summary(self) -> list[str]:
        more = [f"{count - MAX_NOTES} more {what} not listed here"
                for count, what in ((self.problems, "parse problem(s)"), (self.quarantined, "quarantined record(s)"))
                if count > MAX_NOTES]
        return self.lines + more
