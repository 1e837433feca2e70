"""An account's ``schedule``: an interval ("15m", "1h", "1d") or a five-field cron line."""

from __future__ import annotations

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from archiver.units import parse_duration

MIN_INTERVAL_SECONDS = 60


def parse_schedule(value: str, minimum: float = MIN_INTERVAL_SECONDS) -> BaseTrigger:
    """The APScheduler trigger for a schedule string (an interval under ``minimum`` seconds is refused;
    an account's minimum is ``[service] min_schedule``, checked with the config).

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
    if interval.total_seconds() < max(minimum, 1):
        shortest = "one minute" if minimum == MIN_INTERVAL_SECONDS else f"{minimum:g} seconds"
        raise ValueError(f"{value!r} is shorter than {shortest}; platforms would throttle the account")
    return IntervalTrigger(seconds=int(interval.total_seconds()), timezone="UTC")
