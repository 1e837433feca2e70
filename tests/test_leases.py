"""Several hosts, one archive: ``archiver run`` daemons sharing one index split the accounts.

Daemons are real processes (``archiver run``), each with its own data and spool folder, on one
PostgreSQL index and one storage folder; the feeds are the RSS fake over loopback, which counts
every request. Every scheduled tick of every account is harvested exactly once; a daemon killed
mid-harvest has the account taken over by another within the lease period; nothing is lost or
doubled in the index. On SQLite one daemon per index, the second refused in one line.
"""

from __future__ import annotations

import doctest
import itertools
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

import archiver.ticks
from archiver.index.db import open_index
from archiver.index.models import Account, Harvest, Item, Version
from archiver.leases import HarvestLease, Leases
from archiver.ticks import Ticks
from conftest import ROOT, Workspace
from connectors.rss.fakeserver import FakeFeed, FakeFeedServer
from service_helpers import wait_for

SCHEDULE, INTERVAL = "4s", 4.0
LEASE = 2.0
HARVEST_LINE = re.compile(r"harvest (\S+): (\w+) — .*; tick (\S+)$", re.MULTILINE)


class Daemon:
    """One ``archiver run`` process with its own data folder; its log goes to a file."""

    def __init__(self, workspace: Workspace):
        self.workspace = workspace
        self.log = workspace.root / "daemon.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Daemon:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "archiver", "--config",
                                             str(self.workspace.config_path), "run"], cwd=ROOT,
                                            stdout=subprocess.DEVNULL, stderr=log,
                                            env=os.environ | {"PYTHONPATH": str(ROOT)})
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def harvested(self) -> list[tuple[str, str, datetime]]:
        """Harvests this daemon logged: (account, status, tick)."""
        return [(m[1], m[2], datetime.fromisoformat(m[3])) for m in
                HARVEST_LINE.finditer(self.log.read_text(errors="replace"))]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait(self) -> int:
        assert self.process is not None
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise


def _daemons(root: Path, count: int, index_url: str, feeds: dict[str, str], lease: str = f"{LEASE:g}s",
             sweeping: frozenset[str] = frozenset()) -> list[Daemon]:
    """``count`` daemon configs: the same index, accounts and storage folder; each its own data folder.
    Accounts in ``sweeping`` re-list their whole history at every harvest (not only the first page)."""
    daemons = []
    for number in range(count):
        workspace = Workspace(root / f"host{number}")
        workspace.root.mkdir()
        workspace.database_url = index_url
        workspace.storage_lines = f'url = "file://{root / "warcs"}"\n'
        workspace.capture["media"] = False
        for name, url in feeds.items():
            workspace.account(name, url, schedule=SCHEDULE, **({"full_sweep_every": "1s"} if name in sweeping else {}))
        workspace.write(f'[service]\nlease = "{lease}"\nmin_schedule = "1s"\n')
        daemons.append(Daemon(workspace))
    return daemons


def _stop_all(daemons: list[Daemon]) -> None:
    for daemon in daemons:
        daemon.stop()
    for daemon in daemons:
        if daemon.process is not None and daemon.process.returncode is None:
            daemon.wait()


def _first_pages(server: FakeFeedServer, path: str) -> int:
    """Requests for the first page of a feed: one per harvest of it."""
    return sum(1 for r in server.requests_for(path) if "page=" not in r.path or "page=1" in r.path)


def test_daemons_share_the_ticks_and_take_over_a_killed_ones_accounts(tmp_path: Path, postgres_url: str,
                                                                        feed_server: FakeFeedServer) -> None:
    feeds = {f"feed{n}": f"/feed{n}.atom" for n in range(5)}
    fakes = {name: feed_server.add_feed(path, FakeFeed.synthetic(entries=20, seed=n))
             for n, (name, path) in enumerate(feeds.items())}
    slow = feed_server.add_feed("/slow.atom", FakeFeed.synthetic(entries=40, page_size=10, seed=9))
    slow.delay_seconds = 0.3  # four pages: a harvest long enough to be killed in
    fakes["slow"], feeds["slow"] = slow, "/slow.atom"
    # The slow feed's entries are years old: only a full sweep re-lists its four pages every time.
    daemons = _daemons(tmp_path, 3, postgres_url, {name: feed_server.url(path) for name, path in feeds.items()},
                       sweeping=frozenset({"slow"}))
    try:
        for daemon in daemons:  # three first starts at once on a fresh database
            daemon.start()
        time.sleep(3 * INTERVAL)
        slow.add_new(1)  # a change: the next harvest gets the feed again (not a 304) and sweeps its pages
        # Kill the daemon harvesting the slow feed, mid-harvest.
        leases = Leases(open_index(postgres_url), LEASE)

        def slow_holder() -> str | None:  # past its first page: the harvest has a WARC in its spool
            others, now = leases.others({"slow"})
            held = [lease.holder for lease in others if lease.expires_at > now]
            requests = feed_server.requests_for("/slow.atom")
            return held[0] if held and requests and "page=3" in requests[-1].path else None

        holder = wait_for(slow_holder, timeout=3 * INTERVAL, what="a daemon harvesting the slow feed")
        victim = next(d for d in daemons if f":{d.pid}:" in holder)
        before = _first_pages(feed_server, "/slow.atom")
        os.kill(victim.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        victim.wait()
        wait_for(lambda: _first_pages(feed_server, "/slow.atom") > before, timeout=3 * LEASE,
                 what="another daemon to take the slow feed over")
        takeover = time.monotonic() - killed_at
        print(f"\ntakeover after SIGKILL: {takeover:.2f}s (lease {LEASE:g}s)")
        assert takeover <= LEASE + 0.5, f"took {takeover:.2f}s to take over, the lease is {LEASE:g}s"
        time.sleep(2 * INTERVAL)
        # The killed daemon comes back: it recovers what it left in its spool and rejoins.
        restarted = Daemon(victim.workspace).start()
        daemons.append(restarted)
        wait_for(lambda: restarted.log.read_text().count("running 6 account") == 2, timeout=30,
                 what="the killed daemon to start again")
        time.sleep(INTERVAL)
    finally:
        _stop_all(daemons)
    harvested = {daemon.workspace.root.name: daemon.harvested() for daemon in daemons}  # (restarted: one log)
    split = {host: dict(Counter(name for name, _, _ in done)) for host, done in harvested.items()}
    print("ticks harvested by daemon:", split)
    assert sum(1 for d in split.values() if d) >= 2  # the accounts were shared, not all taken by one

    db = open_index(postgres_url)
    with db.session() as session:
        for name, fake in fakes.items():
            ticks = sorted(tick for done in harvested.values() for account, status, tick in done
                           if account == name and status != "interrupted")  # (the final stop cuts some short)
            assert len(ticks) >= 5, (name, ticks)
            assert len(set(ticks)) == len(ticks), f"{name}: a tick harvested twice: {ticks}"
            steps = {(b - a).total_seconds() for a, b in itertools.pairwise(ticks)}
            assert steps == {INTERVAL}, f"{name}: a tick skipped: {ticks}"
            harvests = session.scalar(select(func.count()).select_from(Harvest).join(Account)
                                      .where(Account.name == name))
            # Every request at the fake belongs to a harvest in the index (the killed ones included).
            assert _first_pages(feed_server, feeds[name]) == harvests, name
            items = session.execute(select(Item.platform_id, func.count(Version.id)).join(Account)
                                    .join(Version, Version.item_id == Item.id)
                                    .where(Account.name == name, Item.kind == "entry")
                                    .group_by(Item.platform_id)).all()
            assert {platform_id for platform_id, _ in items} == {entry.id for entry in fake.entries}, name
            assert all(versions == 1 for _, versions in items), name  # nothing doubled
        print("harvests by status:", dict(Counter(session.scalars(select(Harvest.status)))))
        # The killed harvest was concluded from its spool when its daemon started again.
        assert session.scalars(select(Harvest.status).join(Account).where(Account.name == "slow")
                               .order_by(Harvest.started_at)).all().count("running") == 0
        assert not session.scalars(select(HarvestLease).where(
            HarvestLease.expires_at > datetime.now(UTC) + timedelta(seconds=LEASE))).all()
    db.dispose()
    for daemon in daemons:
        assert daemon.process is not None and daemon.process.returncode in (0, -signal.SIGKILL)
        assert "Traceback" not in daemon.log.read_text(errors="replace"), daemon.log.read_text()


def test_a_daemon_that_loses_its_lease_stops_that_harvest_and_keeps_what_it_had(
        tmp_path: Path, postgres_url: str, feed_server: FakeFeedServer) -> None:
    slow = feed_server.add_feed("/slow.atom", FakeFeed.synthetic(entries=60, page_size=10, seed=3))
    slow.delay_seconds = 0.4
    daemons = _daemons(tmp_path, 2, postgres_url, {"slow": feed_server.url("/slow.atom")})
    leases = Leases(open_index(postgres_url), LEASE)
    try:
        for daemon in daemons:
            daemon.start()

        def holder() -> str | None:
            others, now = leases.others({"slow"})
            return next((lease.holder for lease in others if lease.expires_at > now), None)

        stalled = next(d for d in daemons if f":{d.pid}:" in wait_for(holder, timeout=3 * INTERVAL))
        os.kill(stalled.pid, signal.SIGSTOP)  # a host that hangs past its lease
        try:
            wait_for(lambda: (h := holder()) and f":{stalled.pid}:" not in h, timeout=3 * LEASE,
                     what="the other daemon to take the lease")
        finally:
            os.kill(stalled.pid, signal.SIGCONT)
        wait_for(lambda: "the lease was lost" in stalled.log.read_text(), timeout=3 * LEASE,
                 what="the stalled daemon to notice")
        taker = next(d for d in daemons if d is not stalled)
        wait_for(lambda: any(a == "slow" and s == "succeeded" for a, s, _ in taker.harvested()), timeout=30,
                 what="the other daemon's harvest of the tick")
    finally:
        _stop_all(daemons)
    log = stalled.log.read_text()
    assert re.search(r"harvest slow: interrupted", log), log  # stopped cleanly, sealed what it had
    assert all(d.process is not None and d.process.returncode == 0 for d in daemons)
    db = open_index(postgres_url)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Harvest).where(Harvest.status == "running")) == 0
        assert set(session.scalars(select(Item.platform_id).where(Item.kind == "entry"))) == \
            {entry.id for entry in slow.entries}
    db.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_first_starts_at_once_on_a_fresh_index_do_not_collide(tmp_path: Path, backend: str,
                                                              request: pytest.FixtureRequest) -> None:
    url = f"sqlite:///{tmp_path / 'index.sqlite'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    configs = []
    for number in range(2):
        workspace = Workspace(tmp_path / f"host{number}")
        workspace.root.mkdir()
        workspace.database_url = url
        workspace.account("news", "http://127.0.0.1:9/feed.atom")
        configs.append(workspace.write())
    processes = [subprocess.Popen([sys.executable, "-m", "archiver", "--config", str(config), "accounts", "--json"],
                                  cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=os.environ | {"PYTHONPATH": str(ROOT)}) for config in configs]
    results = [process.communicate(timeout=60) for process in processes]
    for process, (_, err) in zip(processes, results, strict=True):
        assert process.returncode == 0, err
        assert "already exists" not in err


def test_a_second_daemon_on_one_sqlite_index_is_refused_in_one_line(workspace: Workspace,
                                                                    feed_server: FakeFeedServer) -> None:
    feed_server.add_feed("/news.atom", FakeFeed.synthetic(entries=5))
    workspace.capture["media"] = False
    workspace.account("news", feed_server.url("/news.atom"), schedule="1h")
    workspace.write()
    first = Daemon(workspace).start()
    try:
        wait_for(lambda: "running 1 account" in first.log.read_text(), timeout=30, what="the first daemon")
        second = subprocess.run([sys.executable, "-m", "archiver", "--config", str(workspace.config_path), "run"],
                                cwd=ROOT, capture_output=True, text=True, timeout=60,
                                env=os.environ | {"PYTHONPATH": str(ROOT)})
    finally:
        first.stop()
    assert first.wait() == 0
    assert second.returncode == 1
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and "one daemon per SQLite index" in lines[0] and "index.sqlite" in lines[0], lines
    assert len(feed_server.requests_for("/news.atom")) == 1  # only the first daemon harvested


@pytest.mark.parametrize("value", ['"soon"', '"0s"', "-5"])
def test_a_bad_lease_is_a_one_line_config_error(workspace: Workspace, value: str) -> None:
    workspace.account("news", "http://127.0.0.1:9/feed.atom")
    workspace.write(f"[service]\nlease = {value}\n")
    result = workspace.cli("run")
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "service.lease" in lines[0], lines


def test_a_tick_is_claimed_once_and_a_dead_holders_lease_expires(postgres_url: str, workspace: Workspace) -> None:
    db = open_index(postgres_url)
    first, second = Leases(db, 0.5), Leases(db, 0.5)
    tick = Ticks("news", "1h").due(datetime.now(UTC))
    claims = [first.claim("news", tick), second.claim("news", tick)]  # the account's first claim: an INSERT each
    assert [c.granted for c in claims] == [True, False] and claims[1].holder == first.holder
    workspace.database_url = postgres_url
    workspace.account("news", "http://127.0.0.1:9/feed.atom", schedule="1h")
    shown = workspace.cli("accounts", "--json").json()[0]
    assert shown["harvesting_on"] == first.holder  # `archiver accounts` says who harvests it now
    assert first.renew("news") and not second.renew("news")
    time.sleep(0.6)  # the first holder "died": its lease expires, the tick still undone
    assert second.claim("news", tick).granted
    assert not first.renew("news")  # lost: its harvest must stop
    assert second.release("news", tick)
    later = first.claim("news", tick)
    assert not later.granted and later.done  # harvested already: nobody harvests it again
    assert first.claim("news", Ticks("news", "1h").after(tick)).granted  # the next tick is free
    db.dispose()


def test_ticks_are_the_same_for_every_daemon_whenever_it_started() -> None:
    at = datetime(2026, 12, 5, 10, 0, 7, tzinfo=UTC)
    ticks = Ticks("city-news", "15m")
    due = ticks.due(at)
    assert due <= at < ticks.after(due) and (ticks.after(due) - due) == timedelta(minutes=15)
    assert Ticks("city-news", "15m").due(at) == due  # another daemon, another start: the same tick
    assert Ticks("city-news", "15m").get_next_fire_time(due, at) == ticks.after(due)
    assert Ticks("other", "15m").offset != ticks.offset or Ticks("third", "15m").offset != ticks.offset
    cron = Ticks("city-news", "*/5 * * * *")
    assert cron.due(at) == datetime(2026, 12, 5, 10, 0, tzinfo=UTC) and cron.after(at).minute == 5
    result = doctest.testmod(archiver.ticks)
    assert result.attempted > 0 and result.failed == 0
