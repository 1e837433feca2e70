"""Run a simulated city through the real archiver and measure what it caught.

Simulated time moves in steps of the harvest interval: the scenario's events due by then are
applied to the fake platforms, the faults due then are switched on, and every account is
harvested by the real ``HarvestRunner`` (real sockets, real WARCs, real index). Capture times in
the WARCs are real; the simulation keeps which simulated time each harvest stood for, to measure
detection delay in simulated time.

Measures (see bench/completeness.py):
- version recall: of the platform versions that stayed live at least one harvest interval, the
  share the index has (also: of those live during at least one successful harvest);
- false deletions: items the index says are deleted that still exist (must be 0);
- detection delay: from a change to its capture, in simulated time;
- index growth: harvests with nothing changed add no versions and only their own exchanges.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from archiver.config import load_config
from archiver.harvest import HarvestOutcome, HarvestRunner
from archiver.index.db import IndexDB, open_index
from archiver.index.models import Account, Evidence, Harvest, Item, Version, WarcFile
from archiver.simulate.platforms import SimulatedPlatform
from archiver.simulate.scenario import FAULT_LABELS, Scenario
from storage import open_storage

TIMEOUT_SECONDS = 0.5


@dataclass
class TruthVersion:
    platform_id: str
    key: str  # content key, or "" for the deletion itself
    deleted: bool
    start: timedelta
    end: timedelta | None = None


@dataclass(frozen=True)
class Miss:
    """A platform version the index does not have, and why the simulation says it was missed."""

    platform_id: str
    what: str  # the content key, or "deleted"
    start: timedelta
    end: timedelta | None
    reason: str

    def __str__(self) -> str:
        return f"{self.platform_id} {self.what!r} ({self.reason})"


@dataclass
class Report:
    platform: str
    versions: int = 0  # live at least one interval
    captured: int = 0
    observable: int = 0  # of those, live during at least one complete harvest
    observable_captured: int = 0
    false_deletions: list[str] = field(default_factory=list)
    delays: list[timedelta] = field(default_factory=list)
    harvests: int = 0
    failed_harvests: int = 0
    unchanged_versions_added: int = 0
    unchanged_bytes_per_harvest: float = 0.0
    missed: list[Miss] = field(default_factory=list)
    clean_harvests: int = 0  # harvests run while no fault was simulated
    unexpected_failures: list[str] = field(default_factory=list)  # errors of clean harvests that failed

    @property
    def failed_wholesale(self) -> bool:
        """Most harvests failed although nothing was simulated to make them fail: the demo itself broke."""
        return bool(self.unexpected_failures) and len(self.unexpected_failures) * 2 >= self.clean_harvests

    def as_dict(self) -> dict[str, Any]:
        def minutes(delta: timedelta) -> float:
            return round(delta.total_seconds() / 60, 1)

        return {
            "platform": self.platform, "versions_live_an_interval": self.versions, "captured": self.captured,
            "recall": round(self.captured / self.versions, 4) if self.versions else 1.0,
            "recall_of_observable": round(self.observable_captured / self.observable, 4) if self.observable else 1.0,
            "false_deletions": len(self.false_deletions),
            "delay_median_minutes": minutes(statistics.median(self.delays)) if self.delays else None,
            "delay_worst_minutes": minutes(max(self.delays)) if self.delays else None,
            "harvests": self.harvests, "failed_harvests": self.failed_harvests,
            "unchanged_versions_added": self.unchanged_versions_added,
            "unchanged_warc_bytes_per_harvest": round(self.unchanged_bytes_per_harvest),
            "missed": [{"platform_id": m.platform_id, "what": m.what, "reason": m.reason} for m in self.missed],
            "unexpected_failures": len(self.unexpected_failures), "failed_wholesale": self.failed_wholesale,
        }


class Simulation:
    def __init__(self, workdir: Path, platforms: list[SimulatedPlatform], scenario: Scenario,
                 interval: timedelta = timedelta(hours=1), start: datetime | None = None):
        self.workdir = workdir
        self.platforms = platforms
        self.scenario = scenario
        self.interval = interval
        # Simulated time ends now, so every post is dated before the (real) time it is captured.
        self.start = (start or datetime.now(UTC) - timedelta(days=scenario.days) - interval).replace(microsecond=0)
        self.truth: dict[str, dict[str, list[TruthVersion]]] = {p.account: {} for p in platforms}
        self.harvest_time: dict[str, timedelta] = {}  # harvest uid → simulated time
        self.complete_at: dict[str, list[timedelta]] = {p.account: [] for p in platforms}
        self.clean: dict[str, list[str | None]] = {p.account: [] for p in platforms}  # errors of fault-free harvests

    # Ground truth ---------------------------------------------------------------------------
    def _observe_truth(self, platform: SimulatedPlatform, at: timedelta) -> None:
        now = platform.truth()
        history = self.truth[platform.account]
        for platform_id, key in now.items():
            versions = history.setdefault(platform_id, [])
            if not versions or versions[-1].deleted or versions[-1].key != key:
                if versions:
                    versions[-1].end = at
                versions.append(TruthVersion(platform_id, key, False, at))
        for platform_id, versions in history.items():
            if platform_id not in now and not versions[-1].deleted:
                versions[-1].end = at
                versions.append(TruthVersion(platform_id, "", True, at))

    # The run ----------------------------------------------------------------------------------
    def run(self, on_step: Callable[[timedelta, list[HarvestOutcome]], None] | None = None,
            settle_harvests: int = 3) -> list[Report]:
        config_path = self.workdir / "archiver.toml"
        saved_env = {key: os.environ.get(key) for p in self.platforms for key in p.environment()}
        for platform in self.platforms:
            platform.start(self.start)
            os.environ.update(platform.environment())
            self._observe_truth(platform, timedelta(0))
        try:
            config_path.write_text(
                '[archiver]\nagency = "City of Springfield (simulated)"\n'
                f"[capture]\ntimeout_seconds = {TIMEOUT_SECONDS}\nretries = 1\nretry_backoff_seconds = 0.05\n"
                + "".join(p.account_toml() for p in self.platforms)
            )
            config = load_config(config_path)
            db = open_index(config.database_url)
            runner = HarvestRunner(config, db, open_storage(config))
            events = list(self.scenario.events)
            steps = int(timedelta(days=self.scenario.days) / self.interval)
            for step in range(steps + 1):
                at = self.interval * step
                while events and events[0].at <= at:
                    event = events.pop(0)
                    for platform in self.platforms:
                        if event.kind in platform.kinds:
                            platform.apply(event, self.start + event.at)
                            self._observe_truth(platform, event.at)
                outcomes = self._harvest(runner, config, at, self.scenario.faults_at(at))
                if on_step is not None:
                    on_step(at, outcomes)
            before = self._counts(db)
            end = self.interval * steps
            for extra in range(settle_harvests):  # nothing changes: what does a harvest add?
                self._harvest(runner, config, end + self.interval * (extra + 1), [])
            reports = self._measure(db, end, before, settle_harvests)
            db.dispose()
            return reports
        finally:
            for platform in self.platforms:
                platform.stop()
            for key, value in saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def _harvest(self, runner: HarvestRunner, config: Any, at: timedelta, faults: list[Any]) -> list[HarvestOutcome]:
        outcomes = []
        for platform in self.platforms:
            platform.set_faults(faults, TIMEOUT_SECONDS)
            outcome = runner.run(config.account(platform.account))
            self.harvest_time[outcome.harvest_uid] = at
            if outcome.ok:
                self.complete_at[platform.account].append(at)
            if not faults:
                self.clean[platform.account].append(None if outcome.ok else outcome.error or outcome.status)
            outcomes.append(outcome)
        return outcomes

    @staticmethod
    def _counts(db: IndexDB) -> dict[str, tuple[int, int]]:
        with db.session() as session:
            versions = {name: len(session.scalars(select(Version.id).join(Item).join(Account)
                                                  .where(Account.name == name)).all())
                        for name in session.scalars(select(Account.name))}
            sizes = {name: sum(size or 0 for size in session.scalars(
                select(WarcFile.size).join(Account).where(Account.name == name))) for name in versions}
        return {name: (versions[name], sizes[name]) for name in versions}

    def _measure(self, db: IndexDB, end: timedelta, before: dict[str, tuple[int, int]],
                 settle: int) -> list[Report]:
        after = self._counts(db)
        reports = []
        with db.session() as session:
            for platform in self.platforms:
                report = Report(platform.account)
                rows = session.execute(
                    select(Item.platform_id, Item.state, Version.content, Version.state, Harvest.uid)
                    .join(Version, Version.item_id == Item.id).join(Account, Account.id == Item.account_id)
                    .join(Evidence, Evidence.id == Version.first_evidence_id)
                    .join(WarcFile, WarcFile.id == Evidence.warc_file_id)
                    .join(Harvest, Harvest.id == WarcFile.harvest_id)
                    .where(Account.name == platform.account, Item.kind != "profile")
                ).all()
                captured: dict[tuple[str, str, bool], timedelta] = {}
                current: dict[str, str] = {}
                for platform_id, item_state, content, state, uid in rows:
                    deleted = state == "deleted"
                    key = "" if deleted else platform.content_key(content, state)
                    captured.setdefault((platform_id, key, deleted), self.harvest_time.get(uid, end))
                    current[platform_id] = item_state
                harvests = session.scalars(select(Harvest).join(Account).where(Account.name == platform.account)).all()
                report.harvests = len(harvests)
                report.failed_harvests = sum(1 for h in harvests if not h.complete)
                report.clean_harvests = len(self.clean[platform.account])
                report.unexpected_failures = [e for e in self.clean[platform.account] if e is not None]
                self._score(report, platform, captured, end)
                exists = platform.truth()
                report.false_deletions = [pid for pid, state in current.items() if state == "deleted" and pid in exists]
                versions_before, bytes_before = before.get(platform.account, (0, 0))
                versions_after, bytes_after = after.get(platform.account, (0, 0))
                report.unchanged_versions_added = versions_after - versions_before
                report.unchanged_bytes_per_harvest = (bytes_after - bytes_before) / max(settle, 1)
                reports.append(report)
        return reports

    def _score(self, report: Report, platform: SimulatedPlatform,
               captured: dict[tuple[str, str, bool], timedelta], end: timedelta) -> None:
        complete = self.complete_at[platform.account]
        for versions in self.truth[platform.account].values():
            earlier_observable = False  # a deletion is observable only of an item a harvest could have seen
            for version in versions:
                until = version.end if version.end is not None else end
                live_observed = any(version.start <= t < until for t in complete) or (
                    version.end is None and any(t >= version.start for t in complete))
                observable = live_observed and (earlier_observable or not version.deleted)
                earlier_observable |= live_observed and not version.deleted
                if until - version.start < self.interval:
                    continue
                report.versions += 1
                seen_at = captured.get((version.platform_id, version.key, version.deleted))
                report.observable += observable
                if seen_at is None:
                    report.missed.append(Miss(version.platform_id, "deleted" if version.deleted else version.key,
                                              version.start, version.end, self._why_missed(version, until,
                                                                                           observable)))
                    continue
                report.captured += 1
                report.observable_captured += observable
                if version.start > timedelta(0):  # what existed before the archive began has no delay
                    report.delays.append(max(seen_at - version.start, timedelta(0)))

    def _why_missed(self, version: TruthVersion, until: timedelta, observable: bool) -> str:
        if observable:
            return "a complete harvest ran while it existed, yet the index does not have it"
        if version.deleted:
            return "no complete harvest saw the item before it was deleted, so there was nothing to mark deleted"
        kinds = [f.kind for f in self.scenario.faults if f.start < until and version.start < f.end]
        causes = ", ".join(dict.fromkeys(FAULT_LABELS.get(k, k) for k in kinds)) or "no complete harvest"
        return f"it existed only while harvests were failing: {causes}"
