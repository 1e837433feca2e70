"""``archiver run``: every account on its schedule, in the foreground, until SIGTERM or Ctrl-C.

Each account is harvested at start and then on its ``schedule``; one account never runs twice
at once, and a run that is late (the machine slept, a harvest overran) runs once, not many
times. Recovery of anything a failed upload left in the spool repeats every few minutes, so
WARCs reach storage as soon as it is back. On a stop request, harvests in flight finish the
page they are on, seal and store what they have, and the scheduler waits for them.

Around it, ``archiver.service`` watches (``Supervision``: health probes, metrics, alerts every
``[alerts] check_every``, ``[service] listen``, systemd's READY and watchdog), and SIGHUP
re-reads the config (``reload``): the schedule changes, harvests in flight do not.

Several daemons may share one index (archiver/sharing.py): accounts run on shared ticks
(archiver/ticks.py), each tick harvested by the one daemon that wins the account's lease
(archiver/leases.py), and the accounts of a daemon that died are taken over by the others.

Accounts whose credential has a budget run when ``archiver.runplan`` says: before a harvest and
after it, the plan is worked out from the index, and a run it puts later than the schedule is
moved there, with a log line saying why — the schedule stretches instead of the budget running
dry (or the platform answering ``quotaExceeded``) mid-harvest.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from archiver import __version__
from archiver.config import AccountConfig, Config, ConfigError
from archiver.harvest import HarvestOutcome, HarvestRunner
from archiver.index.db import IndexDB, safe_url
from archiver.recovery import Recovery
from archiver.runplan import plan
from archiver.schedule import parse_schedule
from archiver.service import sdnotify
from archiver.service.reload import restart_needed
from archiver.service.supervision import Supervision
from archiver.sharing import Sharing
from storage.base import Storage

log = logging.getLogger(__name__)
RECOVERY_INTERVAL_SECONDS = 300
MAX_PARALLEL_HARVESTS = 4
PLAN_SLACK_SECONDS = 30  # a run the budget plan puts this little later goes ahead now
PLAN_INTERVAL_SECONDS = 300  # how often the budget plan is worked out again between harvests
PLAN_NOTICE_SECONDS = 900  # a planned run moving less than this is not logged again


class Daemon:
    def __init__(self, config: Config, db: IndexDB, storage: Storage, stop: threading.Event, *,
                 reread: Callable[[], Config] | None = None):
        self.config = config
        self.db = db
        self.storage = storage
        self.stop = stop
        self.reread = reread  # loads the config file again (SIGHUP)
        self.reload_requested = threading.Event()
        workers = max(1, min(MAX_PARALLEL_HARVESTS, len(config.accounts)))
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(workers)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
            timezone="UTC",
        )
        self.supervision = Supervision(config, db, storage, scheduler=lambda: bool(self.scheduler.running))
        self.metrics = self.supervision.metrics.harvests
        self.runner = HarvestRunner(config, db, storage, stop=stop, observer=self.metrics)
        self.completed: list[str] = []
        self.deferred: list[str] = []  # harvests the budget plan moved later (name, in order)
        self.planned: set[str] = set()  # accounts whose next run the budget plan set
        self.replan = threading.Event()  # a harvest ended or was deferred: follow the plan (main loop)
        self.sharing = Sharing(db, config, stop)

    def harvest(self, name: str) -> None:
        if self.stop.is_set():
            return
        runner = self.runner  # a reload swaps it; this harvest keeps the config it started with
        account = next((a for a in runner.config.accounts if a.name == name), None)
        if account is None:
            return
        # A tick that came due while this harvest ran (a slow one, or a takeover) is harvested right
        # after it: the other daemons skipped it, seeing the lease held.
        while not self._deferred_by_plan(runner.config, name) and self._harvest_tick(runner, account) \
                and not self.stop.is_set() and self.sharing.due_again(account):
            pass

    def _harvest_tick(self, runner: HarvestRunner, account: AccountConfig) -> bool:
        """Harvest the account's due tick under its lease; whether this daemon did."""
        started = time.monotonic()
        try:  # under the account's lease, stopped by a stop request or by losing the lease
            harvested = self.sharing.run(account, lambda halt: HarvestRunner(
                runner.config, self.db, self.storage, stop=halt, observer=self.metrics,
                governors=runner.governors).run(account))
        except Exception:  # one account's bug must not stop the others' schedules
            log.exception("harvest of %s crashed; its WARCs are recovered on the next pass", account.name)
            return False
        if harvested is None:  # this tick is harvested (or being harvested) by another daemon
            return False
        self._report(account, *harvested, time.monotonic() - started)
        return True

    def _report(self, account: AccountConfig, outcome: HarvestOutcome, tick: datetime, seconds: float) -> None:
        self.completed.append(account.name)
        if self.metrics is not None:
            self.metrics.harvested(account, outcome, seconds)
        message = (f"harvest {account.name}: {outcome.status} — {outcome.pages} pages, {outcome.observations} items, "
                   f"{outcome.new_versions} new versions, {outcome.media} media; "
                   f"WARC {', '.join(outcome.warcs) if outcome.warcs else 'none'}; tick {tick.isoformat()}")
        fields = {"account": account.name, "harvest": outcome.harvest_uid, "status": outcome.status,
                  "pages": outcome.pages, "items": outcome.observations, "new_versions": outcome.new_versions,
                  "media": outcome.media, "warcs": outcome.warcs, "tick": tick.isoformat()}
        if outcome.error:
            log.warning("%s — %s", message, outcome.error, extra=fields)
        else:
            log.info("%s", message, extra=fields)
        self.replan.set()  # what is left changed: the main loop works the plan out again

    def _deferred_by_plan(self, config: Config, name: str) -> bool:
        """Whether the credential's budget plan puts this run (due now) later: then it is skipped,
        and the main loop moves the job there (scheduler calls stay off the harvest threads: a
        shutdown holds the scheduler's locks while it waits for them)."""
        try:
            planned = plan(self.db, config)[name]
        except Exception:  # the plan is a guard; a bug in it must not stop harvesting
            log.exception("could not plan the next run of %s; it stays on its schedule", name)
            return False
        if not planned.stretched or planned.next_run <= datetime.now(UTC) + timedelta(seconds=PLAN_SLACK_SECONDS):
            return False
        self.deferred.append(name)
        self.replan.set()
        return True

    def follow_plan(self) -> None:
        """Put each budgeted account's next run where the plan says (after a harvest, and every few
        minutes: what is left and the runs to come change); back on schedule once no longer needed."""
        config = self.config
        if self.stop.is_set():
            return
        try:
            plans = plan(self.db, config)
        except Exception:
            log.exception("could not plan the next runs; accounts stay on their schedules")
            return
        for name, planned in plans.items():
            job = self.scheduler.get_job(f"harvest:{name}")
            if job is None or job.next_run_time is None or not (planned.stretched or name in self.planned):
                continue
            if abs((planned.next_run - job.next_run_time).total_seconds()) <= PLAN_SLACK_SECONDS:
                continue
            moved = abs((planned.next_run - job.next_run_time).total_seconds())
            job.modify(next_run_time=planned.next_run)
            if planned.stretched:
                if name not in self.planned or moved >= PLAN_NOTICE_SECONDS:  # not every drift of the plan
                    self._log_plan(config, name, planned.next_run, planned.reason)
                self.planned.add(name)
            else:
                self.planned.discard(name)
                log.info("%s: back on its schedule (%s), next harvest at %s: its credential's budget suffices",
                         name, config.account(name).schedule, planned.next_run.isoformat(timespec="seconds"))

    @staticmethod
    def _log_plan(config: Config, name: str, when: datetime, reason: str | None) -> None:
        log.info("%s: next harvest at %s instead of on its schedule (%s): %s", name, when.isoformat(timespec="seconds"),
                 config.account(name).schedule, reason,
                 extra={"account": name, "next_run": when.isoformat(timespec="seconds")})

    def recover(self) -> None:
        try:
            report = Recovery(self.config, self.db, self.storage).run()
        except Exception:
            log.exception("recovery pass failed; will retry")
            return
        for key in report.stored:
            log.warning("stored WARC that was waiting in the spool: %s", key)

    def verify(self) -> None:
        """Scheduled fixity: a random sample of stored WARCs (``[fixity] sample``; 0 = all)."""
        from archiver.retention.fixity import WORKERS, choose, verify

        sample = self.config.fixity.sample or None
        try:
            files = choose(self.db, sample=sample)
            if sample:  # objects that failed before are checked again each time, so their alert can clear
                files += [f for f in choose(self.db, keys=self.supervision.alerts.open_subjects("fixity-mismatch"))
                          if f.key not in {chosen.key for chosen in files}]
            fixity = self.config.fixity
            report = verify(self.db, self.storage, files, f"scheduled sample {sample}" if sample else "scheduled all",
                            records=fixity.records, workers=fixity.workers or WORKERS)
        except Exception:
            log.exception("scheduled fixity check failed; will retry at the next run")
            return
        for mismatch in report.mismatches:
            log.error("FIXITY MISMATCH %s", mismatch)
        if self.metrics is not None:
            self.metrics.verified(report.objects, len({m.key for m in report.mismatches}))
        log.info("fixity: %d WARC(s) verified, %d mismatch(es)", report.objects, len(report.mismatches))

    def timestamp(self) -> None:
        """The previous day's digest of the audit log and new WARCs, stamped by the RFC 3161 authority."""
        from datetime import timedelta

        from archiver.retention.timestamp import stamp

        try:
            with self.db.session() as session:
                stamp(session, self.config, (datetime.now(UTC) - timedelta(days=1)).date())
        except Exception:
            log.exception("time-stamping the daily digest failed; will retry at the next run")

    def holds(self) -> None:
        from archiver.retention.holds import after_harvest

        try:
            after_harvest(self.db, self.storage)
        except Exception:
            log.exception("refreshing legal holds failed; will retry")

    def check_alerts(self) -> None:
        try:
            self.supervision.alerts.check()
        except Exception:
            log.exception("checking alert conditions failed; will retry")

    def schedule(self) -> None:
        start = datetime.now(UTC)
        for account in self.config.accounts:
            self.scheduler.add_job(self.harvest, self.sharing.ticks_of(account), args=[account.name],
                                   id=f"harvest:{account.name}", name=f"harvest {account.name}",
                                   next_run_time=start)
        self.scheduler.add_job(self.check_alerts, IntervalTrigger(seconds=self.config.alerts.check_seconds,
                                                                  timezone="UTC"), id="alerts", name="alert check")
        self.scheduler.add_job(self.recover, IntervalTrigger(seconds=RECOVERY_INTERVAL_SECONDS, timezone="UTC"),
                               id="recovery", name="spool recovery")
        self.scheduler.add_job(self.holds, IntervalTrigger(seconds=RECOVERY_INTERVAL_SECONDS, timezone="UTC"),
                               id="holds", name="legal hold refresh")
        self.scheduler.add_job(self.verify, parse_schedule(self.config.fixity.schedule), id="fixity",
                               name="fixity check")
        self._schedule_timestamp()

    def _schedule_timestamp(self) -> None:
        if self.config.timestamp.url:
            self.scheduler.add_job(self.timestamp, parse_schedule(self.config.timestamp.schedule), id="timestamp",
                                   name="daily RFC 3161 digest", replace_existing=True)
        elif self.scheduler.get_job("timestamp") is not None:
            self.scheduler.remove_job("timestamp")

    def _reschedule(self, old: Config, new: Config) -> None:
        """The jobs a reloaded config changes; unchanged ones keep their next run."""
        before = {a.name: a for a in old.accounts}
        for name in before.keys() - {a.name for a in new.accounts}:
            self.scheduler.remove_job(f"harvest:{name}")
        self.sharing.configure(new)
        for account in new.accounts:
            trigger = self.sharing.ticks_of(account)
            if account.name not in before:
                self.scheduler.add_job(self.harvest, trigger, args=[account.name], id=f"harvest:{account.name}",
                                       name=f"harvest {account.name}", next_run_time=datetime.now(UTC))
            elif before[account.name].schedule != account.schedule:
                self.scheduler.reschedule_job(f"harvest:{account.name}", trigger=trigger)
        if old.fixity.schedule != new.fixity.schedule:
            self.scheduler.reschedule_job("fixity", trigger=parse_schedule(new.fixity.schedule))
        if old.alerts.check_every != new.alerts.check_every:
            self.scheduler.reschedule_job("alerts", trigger=IntervalTrigger(seconds=new.alerts.check_seconds,
                                                                            timezone="UTC"))
        if old.timestamp != new.timestamp:
            self._schedule_timestamp()

    def reload(self) -> None:
        """Re-read the config (SIGHUP): a valid one replaces the schedule; in-flight harvests go on."""
        self.reload_requested.clear()
        if self.reread is None:
            return
        try:
            config = self.reread()
            if needs := restart_needed(self.config, config):
                raise ConfigError([f"it changes {', '.join(needs)}, which needs a restart "
                                   "(systemctl restart archiver)"], "new config")
        except ConfigError as exc:
            log.error("config reload refused, the running config is kept: %s", exc)
            return
        sdnotify.reloading()
        old = {a.name: a for a in self.config.accounts}
        new = {a.name: a for a in config.accounts}
        previous, self.config = self.config, config
        self.runner = HarvestRunner(config, self.db, self.storage, stop=self.stop, observer=self.metrics,
                                    governors=self.runner.governors)
        self.supervision.reconfigure(config)
        self._reschedule(previous, config)
        added, removed = sorted(new.keys() - old.keys()), sorted(old.keys() - new.keys())
        changed = sorted(n for n in new.keys() & old.keys() if new[n] != old[n])
        log.info("config reloaded: %d account(s); added %s, removed %s, changed %s", len(new),
                 ", ".join(added) or "none", ", ".join(removed) or "none", ", ".join(changed) or "none")
        sdnotify.notify("READY=1", f"STATUS=harvesting {len(new)} account(s)")

    def take_over(self) -> float:
        """Run now the accounts another daemon left mid-tick (stopped, or died: its lease expired);
        the seconds until it is worth looking again."""
        try:
            names, wait = self.sharing.orphans()
        except Exception:  # the index is unreachable: nobody can take anything over meanwhile
            log.exception("could not look for accounts left by other daemons; will retry")
            return self.config.service.lease_seconds / 4
        for name in names:
            job = self.scheduler.get_job(f"harvest:{name}")
            if job is not None:
                job.modify(next_run_time=datetime.now(UTC))
        return wait

    def run_until_stopped(self) -> None:
        self.schedule()
        self.scheduler.start()
        try:
            self.supervision.start(f"harvesting {len(self.config.accounts)} account(s)", self.config.service.address)
            log.info("archiver %s running %d account(s) (index %s, storage %s); stop with SIGTERM or Ctrl-C",
                     __version__, len(self.config.accounts), safe_url(self.db.url), self.storage.url)
            planned_at = orphans_at = time.monotonic()
            while not self.stop.wait(max(0.05, min(1.0, orphans_at - time.monotonic()))):
                if time.monotonic() >= orphans_at:
                    orphans_at = time.monotonic() + self.take_over()
                if self.reload_requested.is_set():
                    self.reload()
                if self.replan.is_set() or time.monotonic() - planned_at >= PLAN_INTERVAL_SECONDS:
                    self.replan.clear()
                    planned_at = time.monotonic()
                    self.follow_plan()
        finally:
            self.supervision.stop()
            self.scheduler.shutdown(wait=True)
            log.info("stopped; everything in flight was sealed")
