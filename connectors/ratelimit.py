"""Rate limits announced in headers (Mastodon, Bluesky, LinkedIn), kept apart from endpoint code.

Mastodon sends ``X-RateLimit-Limit/-Remaining/-Reset`` with the reset as an ISO time
(``2026-08-01T15:00:00.949515Z``); Bluesky ``RateLimit-Limit/-Remaining/-Reset`` with the reset
in epoch seconds; LinkedIn only answers 429 (sometimes with ``Retry-After``). A ``RateLimiter``
reads whichever it is given on every answer: when the budget is spent it waits for the reset
before the next call instead of being refused, and after a 429 it waits as the headers say (or
backs off, doubling). Each wait is told to the operator (why, until when); once the waits would
exceed ``max_wait_seconds`` the harvest stops with cause "quota", keeping what it has.

    >>> limiter = RateLimiter("x-ratelimit-", sleep=lambda s: None)
    >>> limiter.observe({"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0",
    ...                  "X-RateLimit-Reset": "2000-01-01T00:00:00Z"})
    >>> limiter.budget.remaining, limiter.budget.reset.year
    (0, 2000)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import Field, field_validator

from archiver.units import parse_duration
from connectors.base import HarvestError, StrictOptions
from connectors.windows import SharedWindows


@dataclass(frozen=True)
class Budget:
    limit: int | None
    remaining: int | None
    reset: datetime | None


def reset_time(value: str | None, now: datetime) -> datetime | None:
    """An ISO time, epoch seconds, or (small numbers) seconds from now.

    >>> now = datetime(2026, 1, 1, tzinfo=UTC)
    >>> reset_time("1767225660", now).isoformat(), reset_time("30", now).isoformat()
    ('2026-01-01T00:01:00+00:00', '2026-01-01T00:00:30+00:00')
    """
    if not value:
        return None
    value = value.strip()
    try:
        number = float(value)
    except ValueError:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if number > 1_000_000_000:
        return datetime.fromtimestamp(number, UTC)
    return now + timedelta(seconds=max(number, 0))


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


@dataclass
class RateLimiter:
    prefix: str  # "x-ratelimit-" (Mastodon), "ratelimit-" (Bluesky), "" (none: 429 only)
    reserve: int = 0  # calls kept in hand: wait for the reset once only this many remain
    backoff_seconds: float = 30.0
    max_wait_seconds: float = 1800.0
    on_wait: Callable[[str, datetime], None] = lambda reason, until: None
    sleep: Callable[[float], None] = time.sleep
    windows: SharedWindows = field(default_factory=SharedWindows)  # the credential's, when shared
    waited: float = 0.0
    throttled: int = 0
    streak: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def budget(self) -> Budget | None:
        """The window the platform last announced for this credential (from any account's answers)."""
        return self.windows.get(self.prefix)

    @budget.setter
    def budget(self, value: Budget | None) -> None:
        if value is None:
            self.windows.pop(self.prefix)
        else:
            self.windows.put(self.prefix, value)

    def observe(self, headers: Mapping[str, str]) -> None:
        if not self.prefix:
            return
        lowered = {k.lower(): v for k, v in headers.items()}
        remaining = _int(lowered.get(f"{self.prefix}remaining"))
        if remaining is None:
            return
        self.budget = Budget(_int(lowered.get(f"{self.prefix}limit")), remaining,
                             reset_time(lowered.get(f"{self.prefix}reset"), datetime.now(UTC)))

    def answered(self) -> None:
        self.streak = 0

    def pace(self, where: str) -> None:
        """Before a call: if the announced budget is spent, wait for its reset."""
        budget = self.budget
        if budget is None or budget.remaining is None or budget.remaining > self.reserve or budget.reset is None:
            return
        seconds = (budget.reset - datetime.now(UTC)).total_seconds()
        if seconds > 0:
            self._wait(seconds, f"{where}: the rate limit ({budget.limit} calls) is used up until it resets")
        self.budget = None

    def wait_out(self, headers: Mapping[str, str], where: str) -> None:
        """After a 429: wait until the reset (or Retry-After), else back off; raise once past the limit."""
        self.throttled += 1
        self.streak += 1
        self.observe(headers)
        now = datetime.now(UTC)
        lowered = {k.lower(): v for k, v in headers.items()}
        until = reset_time(lowered.get("retry-after"), now) or (self.budget.reset if self.budget else None)
        seconds = (until - now).total_seconds() if until and until > now else \
            self.backoff_seconds * 2 ** min(self.streak - 1, 6)
        self.budget = None
        self._wait(seconds, f"{where}: throttled (HTTP 429)")

    def _wait(self, seconds: float, reason: str) -> None:
        if self.waited + seconds > self.max_wait_seconds:
            raise HarvestError(f"{reason}; the platform asks for {seconds:.0f} s more than the harvest may wait "
                               "(max_throttle_wait); the next harvest goes on from here", "quota")
        self.on_wait(reason, datetime.now(UTC) + timedelta(seconds=seconds))
        self.waited += seconds
        self.sleep(seconds)


class RateLimitOptions(StrictOptions):
    """Account keys of the platforms whose limits come in headers (see config.example.toml)."""

    rate_limit_reserve: int = Field(5, ge=0)  # calls kept in hand: wait for the reset once only this many remain
    throttle_backoff_seconds: float = Field(30.0, ge=0)  # after a 429 that names no time (doubles)
    max_throttle_wait: str = "30m"  # beyond this the harvest stops (cause "quota") and resumes next time

    @field_validator("max_throttle_wait")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    def limiter(self, prefix: str, on_wait: Callable[[str, datetime], None],
                sleep: Callable[[float], None] = time.sleep, windows: SharedWindows | None = None) -> RateLimiter:
        return RateLimiter(prefix, self.rate_limit_reserve, self.throttle_backoff_seconds,
                           parse_duration(self.max_throttle_wait).total_seconds(), on_wait, sleep,
                           windows=windows or SharedWindows())
