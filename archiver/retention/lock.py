"""The Object Lock retain-until date a WARC is stored with: the longest retention of its items.

Computed at upload from what the harvest staged for the file (each observation's item, posted
time and capture time) and the schedule, so the store refuses deletion exactly as long as the
schedule requires and no longer. Where the schedule cannot say yet, the date is a bound that
is logged as such:

- ``posted`` items without a posted time, and files holding no item (media, errors), count
  from their capture, which is never before the posting;
- ``account_closed``: the account is still open while it is harvested, so capture + keep is
  the earliest its retention can end (a lower bound: the lock may end before the records are due);
- ``permanent`` series: ``[retention] permanent_lock`` from upload (default 10 years;
  ``"none"`` for no lock); the lock can be extended later, never shortened;
- accounts with no series: ``[storage] retain_days`` from upload, if set.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archiver.config import Config
from archiver.index.models import Account, Evidence, StagedObservation, WarcFile
from archiver.retention.schedule import closed_at, governing_series, item_tags

if TYPE_CHECKING:
    from archiver.segments import Segment

log = logging.getLogger(__name__)
CHUNK = 2000  # staged observations read at a time


@dataclass(frozen=True)
class Sighting:
    """One item seen in a file: enough to know how long the file must be kept for it."""

    platform_id: str
    posted_at: datetime | None
    captured_at: datetime


class LockPolicy:
    def __init__(self, config: Config, clock: datetime | None = None):
        self.config = config
        self.clock = clock

    def _now(self) -> datetime:
        return self.clock or datetime.now(UTC)

    def retain_until(self, session: Session, account: str, sightings: Iterable[Sighting],
                     latest_capture: datetime | None) -> datetime | None:
        """The latest end of retention among ``sightings`` (and of the file's other records)."""
        sightings = list(sightings)
        tags = item_tags(session, [account], {s.platform_id for s in sightings}) if self.config.retention.by_tag() \
            else {}
        closed = closed_at(self.config, account)
        ends: list[datetime] = []
        bounded = False
        captured = latest_capture or self._now()
        untagged = governing_series(self.config, account, ())
        for sighting in sightings or [None]:
            series = untagged if sighting is None else governing_series(
                self.config, account, tags.get((account, sighting.platform_id), ()))
            if series is None:
                continue
            start = captured if sighting is None else sighting.captured_at
            if series.period.permanent:
                period = self.config.retention.permanent_period
                if period is not None:
                    ends.append(period.after(self._now()) or self._now())
                continue
            if series.trigger == "posted" and sighting is not None and sighting.posted_at is not None:
                start = sighting.posted_at
            elif series.trigger == "account_closed" and closed is not None:
                start = closed
            else:
                bounded = bounded or series.trigger == "posted"
            end = series.period.after(start)
            if end is not None:
                ends.append(end)
        if not ends and untagged is None and self.config.storage.retain_days:
            return self._now() + timedelta(days=self.config.storage.retain_days)
        if bounded:
            log.info("retain-until for %s counts from capture for records without a posted time "
                     "(an upper bound for them)", account)
        latest = max(ends) if ends else None
        return latest if latest is not None and latest > self._now() else None  # already due: nothing to lock

    def for_segment(self, session: Session, account: str, segment: Segment) -> datetime | None:
        """For a file a harvest is about to store, from what it found in it (kept in memory)."""
        captured = {row["record_id"]: row["captured_at"] for row in segment.evidence}
        latest = max(captured.values(), default=None)
        sightings = [Sighting(o.platform_id, o.posted_at, captured.get(record) or latest or self._now())
                     for o, record in segment.observations if o.platform_id]
        return self.retain_until(session, account, sightings, latest)

    def for_stored_file(self, session: Session, key: str) -> datetime | None:
        """For a file a harvest wrote and staged observations for (harvests of earlier versions,
        finished by recovery), read a chunk at a time: the latest end over all chunks."""
        warc = session.scalar(select(WarcFile).where(WarcFile.key == key))
        if warc is None:
            return None
        account = session.get(Account, warc.account_id)
        name = account.name if account else ""
        latest = session.scalar(select(func.max(Evidence.captured_at)).where(Evidence.warc_file_id == warc.id))
        query = (select(StagedObservation.id, StagedObservation.observation, Evidence.captured_at)
                 .join(Evidence, Evidence.id == StagedObservation.evidence_id)
                 .where(Evidence.warc_file_id == warc.id).order_by(StagedObservation.id).limit(CHUNK))
        ends: list[datetime] = []
        after, read = 0, False
        while rows := session.execute(query.where(StagedObservation.id > after)).all():
            read, after = True, rows[-1].id
            sightings = [Sighting(str(o["platform_id"]), _when(o.get("posted_at")), at) for _, o, at in rows]
            if (end := self.retain_until(session, name, sightings, latest)) is not None:
                ends.append(end)
        if not read:
            return self.retain_until(session, name, [], latest)
        return max(ends, default=None)

    def for_account_file(self, session: Session, account: str) -> datetime | None:
        """For a file known only by its account (a recovered one): counted from now."""
        return self.retain_until(session, account, [], self._now())


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
