"""Which record series governs an item, when its retention period starts, and when it ends.

Triggers (``[[retention.series]] trigger``):

- ``posted``: the time the platform says the item was posted. Items the platform gives no
  posted time (a feed's own profile, for instance) count from their latest capture instead.
- ``captured``: the item's latest capture. Every copy the archive holds is then kept at least
  ``keep`` after it was taken, and an item still being harvested is never due.
- ``account_closed``: the account's ``closed`` date from the config; until that is set,
  nothing in the series is due.

An item tagged with one of a series' ``tags`` is governed by that series instead of its
account's; with several such tags, the one that keeps the item longest wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.config import Config
from archiver.index.models import Account, Item
from archiver.retention.models import ItemTag
from archiver.retention.settings import RecordSeries

_FAR = datetime(2000, 1, 1, tzinfo=UTC)


def _span(series: RecordSeries) -> datetime:
    """For ordering series by how long they keep (permanent keeps longest)."""
    end = series.period.after(_FAR)
    return end if end is not None else datetime.max.replace(tzinfo=UTC)


def longest(candidates: Iterable[RecordSeries]) -> RecordSeries | None:
    return max(candidates, key=_span, default=None)


def governing_series(config: Config, account: str, tags: Iterable[str]) -> RecordSeries | None:
    """The series an item belongs to: a tag's series overrides the account's."""
    by_tag = config.retention.by_tag()
    tagged = longest(by_tag[tag] for tag in tags if tag in by_tag)
    if tagged is not None:
        return tagged
    try:
        return config.retention.get(config.account(account).retention)
    except Exception:  # an account no longer in the config keeps no schedule
        return None


def closed_at(config: Config, account: str) -> datetime | None:
    closed: date | None = next((a.closed for a in config.accounts if a.name == account), None)
    return datetime.combine(closed, time(), UTC) if closed else None


def trigger_time(series: RecordSeries, posted_at: datetime | None, last_seen_at: datetime,
                 closed: datetime | None) -> datetime | None:
    if series.trigger == "posted":
        return posted_at or last_seen_at
    if series.trigger == "captured":
        return last_seen_at
    return closed


def eligible_on(series: RecordSeries, posted_at: datetime | None, last_seen_at: datetime,
                closed: datetime | None) -> datetime | None:
    """When the item's retention ends (None: not while things stay as they are)."""
    start = trigger_time(series, posted_at, last_seen_at, closed)
    return series.period.after(start) if start is not None else None


@dataclass(frozen=True)
class Due:
    item: Item
    account: str
    series: RecordSeries
    eligible_on: datetime


def item_tags(session: Session, accounts: Iterable[str] | None = None,
              platform_ids: Iterable[str] | None = None) -> dict[tuple[str, str], set[str]]:
    """Tags by (account, platform id): of these accounts and, if given, of these items only."""
    query = select(ItemTag.account, ItemTag.platform_id, ItemTag.tag)
    if accounts is not None:
        query = query.where(ItemTag.account.in_(list(accounts)))
    if platform_ids is not None:
        query = query.where(ItemTag.platform_id.in_(list(platform_ids)))
    tags: dict[tuple[str, str], set[str]] = {}
    for account, platform_id, tag in session.execute(query):
        tags.setdefault((account, platform_id), set()).add(tag)
    return tags


def due_items(session: Session, config: Config, as_of: datetime, *, accounts: Iterable[str] = (),
              series: Iterable[str] = ()) -> Iterator[Due]:
    """Every indexed item whose retention has ended by ``as_of``."""
    wanted_accounts, wanted_series = set(accounts), set(series)
    tags = item_tags(session, wanted_accounts or None)
    query = select(Item, Account.name).join(Account, Account.id == Item.account_id).order_by(Account.name, Item.id)
    if wanted_accounts:
        query = query.where(Account.name.in_(wanted_accounts))
    closed = {a.name: closed_at(config, a.name) for a in config.accounts}
    for item, account in session.execute(query).yield_per(2000):
        governing = governing_series(config, account, tags.get((account, item.platform_id), ()))
        if governing is None or (wanted_series and governing.code not in wanted_series):
            continue
        ends = eligible_on(governing, item.posted_at, item.last_seen_at, closed.get(account))
        if ends is not None and ends <= as_of:
            yield Due(item, account, governing, ends)
