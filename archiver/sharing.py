"""Several daemons, one archive: how ``archiver run`` shares the accounts with the others.

Every daemon schedules every account on the shared ticks (archiver/ticks.py); when a tick comes,
each tries to claim the account's lease (archiver/leases.py) and one wins. While its harvest
runs, the winner renews the lease every quarter of ``[service] lease``; if a renewal finds the
lease taken (this daemon stalled past the expiry and another took over), or no renewal got
through for a whole lease period, the harvest is stopped cleanly — what it captured is sealed
and kept — and the other daemon's harvest is the tick's. At the end the lease is released with
the tick recorded as done. A daemon stopped mid-harvest leaves the tick undone and its lease
expired at once; one that dies leaves it to expire. Either way the others notice (``Sharing.
orphans``, polled by the daemon's main loop until the earliest expiry) and one takes the account
over within one lease period.

On SQLite only one daemon may use an index (``sole_daemon``): the lock file beside it refuses a
second one, on the same host, with one line.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError

from archiver.capture.spool import try_lock
from archiver.config import AccountConfig, Config
from archiver.harvest import HarvestOutcome
from archiver.index.db import IndexDB
from archiver.leases import Leases
from archiver.ticks import Ticks

log = logging.getLogger(__name__)
STOP_POLL_SECONDS = 0.2  # how soon a daemon's stop request reaches a harvest's own stop
RETRY_SECONDS = 1.0  # a renewal that failed (index unreachable) is tried again this soon
ORPHAN_MARGIN_SECONDS = 0.05  # look just after a lease's expiry, not just before it


class DaemonRefused(Exception):
    """Another daemon already uses this SQLite index; the message is the one line to print."""


@contextmanager
def sole_daemon(db: IndexDB) -> Iterator[None]:
    """On SQLite, hold ``<index>.daemon.lock`` for the daemon's life; refuse if another holds it."""
    path = db.sqlite_path
    if path is None:  # PostgreSQL: any number of daemons, they share through leases
        yield
        return
    lock = try_lock(path.with_name(path.name + ".daemon.lock"), create=True)
    if lock is None:
        raise DaemonRefused(f"another `archiver run` is already using the SQLite index {path}; one daemon per "
                            "SQLite index: stop the other one, or move the index to PostgreSQL to run several")
    try:
        yield
    finally:
        os.close(lock)


class Sharing:
    """This daemon's part: harvest an account's tick only under its lease, and take over orphans."""

    def __init__(self, db: IndexDB, config: Config, stop: threading.Event):
        self.stop = stop
        self.leases = Leases(db, config.service.lease_seconds)
        self.period = config.service.lease_seconds
        self.ticks: dict[str, Ticks] = {}
        self.harvested: dict[str, datetime] = {}  # the last tick this daemon harvested, by account
        self.kicked: set[tuple[str, str | None, datetime | None]] = set()  # orphans handed over already
        self.configure(config)

    def configure(self, config: Config) -> None:
        """The accounts and their ticks (at start and after a reload)."""
        self.ticks = {a.name: Ticks(a.name, a.schedule) for a in config.accounts}

    def ticks_of(self, account: AccountConfig) -> Ticks:
        return self.ticks.get(account.name) or Ticks(account.name, account.schedule)

    def run(self, account: AccountConfig, harvest: Callable[[threading.Event], HarvestOutcome],
            now: datetime | None = None) -> tuple[HarvestOutcome, datetime] | None:
        """Harvest the tick due now, if this daemon wins its lease: ``harvest`` gets the event that
        stops it (a stop request, or the lease lost). The outcome and the tick; None when the tick
        is done or held elsewhere."""
        tick = self.ticks_of(account).due(now or datetime.now(UTC))
        try:
            claim = self.leases.claim(account.name, tick)
        except SQLAlchemyError as exc:  # the index is down: nobody harvests now; the next tick (or a takeover) will
            log.warning("%s: could not claim the harvest's lease (%s); it runs when the index answers",
                        account.name, str(exc).splitlines()[0])
            return None
        if not claim.granted:
            if not claim.done:
                log.debug("%s: its tick %s is being harvested by %s", account.name, tick.isoformat(), claim.holder)
            return None
        halt, done, lost = threading.Event(), threading.Event(), threading.Event()
        keeper = threading.Thread(target=self._keep, args=(account.name, halt, done, lost),
                                  name=f"lease {account.name}", daemon=True)
        keeper.start()
        outcome = None
        try:
            outcome = harvest(halt)
            return outcome, tick
        finally:
            # Cut short by a stop request: the tick is not done; another daemon may take it over now.
            stopped = self.stop.is_set() and (outcome is None or outcome.status == "interrupted")
            done.set()
            keeper.join()
            self._end(account.name, tick, lost.is_set(), stopped)

    def due_again(self, account: AccountConfig) -> bool:
        """Whether a newer tick than the one this daemon just harvested is due already."""
        done = self.harvested.get(account.name)
        return done is not None and self.ticks_of(account).due(datetime.now(UTC)) > done

    def _end(self, name: str, tick: datetime, lost: bool, stopped: bool) -> None:
        if lost:
            log.warning("%s: the lease was lost to another daemon; this harvest stopped and kept what it had, "
                        "the other daemon harvests the tick", name)
            return
        try:  # stopped mid-harvest: the tick is left for another daemon to take over now
            if not stopped:
                self.harvested[name] = tick
            if not self.leases.release(name, None if stopped else tick):
                log.warning("%s: the lease had passed to another daemon by the end of this harvest", name)
        except SQLAlchemyError as exc:  # the lease expires by itself; another daemon may then take over
            log.warning("%s: could not release the lease (%s); it expires in %gs", name, exc, self.period)

    def _keep(self, name: str, halt: threading.Event, done: threading.Event, lost: threading.Event) -> None:
        """Renew the lease every quarter period while the harvest runs; stop the harvest if it is lost."""
        every = self.period / 4
        good_until = time.monotonic() + self.period
        renew_at = time.monotonic() + every
        while not done.wait(min(STOP_POLL_SECONDS, every)):
            if self.stop.is_set():
                halt.set()
            if time.monotonic() < renew_at:
                continue
            try:
                kept = self.leases.renew(name)
            except SQLAlchemyError as exc:
                log.warning("%s: could not renew the lease (%s); trying again", name, exc)
                kept = None
            if kept:
                good_until, renew_at = time.monotonic() + self.period, time.monotonic() + every
            elif kept is False or time.monotonic() >= good_until:
                lost.set()
                halt.set()
                return
            else:
                renew_at = time.monotonic() + RETRY_SECONDS

    def orphans(self) -> tuple[list[str], float]:
        """Accounts whose due tick another daemon started and left (stopped, or dead: its lease has
        expired), each named once; and the seconds until the next look is worth it (the earliest
        expiry of the leases others hold now, at most a quarter period away)."""
        leases, now = self.leases.others(set(self.ticks))
        wait = self.period / 4
        found = []
        for lease in leases:
            if lease.expires_at > now:
                wait = min(wait, (lease.expires_at - now).total_seconds() + ORPHAN_MARGIN_SECONDS)
                continue
            due = self.ticks[lease.account].due(now)
            key = (lease.account, lease.holder, lease.tick)
            if (lease.tick is None or lease.tick < due) and key not in self.kicked:
                self.kicked.add(key)
                found.append(lease.account)
                log.debug("%s: %s left the tick of %s unharvested (its lease expired): trying to take it over",
                         lease.account, lease.holder, due.isoformat(timespec="seconds"))
        return found, wait


__all__ = ["DaemonRefused", "Sharing", "sole_daemon"]
