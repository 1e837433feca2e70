"""Shared schedule ticks: every daemon agrees when an account's harvests are due.

An interval schedule ("15m") fires at the epoch plus whole multiples of the interval, shifted by
an offset derived from the account's name (so accounts on one schedule do not all start in the
same second); a cron line fires at its own UTC times. Either way the moments depend only on the
account and its schedule, never on when a daemon started, so any number of daemons on any hosts
name the same tick — the latest moment at or before now — and the one that harvests it records
it (archiver/leases.py): a restarted or second daemon does not harvest that tick again.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from archiver.schedule import parse_schedule

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LOOKBACK = timedelta(minutes=1)  # where the search for a cron line's last tick starts (doubled until found)


def offset_seconds(name: str, interval: int) -> int:
    """Where in each interval the account's ticks fall: the same on every host.

    >>> offset_seconds("city-news", 3600) == offset_seconds("city-news", 3600) < 3600
    True
    """
    return int(hashlib.sha256(name.encode()).hexdigest()[:12], 16) % max(interval, 1)


class Ticks(BaseTrigger):
    """An account's schedule as absolute ticks, and the APScheduler trigger that fires on them.

    >>> ticks = Ticks("a", "1h")
    >>> at = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)
    >>> ticks.due(at) <= at < ticks.after(ticks.due(at)) == ticks.due(at) + timedelta(hours=1)
    True
    """

    def __init__(self, name: str, schedule: str):
        self.name, self.schedule = name, schedule
        trigger = parse_schedule(schedule, minimum=1)  # the config checked its minimum
        self.cron = trigger if isinstance(trigger, CronTrigger) else None
        self.interval = int(trigger.interval.total_seconds()) if isinstance(trigger, IntervalTrigger) else 0
        self.offset = offset_seconds(name, self.interval) if self.interval else 0

    def due(self, now: datetime) -> datetime:
        """The latest tick at or before ``now``: the one a harvest now belongs to."""
        if self.cron is None:
            count = math.floor(((now - EPOCH).total_seconds() - self.offset) / self.interval)
            return EPOCH + timedelta(seconds=count * self.interval + self.offset)
        lookback = LOOKBACK
        while True:  # a cron line fires at least once a year; double back until one is found
            first = self.cron.get_next_fire_time(None, now - lookback)
            if first is not None and first <= now:
                break
            lookback *= 2
        latest = first
        while (following := self.cron.get_next_fire_time(latest, latest)) is not None and following <= now:
            latest = following
        return latest

    def after(self, moment: datetime) -> datetime:
        """The first tick after ``moment``."""
        if self.cron is not None:
            following = self.cron.get_next_fire_time(moment, moment)
            assert following is not None
            return following
        return self.due(moment) + timedelta(seconds=self.interval)

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        # After a run (or a run moved off its tick: a takeover, a budget plan), the next tick; at
        # first, the tick now due, if it is now.
        if previous_fire_time is not None:
            return self.after(previous_fire_time)
        due = self.due(now)
        return due if due == now else self.after(now)

    def __str__(self) -> str:
        if self.cron is not None:
            return f"{self.cron} (shared ticks)"
        return f"interval[{timedelta(seconds=self.interval)}] at +{self.offset}s (shared ticks)"

    def __repr__(self) -> str:
        return f"<Ticks {self.name} {self.schedule!r}>"


__all__ = ["Ticks", "offset_seconds"]
