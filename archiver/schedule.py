"""An account's ``schedule``: an interval ("15m", "1h", "1d") or a five-field cron line."""

from __future__ import annotations

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from archiver.units import parse_duration

MIN_INTERVAL_SECONDS = 60


def parse_schedule(value: str) -> BaseTrigger:
    """The APScheduler trigger for a schedule string.

    >>> type(parse_schedule("1h")).__name__, type(parse_schedule("*/15 * * * *")).__name__
    ('IntervalTrigger', 'CronTrigger')
    """
    text = value.strip()
    if len(text.split()) == 5:
        try:
            return CronTrigger.from_crontab(text, timezone="UTC")
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a valid cron line ({exc})") from None
    try:
        interval = parse_duration(text)
    except ValueError:
        raise ValueError(
            f"{value!r} is not a schedule; write an interval like '15m', '1h', '1d' "
            "or a cron line like '*/30 * * * *' (UTC)"
        ) from None
    if interval.total_seconds() < MIN_INTERVAL_SECONDS:
        raise ValueError(f"{value!r} is shorter than one minute; platforms would throttle the account")
    return IntervalTrigger(seconds=int(interval.total_seconds()), timezone="UTC")
