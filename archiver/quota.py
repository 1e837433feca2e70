"""Budgets a platform sells or grants per credential: X's monthly paid reads, YouTube's daily units.

A ``Budget`` is keyed by credential (the platform and the name of the environment variable that
holds it: every account naming the same variable draws on one budget) and kept in the index
(table ``quota_usage``), so several processes and ``archiver accounts`` see the same figures.
Charges are atomic and never take a budget past its limit: a connector reserves what a call
may cost before making it (``charge``), gives back what it did not use (``refund``), and
stops cleanly when a reservation is refused. When the platform itself says the quota is gone
(YouTube's ``quotaExceeded``, X's ``UsageCapExceeded``) the budget is marked exhausted until
its reset, and every account on the credential waits without spending a call.

    budget = Budget(db, QuotaSpec("youtube:CITY_YT_KEY", 10_000, DAILY_PACIFIC, "units"))
    if not budget.charge(1):
        raise HarvestError(budget.refusal(1), "quota")

This is the per-credential part of the service's governor (issue 11): pacing and schedule
stretching can be built on ``status()`` (used, remaining, projected, resets_at).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Integer, String, Text, UniqueConstraint, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from archiver.index.db import IndexDB
from archiver.index.models import Base

PACIFIC = ZoneInfo("America/Los_Angeles")


class QuotaUsage(Base):
    """What one credential has spent in one period (not derived from WARCs: reindex keeps it)."""

    __tablename__ = "quota_usage"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    credential: Mapped[str] = mapped_column(String(128))
    period: Mapped[str] = mapped_column(String(16))  # "2026-05-14" (a day) or "2026-05" (a month)
    unit: Mapped[str] = mapped_column(String(16))  # "units" | "reads"
    used: Mapped[int] = mapped_column(BigInteger, default=0)
    calls: Mapped[int] = mapped_column(BigInteger, default=0)
    exhausted_until: Mapped[datetime | None]
    exhausted_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("credential", "period", name="uq_quota_usage_credential_period"),)


@dataclass(frozen=True)
class Period:
    """How a budget renews: every day or every month, at midnight in ``zone``.

    >>> DAILY_PACIFIC.bounds(datetime(2026, 5, 14, 6, 0, tzinfo=UTC))[1].isoformat()
    '2026-05-14T07:00:00+00:00'
    >>> MonthlyUTC = Period("month", UTC, reset_day=28)
    >>> MonthlyUTC.key(datetime(2026, 5, 2, tzinfo=UTC)), MonthlyUTC.key(datetime(2026, 5, 28, tzinfo=UTC))
    ('2026-04', '2026-05')
    """

    every: str  # "day" | "month"
    zone: Any = UTC
    reset_day: int = 1  # for monthly budgets: the day of the month they renew

    def bounds(self, at: datetime) -> tuple[datetime, datetime]:
        local = at.astimezone(self.zone)
        if self.every == "day":
            start = local.replace(hour=0, minute=0, second=0, microsecond=0)
            end = (start + timedelta(days=1, hours=3)).replace(hour=0)  # 23- or 25-hour days too
            return start.astimezone(UTC), end.astimezone(UTC)
        start = local.replace(day=self.reset_day, hour=0, minute=0, second=0, microsecond=0)
        if local < start:
            start = _month_shift(start, -1)
        return start.astimezone(UTC), _month_shift(start, 1).astimezone(UTC)

    def key(self, at: datetime) -> str:
        start = self.bounds(at)[0].astimezone(self.zone)
        return start.strftime("%Y-%m-%d" if self.every == "day" else "%Y-%m")


def _month_shift(moment: datetime, months: int) -> datetime:
    month = moment.month - 1 + months
    return moment.replace(year=moment.year + month // 12, month=month % 12 + 1)


DAILY_PACIFIC = Period("day", PACIFIC)  # YouTube: quotas reset at midnight Pacific time
MONTHLY_UTC = Period("month", UTC)


@dataclass(frozen=True)
class QuotaSpec:
    """A credential's budget as the config sets it."""

    credential: str  # "youtube:CITY_YT_KEY": platform and the variable holding the credential
    limit: int
    period: Period
    unit: str  # what is counted: "units" (YouTube) or "reads" (X posts read)


@dataclass(frozen=True)
class BudgetStatus:
    credential: str
    unit: str
    limit: int
    used: int
    calls: int
    period_start: datetime
    resets_at: datetime
    exhausted_until: datetime | None
    exhausted_reason: str | None

    @property
    def remaining(self) -> int:
        if self.exhausted_until is not None:
            return 0
        return max(self.limit - self.used, 0)

    @property
    def projected(self) -> int:
        """Use by the end of the period if spending goes on at the rate so far (an hour at least)."""
        now = datetime.now(UTC)
        elapsed = max((now - self.period_start).total_seconds(), 3600.0)
        total = (self.resets_at - self.period_start).total_seconds()
        return round(self.used * max(total, elapsed) / elapsed)

    def as_dict(self) -> dict[str, Any]:
        return {"credential": self.credential, "unit": self.unit, "limit": self.limit, "used": self.used,
                "remaining": self.remaining, "projected": self.projected, "calls": self.calls,
                "resets_at": self.resets_at.isoformat(timespec="seconds"),
                "exhausted_until": self.exhausted_until.isoformat(timespec="seconds") if self.exhausted_until
                else None, "exhausted_reason": self.exhausted_reason}


class Budget:
    """One credential's budget in the index; safe to share between threads and processes."""

    def __init__(self, db: IndexDB, spec: QuotaSpec, sharing: int = 1,
                 clock: Callable[[], datetime] | None = None):
        self.db = db
        self._clock = clock or (lambda: datetime.now(UTC))  # a fixed clock lets plans be checked at any hour
        self.spec = spec
        self.sharing = sharing  # accounts drawing on this credential (a run plans for its share)
        self.charged = 0  # what this object charged (net of refunds): one harvest's use
        self.calls = 0
        self._pool = 0  # reserved in the index, not spent yet
        self._pool_period: str | None = None
        self._pending_calls = 0

    def _row(self, session: Any, key: str, now: datetime) -> QuotaUsage:
        """The period's row, made in a transaction of its own if missing (another process may race)."""
        where = (QuotaUsage.credential == self.spec.credential, QuotaUsage.period == key)
        row = session.scalar(select(QuotaUsage).where(*where))
        if row is not None:
            return row
        try:
            with self.db.session() as own:
                own.add(QuotaUsage(credential=self.spec.credential, period=key, unit=self.spec.unit, used=0,
                                   calls=0, updated_at=now))
        except IntegrityError:
            pass  # made by another process in the meantime
        return session.scalar(select(QuotaUsage).where(*where))

    def charge(self, amount: int, *, calls: int = 1) -> bool:
        """Reserve ``amount``; False (and nothing charged) if that would pass the limit or the
        platform said the quota is exhausted. Charges come out of a block reserved in the index
        (a hundredth of the limit at a time), so a harvest writes once per block, not per call;
        ``release`` gives back what is left of it."""
        if amount > self._pool or self.spec.period.key(self._clock()) != self._pool_period:
            self.release()
            if not self._reserve(max(amount, self.spec.limit // 100)) and not self._reserve(amount):
                return False
        self._pool -= amount
        self.charged += amount
        self.calls += calls
        self._pending_calls += calls
        return True

    def refund(self, amount: int) -> None:
        """Give back what a reservation did not use (a page shorter than asked for)."""
        if amount > 0:
            self._pool += amount
            self.charged -= amount

    def release(self) -> None:
        """Give the unused rest of the reserved block back to the index (at the end of a harvest)."""
        if (self._pool > 0 or self._pending_calls) and self._pool_period is not None:
            now = self._clock()
            with self.db.session() as session:
                session.execute(update(QuotaUsage).where(QuotaUsage.credential == self.spec.credential,
                                                         QuotaUsage.period == self._pool_period)
                                .values(used=QuotaUsage.used - self._pool,
                                        calls=QuotaUsage.calls + self._pending_calls, updated_at=now)
                                .execution_options(synchronize_session=False))
        self._pool, self._pool_period, self._pending_calls = 0, None, 0

    def _reserve(self, amount: int) -> bool:
        now = self._clock()
        key = self.spec.period.key(now)
        with self.db.session() as session:
            row = self._row(session, key, now)
            if row.exhausted_until is not None and row.exhausted_until > now:
                return False
            done = session.execute(
                update(QuotaUsage).where(QuotaUsage.id == row.id, QuotaUsage.used + amount <= self.spec.limit)
                .values(used=QuotaUsage.used + amount, updated_at=now)
                .execution_options(synchronize_session=False))
            if done.rowcount != 1:
                return False
        self._pool, self._pool_period = amount, key
        return True

    def exhausted(self, reason: str, until: datetime | None = None) -> datetime:
        """The platform said the quota is used up: nothing more is spent until ``until`` (the reset)."""
        now = self._clock()
        until = until or self.spec.period.bounds(now)[1]
        self.release()
        with self.db.session() as session:
            row = self._row(session, self.spec.period.key(now), now)
            row.exhausted_until, row.exhausted_reason, row.updated_at = until, reason, now
        return until

    def status(self, at: datetime | None = None) -> BudgetStatus:
        now = at or self._clock()
        start, end = self.spec.period.bounds(now)
        with self.db.session() as session:
            row = session.scalar(select(QuotaUsage).where(QuotaUsage.credential == self.spec.credential,
                                                          QuotaUsage.period == self.spec.period.key(now)))
            used, calls = (row.used, row.calls) if row else (0, 0)
            until = row.exhausted_until if row and row.exhausted_until and row.exhausted_until > now else None
            reason = row.exhausted_reason if until else None
        return BudgetStatus(self.spec.credential, self.spec.unit, self.spec.limit, used, calls, start, end, until,
                            reason)

    def refusal(self, amount: int) -> str:
        """The one line an operator reads when a reservation was refused."""
        status = self.status()
        resets = status.resets_at.isoformat(timespec="minutes")
        if status.exhausted_until is not None:
            return (f"the platform reports the {self.spec.unit} quota of {self.spec.credential} exhausted "
                    f"({status.exhausted_reason}); nothing more is spent until {resets}")
        return (f"the {self.spec.period.every}ly budget of {self.spec.credential} ({status.limit:,} {self.spec.unit}) "
                f"has {status.remaining:,} left, less than the next call may cost ({amount:,}); the harvest "
                f"stopped without exceeding it and goes on after {resets}")


__all__ = ["DAILY_PACIFIC", "MONTHLY_UTC", "Budget", "BudgetStatus", "Period", "QuotaSpec", "QuotaUsage"]
