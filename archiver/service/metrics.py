"""Prometheus metrics (``/metrics``), in a registry of our own (never the process-wide default).

Two sources. ``HarvestMetrics`` counts what this daemon did since it started (harvests by
account and outcome, items and versions written, API calls and throttled seconds by platform,
quota use, harvest durations, fixity results); the runner and the daemon feed it.
``IndexCollector`` reads what the index and the spool say at scrape time, the same for every
daemon and for ``archiver serve`` (WARC bytes stored, spool bytes, last success per account,
open alert conditions, the latest fixity run), cached for ``CACHE_SECONDS`` so frequent
scrapes cost the database little.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from archiver.alerts.conditions import KINDS, spool_bytes
from archiver.capture.response import CapturedResponse
from archiver.config import AccountConfig, Config
from archiver.harvest import HarvestOutcome
from archiver.index.db import IndexDB
from archiver.index.models import Account, Harvest, WarcFile

log = logging.getLogger(__name__)
CACHE_SECONDS = 30.0
DURATION_BUCKETS = (1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 21600)


class HarvestMetrics:
    """What this process did: fed by the harvest runner (as its observer) and the daemon."""

    def __init__(self, registry: CollectorRegistry):
        self.harvests = Counter("archiver_harvests", "Harvests finished, by account and outcome",
                                ["account", "platform", "outcome"], registry=registry)
        self.items = Counter("archiver_items_observed", "Items (posts, comments, media) seen by harvests",
                             ["account"], registry=registry)
        self.versions = Counter("archiver_versions_written", "New versions written to the index", ["account"],
                                registry=registry)
        self.duration = Histogram("archiver_harvest_duration_seconds", "How long harvests took", ["account"],
                                  buckets=DURATION_BUCKETS, registry=registry)
        self.api_calls = Counter("archiver_api_calls", "API exchanges archived, by platform and HTTP status class",
                                 ["platform", "status"], registry=registry)
        self.throttled = Counter("archiver_throttled_seconds", "Seconds harvests waited on the platforms' rate limits",
                                 ["platform"], registry=registry)
        self.quota = Gauge("archiver_quota_used_ratio", "Share of the platform's rate-limit budget in use, as the "
                           "platform last reported it (1 = all of it)", ["account", "platform"], registry=registry)
        self.fixity = Counter("archiver_fixity_objects_verified", "Stored WARCs verified by scheduled fixity checks",
                              ["result"], registry=registry)

    # The harvest runner's observer ---------------------------------------------------------------
    def exchange(self, account: AccountConfig, response: CapturedResponse, quota_used: float | None) -> None:
        self.api_calls.labels(account.platform, f"{response.status // 100}xx" if response.status else "none").inc()
        if quota_used is not None:
            self.quota.labels(account.name, account.platform).set(quota_used / 100.0)

    def waited(self, account: AccountConfig, seconds: float) -> None:
        self.throttled.labels(account.platform).inc(max(0.0, seconds))

    # The daemon's ---------------------------------------------------------------------------------
    def harvested(self, account: AccountConfig, outcome: HarvestOutcome, seconds: float) -> None:
        self.harvests.labels(account.name, account.platform, outcome.status).inc()
        self.items.labels(account.name).inc(outcome.observations)
        self.versions.labels(account.name).inc(outcome.new_versions)
        self.duration.labels(account.name).observe(seconds)

    def verified(self, objects: int, mismatched_objects: int) -> None:
        self.fixity.labels("ok").inc(max(0, objects - mismatched_objects))
        self.fixity.labels("mismatch").inc(mismatched_objects)


class IndexCollector(Collector):
    """Gauges read from the index and the spool at scrape time (cached)."""

    def __init__(self, config: Config, db: IndexDB):
        self.config, self.db = config, db
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Metric]] | None = None

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            if self._cached is None or time.monotonic() - self._cached[0] > CACHE_SECONDS:
                self._cached = (time.monotonic(), self._read())
            yield from self._cached[1]

    def _gauge(self, name: str, documentation: str, value: float | None = None,
               labels: list[str] | None = None) -> GaugeMetricFamily:
        return GaugeMetricFamily(name, documentation, value=value, labels=labels)

    def _read(self) -> list[Metric]:
        up = self._gauge("archiver_index_readable", "1 if the index answered the last scrape's queries")
        metrics: list[Metric] = [self._gauge("archiver_spool_bytes", "Bytes of WARCs waiting in the spool",
                                             spool_bytes(self.config.spool_dir))]
        try:
            metrics += self._from_index()
        except Exception as exc:  # the index is down: say so, keep the rest of /metrics
            log.warning("metrics: cannot read the index: %s", exc)
            up.add_metric([], 0)
        else:
            up.add_metric([], 1)
        return [up, *metrics]

    def _from_index(self) -> list[Metric]:
        from archiver.alerts.models import AlertCondition
        from archiver.retention.models import FixityRun

        stored = self._gauge("archiver_warc_stored_bytes", "Bytes of sealed WARCs in storage, per the index")
        files = self._gauge("archiver_warc_stored_files", "Sealed WARC files in storage, per the index")
        last = self._gauge("archiver_last_success_timestamp_seconds", "When the account's last successful "
                           "harvest finished (Unix time)", labels=["account"])
        alerts = self._gauge("archiver_alert_conditions_open", "Open alert conditions, by kind", labels=["kind"])
        fixity: dict[str, Any] = {}
        with self.db.session() as session:
            count, size = session.execute(select(func.count(WarcFile.id), func.coalesce(func.sum(WarcFile.size), 0))
                                          .where(WarcFile.state == "stored")).one()
            files.add_metric([], count)
            stored.add_metric([], size)
            for account in self.config.accounts:
                finished = session.scalar(
                    select(Harvest.finished_at).join(Account, Account.id == Harvest.account_id)
                    .where(Account.name == account.name, Harvest.status == "succeeded")
                    .order_by(Harvest.started_at.desc()).limit(1))
                if finished is not None:
                    last.add_metric([account.name], finished.timestamp())
            open_by_kind: dict[str, int] = dict.fromkeys(KINDS, 0)
            for kind, number in session.execute(select(AlertCondition.kind, func.count())
                                                .where(AlertCondition.open_key.is_not(None))
                                                .group_by(AlertCondition.kind)):
                open_by_kind[kind] = number
            for kind, number in sorted(open_by_kind.items()):
                alerts.add_metric([kind], number)
            run = session.scalar(select(FixityRun).order_by(FixityRun.started_at.desc()).limit(1))
            if run is not None:
                fixity = {"time": run.finished_at.timestamp(), "objects": run.objects,
                          "mismatches": len({f.get("key") for f in run.failures or [] if isinstance(f, dict)})}
        metrics: list[Metric] = [stored, files, last, alerts, *self._budgets()]
        if fixity:
            metrics += [
                self._gauge("archiver_fixity_last_run_timestamp_seconds", "When the latest fixity run ended",
                            fixity["time"]),
                self._gauge("archiver_fixity_last_run_objects", "WARCs the latest fixity run verified",
                            fixity["objects"]),
                self._gauge("archiver_fixity_last_run_mismatched_objects", "WARCs the latest fixity run found "
                            "changed", fixity["mismatches"]),
            ]
        return metrics


    def _budgets(self) -> list[Metric]:
        """Each budgeted credential's use, limit and projected use (archiver/runplan.py), and every
        account's planned next run."""
        from archiver.runplan import plan

        labels = ["credential", "unit"]
        used = self._gauge("archiver_budget_used", "What the credential has spent of its budget this period",
                           labels=labels)
        limit = self._gauge("archiver_budget_limit", "The credential's budget for the period (config)", labels=labels)
        projected = self._gauge("archiver_budget_projected", "The credential's use by the reset if every account on "
                                "it ran on its schedule", labels=labels)
        following = self._gauge("archiver_next_run_timestamp_seconds", "When the account's next harvest is planned "
                                "(Unix time; later than its schedule when its credential's budget needs it)",
                                labels=["account"])
        seen: set[str] = set()
        for name, run in plan(self.db, self.config).items():
            following.add_metric([name], run.next_run.timestamp())
            if run.budget is None or run.budget.credential in seen:
                continue
            seen.add(run.budget.credential)
            key = [run.budget.credential, run.budget.unit]
            used.add_metric(key, run.budget.used)
            limit.add_metric(key, run.budget.limit)
            if run.projected is not None:
                projected.add_metric(key, run.projected)
        return [used, limit, projected, following]


class ServiceMetrics:
    """The registry ``/metrics`` serves: the index's gauges, and for the daemon its own counters."""

    def __init__(self, config: Config, db: IndexDB, *, harvests: bool = False):
        self.registry = CollectorRegistry(auto_describe=False)
        self.index = IndexCollector(config, db)
        self.registry.register(self.index)
        self.harvests = HarvestMetrics(self.registry) if harvests else None

    def reconfigure(self, config: Config) -> None:
        self.index.config = config
