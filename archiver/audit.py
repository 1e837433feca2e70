"""The audit trail (invariant 6): append-only and hash-chained.

Every access that matters (harvest runs, config changes, searches, exports, holds,
approvals, dispositions, verifications) appends one entry. Each entry's hash covers its own
fields and the previous entry's hash, so changing, removing or reordering any entry breaks
the chain from that point on, and ``verify`` names the first entry that no longer fits. The
database also refuses UPDATE and DELETE on the table (triggers in the migration), so an edit
takes deliberate tampering, which the chain then exposes.

Writers: ``record(session, action, ...)`` inside the unit of work that does the thing, so
the entry and the action commit together or not at all.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, Text, func, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from archiver.index.models import Base

GENESIS = "0" * 64
ACTOR_ENV = "ARCHIVER_ACTOR"
# The person a web request acts for; per thread and request, unlike the process-wide environment.
_acting: ContextVar[str | None] = ContextVar("archiver_actor", default=None)


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)  # unique: two writers can never fork the chain
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


def actor() -> str:
    """Who is acting: the signed-in person (``acting_as``), ``$ARCHIVER_ACTOR`` (a service), else the OS user."""
    return _acting.get() or os.environ.get(ACTOR_ENV) or getpass.getuser()


@contextmanager
def acting_as(who: str) -> Iterator[None]:
    """Entries written inside (by any domain function) name ``who``: the web app wraps each request."""
    token = _acting.set(who)
    try:
        yield
    finally:
        _acting.reset(token)


def entry_hash(seq: int, at: datetime, who: str, action: str, target: str | None, details: dict[str, Any],
               prev_hash: str) -> str:
    canonical = json.dumps(
        [seq, at.astimezone(UTC).isoformat(timespec="microseconds"), who, action, target, details, prev_hash],
        sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _lock_tail(session: Session) -> None:
    """Serialize appenders so each one sees the true tail of the chain."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(724207)"))
    else:
        # SQLite begins a transaction at its first write, so a plain read of the tail could be
        # stale by the time the entry is inserted. A write that changes nothing takes the
        # database's write lock first (waiting for another appender), and the tail read after
        # it is the true one.
        session.execute(text("UPDATE audit_log SET seq = seq WHERE 0"))


def record(session: Session, action: str, target: str | None = None, who: str | None = None,
           **details: Any) -> AuditEntry:
    """Append one entry in the caller's transaction."""
    _lock_tail(session)
    last = session.execute(select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)).first()
    seq, prev = (last.seq + 1, last.hash) if last else (1, GENESIS)
    at = datetime.now(UTC)
    who = who or actor()
    clean = json.loads(json.dumps(details, default=str))  # what is hashed is exactly what is stored
    entry = AuditEntry(seq=seq, at=at, actor=who, action=action, target=target, details=clean, prev_hash=prev,
                       hash=entry_hash(seq, at, who, action, target, clean, prev))
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    reason: str


def verify(session: Session) -> tuple[int, ChainBreak | None]:
    """(entries checked, the first break or None)."""
    expected_prev, expected_seq, checked = GENESIS, 1, 0
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).yield_per(1000):
        if entry.seq != expected_seq:
            return checked, ChainBreak(expected_seq, f"entry {expected_seq} is missing (next is {entry.seq})")
        if entry.prev_hash != expected_prev:
            return checked, ChainBreak(entry.seq, "its link to the previous entry does not match")
        recomputed = entry_hash(entry.seq, entry.at, entry.actor, entry.action, entry.target, entry.details,
                                entry.prev_hash)
        if recomputed != entry.hash:
            return checked, ChainBreak(entry.seq, "its content was changed after it was written")
        expected_prev, expected_seq, checked = entry.hash, expected_seq + 1, checked + 1
    return checked, None


def entries(session: Session, *, action: str | None = None, since: datetime | None = None,
            limit: int | None = None) -> Iterator[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.seq)
    if action:
        query = query.where(AuditEntry.action == action)
    if since:
        query = query.where(AuditEntry.at >= since)
    if limit:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        query = query.offset(max(total - limit, 0))
    yield from session.scalars(query)


def as_dict(entry: AuditEntry) -> dict[str, Any]:
    return {"seq": entry.seq, "at": entry.at.isoformat(), "actor": entry.actor, "action": entry.action,
            "target": entry.target, "details": entry.details, "prev_hash": entry.prev_hash, "hash": entry.hash}


def note_config(session: Session, digest: str, path: str) -> None:
    """Record a config change: the first command run after the file changed logs its new digest."""
    last = session.scalar(select(AuditEntry).where(AuditEntry.action == "config.loaded")
                          .order_by(AuditEntry.seq.desc()).limit(1))
    if last is None or last.details.get("digest") != digest:
        previous = last.details.get("digest") if last else None
        record(session, "config.loaded", path, digest=digest, previous_digest=previous)
