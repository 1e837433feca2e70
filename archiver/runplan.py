"""When each account harvests next, stretched so a credential's budget lasts until it renews.

For every credential with a budget (archiver/governor.py), the coming runs of its accounts are
projected to the budget's reset: each account's runs left at its configured schedule, times what
one of its runs costs (the mean of its recent harvests' ``budget`` coverage). When that would
pass what is left, the accounts' schedules are spread by one common factor — every account
keeps its share, the rarest stays the rarest — so the budget lasts until the reset instead of
running dry mid-harvest; with nothing left (or the platform saying the quota is gone) the next
runs wait for the reset. The daemon defers a run the plan puts later and logs why; ``archiver
accounts`` shows the same plan, worked out from the index the same way, in any process.

Accounts without a budget keep their schedules; their next run is the schedule's next shared
tick (archiver/ticks.py), the same for every daemon on the index.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select

from archiver.governor import budget_spec, credential_of
from archiver.index.models import Account, Harvest
from archiver.quota import Budget, BudgetStatus
from archiver.ticks import Ticks

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from archiver.config import AccountConfig, Config
    from archiver.index.db import IndexDB

RECENT_RUNS = 5  # the harvests a run's cost is estimated from


@dataclass
class RunPlan:
    account: str
    credential: str | None  # "youtube:CITY_YT_KEY" (the variable's name, never its value)
    next_run: datetime
    last_run: datetime | None = None
    per_run: int | None = None  # what one run is expected to spend (None: no harvest recorded a cost yet)
    projected: int | None = None  # the credential's use by the reset, every account on its configured schedule
    stretch: float = 1.0  # the factor the schedules are spread by to stay inside the budget
    reason: str | None = None  # why the runs are spaced out (None: on schedule)
    budget: BudgetStatus | None = None

    @property
    def stretched(self) -> bool:
        return self.reason is not None

    def as_dict(self) -> dict[str, Any]:
        return {"credential": self.credential, "next_run": self.next_run.isoformat(timespec="seconds"),
                "per_run": self.per_run, "projected": self.projected,
                "stretch": round(self.stretch, 2) if math.isfinite(self.stretch) else None,
                "schedule_note": self.reason}


def spacing(trigger: BaseTrigger, now: datetime) -> timedelta:
    """The mean time between runs of a schedule (a cron line's over its next day's worth of runs).

    >>> at = datetime(2026, 5, 1, tzinfo=UTC)
    >>> spacing(Ticks("a", "2h"), at), spacing(Ticks("a", "0 */6 * * *"), at)
    (datetime.timedelta(seconds=7200), datetime.timedelta(seconds=21600))
    """
    if isinstance(trigger, IntervalTrigger):
        return trigger.interval
    fires, previous = [], None
    moment = now
    while len(fires) < 25:
        following = trigger.get_next_fire_time(previous, moment)
        if following is None:
            break
        fires.append(following)
        previous, moment = following, following + timedelta(seconds=1)
        if following - fires[0] > timedelta(days=31):
            break
    if len(fires) < 2:
        return timedelta(days=1)
    return (fires[-1] - fires[0]) / (len(fires) - 1)


def _history(session: Session, name: str) -> tuple[datetime | None, list[int]]:
    """The account's last scheduled run and what its recent runs spent of their budget."""
    account_id = session.scalar(select(Account.id).where(Account.name == name))
    if account_id is None:
        return None, []
    runs = session.execute(select(Harvest.started_at, Harvest.coverage, Harvest.cause)
                           .where(Harvest.account_id == account_id)
                           .order_by(Harvest.started_at.desc()).limit(4 * RECENT_RUNS)).all()
    scheduled = [(started, coverage or {}, cause) for started, coverage, cause in runs
                 if not (coverage or {}).get("targeted")]
    last = scheduled[0][0] if scheduled else None
    spent = [(int(c["budget"]["used"]), cause) for _, c, cause in scheduled if isinstance(c.get("budget"), dict)
             and isinstance(c["budget"].get("used"), int)]
    # A run the budget or the platform's quota cut short says little of what a run needs.
    costs = [used for used, cause in spent if cause != "quota"][:RECENT_RUNS] or [used for used, _ in spent][:1]
    return (last.replace(tzinfo=UTC) if last is not None and last.tzinfo is None else last), costs


def _on_schedule(trigger: BaseTrigger, last: datetime | None, now: datetime) -> datetime:
    if last is None:
        return now
    following = trigger.get_next_fire_time(last, now)
    return max(following, now) if following is not None else now


def plan(db: IndexDB, config: Config, now: datetime | None = None) -> dict[str, RunPlan]:
    """Every configured account's next run, stretched where its credential's budget needs it."""
    now = now or datetime.now(UTC)
    plans: dict[str, RunPlan] = {}
    groups: dict[str, list[tuple[AccountConfig, BaseTrigger]]] = {}
    with db.session() as session:
        for account in config.accounts:
            trigger = Ticks(account.name, account.schedule)  # the ticks every daemon shares
            last, costs = _history(session, account.name)
            plans[account.name] = RunPlan(account.name, credential_of(account), _on_schedule(trigger, last, now),
                                          last, math.ceil(sum(costs) / len(costs)) if costs else None)
            if budget_spec(config, account)[0] is not None:
                groups.setdefault(str(plans[account.name].credential), []).append((account, trigger))
    for members in groups.values():
        _stretch(db, config, [(plans[a.name], t) for a, t in members], now)
    return plans


def _stretch(db: IndexDB, config: Config, members: list[tuple[RunPlan, BaseTrigger]], now: datetime) -> None:
    """Project one credential's runs to its reset; spread them if they would pass the budget."""
    spec = budget_spec(config, next(a for a in config.accounts if a.name == members[0][0].account))[0]
    assert spec is not None
    status = Budget(db, spec).status(now)
    known = [p.per_run for p, _ in members if p.per_run is not None]
    guess = math.ceil(sum(known) / len(known)) if known else None  # an account not harvested yet costs the mean
    expected = 0.0
    for run, trigger in members:
        run.budget = status
        every = spacing(trigger, now).total_seconds()
        # The run at next_run and those after it (as a fraction, so the plan moves smoothly with time).
        runs_left = (status.resets_at - run.next_run).total_seconds() / every + 1 if run.next_run < status.resets_at \
            else 0.0
        expected += runs_left * (run.per_run if run.per_run is not None else guess or 0)
    coming = math.ceil(expected)
    projected = status.used + coming if guess is not None else None
    for run, _ in members:
        run.projected = projected
    left = status.remaining
    resets = status.resets_at.isoformat(timespec="minutes")
    if status.exhausted_until is not None:
        for run, _ in members:
            run.stretch, run.next_run = math.inf, max(run.next_run, status.exhausted_until)
            run.reason = (f"the platform reports the {spec.unit} quota of {spec.credential} exhausted "
                          f"({status.exhausted_reason}); runs wait until {resets}")
        return
    if guess is None or coming <= left:
        return
    if left <= 0:
        for run, _ in members:
            run.stretch, run.next_run = math.inf, max(run.next_run, status.resets_at)
            run.reason = (f"the budget of {spec.credential} ({spec.limit:,} {spec.unit} a {spec.period.every}) is "
                          f"spent; runs wait until it renews at {resets}")
        return
    factor = coming / left
    for run, trigger in members:
        run.stretch = factor
        if run.last_run is not None:
            stretched = run.last_run + spacing(trigger, now) * factor
            run.next_run = max(run.next_run, min(stretched, status.resets_at))
        run.reason = (f"{len(members)} account(s) on {spec.credential} would use {coming:,} {spec.unit} before "
                      f"the reset at {resets}, with {left:,} left: their runs are spaced {factor:.1f}x "
                      "their schedules")


__all__ = ["RunPlan", "plan", "spacing"]
