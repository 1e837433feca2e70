"""``archiver run``: every account on its schedule, in the foreground, until SIGTERM or Ctrl-C.

Each account is harvested at start and then on its ``schedule``; one account never runs twice
at once, and a run that is late (the machine slept, a harvest overran) runs once, not many
times. Recovery of anything a failed upload left in the spool repeats every few minutes, so
WARCs reach storage as soon as it is back. On a stop request, harvests in flight finish the
page they are on, seal and store what they have, and the scheduler waits for them.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from archiver.config import AccountConfig, Config
from archiver.harvest import HarvestRunner
from archiver.index.db import IndexDB
from archiver.recovery import Recovery
from archiver.schedule import parse_schedule
from storage.base import Storage

log = logging.getLogger(__name__)
RECOVERY_INTERVAL_SECONDS = 300
MAX_PARALLEL_HARVESTS = 4


class Daemon:
    def __init__(self, config: Config, db: IndexDB, storage: Storage, stop: threading.Event):
        self.config = config
        self.db = db
        self.storage = storage
        self.stop = stop
        self.runner = HarvestRunner(config, db, storage, stop=stop)
        workers = max(1, min(MAX_PARALLEL_HARVESTS, len(config.accounts)))
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(workers)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
            timezone="UTC",
        )
        self.completed: list[str] = []

    def harvest(self, account: AccountConfig) -> None:
        if self.stop.is_set():
            return
        try:
            outcome = self.runner.run(account)
        except Exception:  # one account's bug must not stop the others' schedules
            log.exception("harvest of %s crashed; its WARCs are recovered on the next pass", account.name)
            return
        self.completed.append(account.name)
        message = (f"{account.name}: {outcome.status}, {outcome.pages} pages, {outcome.observations} items, "
                   f"{outcome.new_versions} new versions")
        if outcome.error:
            log.warning("%s — %s", message, outcome.error)
        else:
            log.info("%s", message)

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
        from archiver.retention.fixity import choose, verify

        sample = self.config.fixity.sample or None
        try:
            report = verify(self.db, self.storage, choose(self.db, sample=sample),
                            f"scheduled sample {sample}" if sample else "scheduled all")
        except Exception:
            log.exception("scheduled fixity check failed; will retry at the next run")
            return
        for mismatch in report.mismatches:
            log.error("FIXITY MISMATCH %s", mismatch)
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

    def schedule(self) -> None:
        start = datetime.now(UTC)
        for account in self.config.accounts:
            self.scheduler.add_job(self.harvest, parse_schedule(account.schedule), args=[account],
                                   id=f"harvest:{account.name}", name=f"harvest {account.name}",
                                   next_run_time=start)
        self.scheduler.add_job(self.recover, IntervalTrigger(seconds=RECOVERY_INTERVAL_SECONDS, timezone="UTC"),
                               id="recovery", name="spool recovery")
        self.scheduler.add_job(self.holds, IntervalTrigger(seconds=RECOVERY_INTERVAL_SECONDS, timezone="UTC"),
                               id="holds", name="legal hold refresh")
        self.scheduler.add_job(self.verify, parse_schedule(self.config.fixity.schedule), id="fixity",
                               name="fixity check")
        if self.config.timestamp.url:
            self.scheduler.add_job(self.timestamp, parse_schedule(self.config.timestamp.schedule), id="timestamp",
                                   name="daily RFC 3161 digest")

    def run_until_stopped(self) -> None:
        self.schedule()
        self.scheduler.start()
        log.info("running %d account(s); stop with SIGTERM or Ctrl-C", len(self.config.accounts))
        try:
            while not self.stop.wait(1.0):
                pass
        finally:
            self.scheduler.shutdown(wait=True)
            log.info("stopped; everything in flight was sealed")
