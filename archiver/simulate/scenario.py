"""A seeded churn scenario: what a busy city's accounts do over simulated days, and what breaks.

Rates are per simulated day, from real agency pages (a busy city Page: about 5 posts and 100
comments a day, a few percent of them edited, hidden or deleted). Events arrive as a Poisson
process; faults are windows of simulated time during which the platform misbehaves. The same
seed always gives the same scenario.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta

EVENT_KINDS = ("post", "comment", "edit", "hide", "unhide", "delete_comment", "delete_post")
FAULT_KINDS = ("5xx", "timeout", "truncated", "token", "permission")
FAULT_LABELS = {"5xx": "a platform outage (HTTP 503)", "timeout": "a platform not answering (timeouts)",
                "truncated": "truncated answers", "token": "an expired access token",
                "permission": "a lost permission"}


@dataclass(frozen=True)
class Rates:
    """Events per simulated day."""

    posts: float = 5.0
    comments: float = 100.0
    edits: float = 3.0  # a few percent of what is posted
    hides: float = 2.0
    unhides: float = 0.5
    comment_deletions: float = 2.0  # authors deleting their own comments
    post_deletions: float = 0.3  # the page deleting a whole post (its comments go with it)

    def per_kind(self) -> dict[str, float]:
        return {"post": self.posts, "comment": self.comments, "edit": self.edits, "hide": self.hides,
                "unhide": self.unhides, "delete_comment": self.comment_deletions,
                "delete_post": self.post_deletions}


@dataclass(frozen=True, order=True)
class Event:
    at: timedelta  # from the start of the simulation
    kind: str = field(compare=False)
    pick: float = field(compare=False, default=0.0)  # which existing item it touches, as a fraction


@dataclass(frozen=True)
class Fault:
    kind: str
    start: timedelta
    end: timedelta

    def active(self, at: timedelta) -> bool:
        return self.start <= at < self.end


@dataclass(frozen=True)
class Scenario:
    days: float
    events: tuple[Event, ...]
    faults: tuple[Fault, ...]

    def faults_at(self, at: timedelta) -> list[Fault]:
        return [fault for fault in self.faults if fault.active(at)]


def churn(seed: int, days: float, rates: Rates, kinds: tuple[str, ...] = EVENT_KINDS) -> list[Event]:
    """Poisson arrivals of each kind of event over ``days``.

    >>> events = churn(1, 2.0, Rates(), kinds=("post",))
    >>> 3 <= len(events) <= 20 and all(e.kind == "post" for e in events)
    True
    """
    rng = random.Random(seed)
    horizon = days * 86400.0
    events: list[Event] = []
    for kind, per_day in rates.per_kind().items():
        if kind not in kinds or per_day <= 0:
            continue
        moment = rng.expovariate(per_day / 86400.0)
        while moment < horizon:
            events.append(Event(timedelta(seconds=moment), kind, rng.random()))
            moment += rng.expovariate(per_day / 86400.0)
    return sorted(events)


def fault_windows(seed: int, days: float, kinds: tuple[str, ...] = FAULT_KINDS) -> list[Fault]:
    """One window of each fault kind, spread over the run: outages of an hour or two, a token
    that stays expired for a day (when the run is long enough), a permission lost for a few hours."""
    rng = random.Random(seed * 7919 + 1)
    lengths = {"5xx": timedelta(hours=2), "timeout": timedelta(hours=1), "truncated": timedelta(hours=1),
               "token": timedelta(days=1), "permission": timedelta(hours=3)}
    horizon = timedelta(days=days)
    faults = []
    for index, kind in enumerate(kinds):
        length = min(lengths[kind], horizon / 6)
        slot = horizon / (len(kinds) + 1)
        start = slot * (index + 0.5) + timedelta(seconds=rng.uniform(0, slot.total_seconds() / 2))
        faults.append(Fault(kind, start, min(start + length, horizon)))
    return faults


def scenario(seed: int, days: float, rates: Rates | None = None, kinds: tuple[str, ...] = EVENT_KINDS,
             faults: tuple[str, ...] = FAULT_KINDS) -> Scenario:
    return Scenario(days, tuple(churn(seed, days, rates or Rates(), kinds)),
                    tuple(fault_windows(seed, days, faults)))
