"""One governor per credential: accounts on one key share its budget (in one process and through
the index), never pass it, pace by each other's rate-limit headers, and the daemon stretches their
schedules instead of running the budget dry — shown by ``archiver accounts``, with no secret."""

from __future__ import annotations

import doctest
import importlib
import logging
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from archiver.daemon import Daemon
from archiver.governor import Governors
from archiver.index.db import IndexDB, open_index
from archiver.index.ledger import ensure_account
from archiver.index.models import Harvest
from archiver.quota import DAILY_PACIFIC, Budget, QuotaSpec
from archiver.runplan import plan
from archiver.service.metrics import ServiceMetrics
from archiver.ticks import Ticks
from conftest import Workspace
from connectors.graph.throttle import Throttle
from connectors.x.fakeaccount import FakeXAccount
from connectors.youtube.fakechannel import FakeChannel
from storage.local import LocalStorage
from xyt_helpers import API_KEY, BEARER, _environment, x_account, youtube_account


def test_two_accounts_on_one_key_share_one_budget_never_exceeded(workspace: Workspace, index_url: str) -> None:
    workspace.database_url = index_url
    first, second = (FakeChannel.synthetic(videos=12, comments=150, seed=s, days=20) for s in (11, 12))
    with youtube_account(workspace, first, name="yt-a", daily_units=25) as server_a, \
            youtube_account(workspace, second, name="yt-b", daily_units=25) as server_b:
        workspace.write()
        outcomes = workspace.cli("harvest", "--json").json()
        assert server_a.units + server_b.units == 25  # the two together, to the unit, and not one more
        assert any(o["status"] == "failed" and "budget" in o["error"] for o in outcomes)
        rows = workspace.cli("accounts", "--json").json()
        assert [r["credential"] for r in rows] == ["youtube:TEST_YT_KEY"] * 2
        assert [r["budget"]["used"] for r in rows] == [25, 25] and rows[0]["budget"]["remaining"] == 0
        calls = server_a.units + server_b.units
        assert workspace.cli("harvest").code != 0 and server_a.units + server_b.units == calls
        table = workspace.cli("accounts")
    for text in (table.out, table.err, str(rows)):
        assert API_KEY not in text
    assert "youtube:TEST_YT_KEY" in table.out and "25/25 units" in table.out


def test_two_processes_on_one_index_share_the_count(index_url: str) -> None:
    """Two daemons (two connections, several threads each) charging one credential stop at its limit."""
    databases = [open_index(index_url), open_index(index_url)]
    spec = QuotaSpec("youtube:SHARED_KEY", 700, DAILY_PACIFIC, "units")
    granted = [0] * 4

    def spend(slot: int) -> None:
        budget = Budget(databases[slot % 2], spec)
        while budget.charge(3):
            granted[slot] += 3
        budget.release()

    workers = [threading.Thread(target=spend, args=(slot,)) for slot in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    status = Budget(databases[0], spec).status()
    assert sum(granted) == status.used <= 700 and status.used > 700 - 3 * 4
    for db in databases:
        db.dispose()


def test_accounts_on_one_token_share_its_rate_limit_windows(workspace: Workspace) -> None:
    """Meta's usage seen by one account's harvest paces the next call of another on the same token;
    a different token is not slowed."""
    lines = {"a": "CITY_FB_TOKEN", "b": "CITY_FB_TOKEN", "c": "OTHER_FB_TOKEN"}
    for name, variable in lines.items():
        workspace.accounts.append(f'name = "{name}"\nplatform = "facebook"\nid = "1000{len(name)}"\n'
                                  f'token_env = "{variable}"')
    workspace.write()
    config = workspace.config
    governors = Governors(workspace.index())
    found = {a.name: governors.of(config, a) for a in config.accounts}
    assert {name: g.credential for name, (g, _) in found.items()} == \
        {"a": "meta:CITY_FB_TOKEN", "b": "meta:CITY_FB_TOKEN", "c": "meta:OTHER_FB_TOKEN"}
    slept: dict[str, list[float]] = {"a": [], "b": [], "c": []}
    throttles = {name: Throttle(75, 4, sleep=slept[name].append, windows=governor.windows)
                 for name, (governor, _) in found.items()}
    throttles["a"].observe({"X-App-Usage": '{"call_count":95,"total_cputime":10,"total_time":20}'})
    for throttle in throttles.values():
        throttle.pace()
    assert slept["a"] == slept["b"] == [pytest.approx(3.2)] and slept["c"] == []
    governors.db.dispose()


def test_x_accounts_on_one_bearer_token_wait_for_the_window_another_spent(workspace: Workspace) -> None:
    """X's windows are per app: once one account's answers say a route's window is spent, the next
    account on the same bearer token waits for its reset instead of being refused."""
    spender, other = FakeXAccount.synthetic(posts=5, replies=4, seed=1, days=3), \
        FakeXAccount.synthetic(posts=5, replies=4, seed=2, days=3)
    with x_account(workspace, spender, name="x-a", page_size=10) as tight, \
            x_account(workspace, other, name="x-b", page_size=10) as roomy:
        tight.rate_limit, tight.window_seconds = 1, 3.0  # every route: one call, then spent for 3 s
        workspace.write()
        result = workspace.cli("harvest", "--json")
        assert [o["status"] for o in result.json()] == ["succeeded", "succeeded"], result.err
        assert not any(c.status == 429 for c in tight.api_calls("/2/") + roomy.api_calls("/2/"))
        assert "x-b: waiting until" in result.err and "x-rate-limit-remaining is 0" in result.err
    assert BEARER not in result.err


def test_the_daemon_stretches_the_schedule_instead_of_exceeding_and_accounts_shows_it(
        workspace: Workspace, caplog: pytest.LogCaptureFixture) -> None:
    first, second = (FakeChannel.synthetic(videos=4, comments=20, seed=s, days=5) for s in (21, 22))
    workspace.capture["media"] = False
    _clear_of_the_youtube_reset()
    with youtube_account(workspace, first, name="yt-a", daily_units=60, schedule="1m") as server_a, \
            youtube_account(workspace, second, name="yt-b", daily_units=60, schedule="1m") as server_b:
        workspace.write()
        db = workspace.index()
        stop = threading.Event()
        daemon = Daemon(workspace.config, db, LocalStorage(workspace.root / "data" / "warcs"), stop)
        runner = threading.Thread(target=daemon.run_until_stopped)
        with caplog.at_level(logging.INFO, logger="archiver.daemon"):
            runner.start()
            try:
                deadline = time.monotonic() + 30
                while len(daemon.completed) < 2 and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert sorted(daemon.completed) == ["yt-a", "yt-b"]
                spent = server_a.units + server_b.units
                jobs = {name: daemon.scheduler.get_job(f"harvest:{name}") for name in ("yt-a", "yt-b")}

                def stretched() -> bool:  # the main loop applies the plan within a second of a harvest
                    later = datetime.now(UTC) + timedelta(minutes=2)
                    return all(daemon.scheduler.get_job(j.id).next_run_time > later for j in jobs.values())

                deadline = time.monotonic() + 10
                while not stretched() and time.monotonic() < deadline:
                    time.sleep(0.1)
                assert stretched()
                jobs = {name: daemon.scheduler.get_job(f"harvest:{name}") for name in ("yt-a", "yt-b")}
                rows = {r["name"]: r for r in workspace.cli("accounts", "--json").json()}
                for name, job in jobs.items():
                    shown = datetime.fromisoformat(rows[name]["next_run"])
                    assert abs((shown - job.next_run_time).total_seconds()) <= 5, (shown, job.next_run_time)
                    assert rows[name]["per_run"] > 0 and (rows[name]["stretch"] is None or rows[name]["stretch"] > 1)
                    assert rows[name]["budget"]["projected"] > 60 and "spaced" in rows[name]["schedule_note"]
                # A run due now (the schedule fires) is deferred by the plan, and spends nothing.
                jobs["yt-a"].modify(next_run_time=datetime.now(UTC))
                deadline = time.monotonic() + 10
                while not daemon.deferred and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert daemon.deferred == ["yt-a"] and server_a.units + server_b.units == spent <= 60
                deadline = time.monotonic() + 10
                while daemon.scheduler.get_job("harvest:yt-a").next_run_time < datetime.now(UTC) + \
                        timedelta(minutes=2) and time.monotonic() < deadline:
                    time.sleep(0.1)
                assert daemon.scheduler.get_job("harvest:yt-a").next_run_time > datetime.now(UTC) + timedelta(minutes=2)
                table = workspace.cli("accounts").out
            finally:
                stop.set()
                runner.join(timeout=20)
                db.dispose()
    assert not runner.is_alive()
    lines = [r.getMessage() for r in caplog.records if "instead of on its schedule" in r.getMessage()]
    assert lines and all("youtube:TEST_YT_KEY" in line and "spaced" in line for line in lines)
    assert "schedule stretched:" in table and "youtube:TEST_YT_KEY" in table
    assert API_KEY not in table + "\n".join(lines)


def _midday() -> datetime:
    """Noon of today's YouTube budget day: far from its reset, so a plan checked then does not
    depend on the hour the suite runs (near Pacific midnight a run on schedule falls after the reset)."""
    start, end = DAILY_PACIFIC.bounds(datetime.now(UTC))
    return start + (end - start) / 2


def _clear_of_the_youtube_reset(margin: timedelta = timedelta(minutes=5)) -> None:
    """Wait out a Pacific midnight due within ``margin``: a daemon checked against the real clock
    would see its budget renew in the middle of the test."""
    now = datetime.now(UTC)
    left = DAILY_PACIFIC.bounds(now)[1] - now
    if left < margin:
        time.sleep(left.total_seconds() + 1)


def _planned_accounts(workspace: Workspace, daily_units: int, costs: dict[str, list[int]],
                      at: datetime) -> IndexDB:
    """Two channels on one key, hourly, whose recent runs cost ``costs`` (recorded as harvests do)."""
    for n, name in enumerate(costs):
        workspace.accounts.append(f'name = "{name}"\nplatform = "youtube"\nid = "UC{str(n) * 22}"\n'
                                  f'api_key_env = "PLAN_KEY"\ndaily_units = {daily_units}\nschedule = "1h"')
    workspace.write()
    db = workspace.index()
    start = at - timedelta(minutes=30)
    with db.session() as session:
        for name, spent_by_run in costs.items():
            account = ensure_account(session, name, "youtube", name)
            for back, used in enumerate(spent_by_run):
                session.add(Harvest(uid=f"{name}-{back}", account_id=account.id, status="succeeded",
                                    started_at=start - timedelta(hours=back), coverage={"budget": {
                                        "credential": "youtube:PLAN_KEY", "unit": "units", "used": used}}))
    return db


def test_accounts_giving_one_key_different_budgets_keep_the_smallest_and_check_config_says_so(
        workspace: Workspace) -> None:
    for n, units in enumerate((300, 100)):
        workspace.accounts.append(f'name = "yt-{n}"\nplatform = "youtube"\nid = "UC{str(n) * 22}"\n'
                                  f'api_key_env = "TEST_YT_KEY"\ndaily_units = {units}')
    with _environment():
        result = workspace.cli("check-config", "--offline")
        rows = workspace.cli("accounts", "--json").json()
    assert result.code == 0, result.err
    assert "youtube:TEST_YT_KEY: the accounts on this credential give different budgets (100, 300); the smallest " \
        "(100) is kept" in result.err
    assert [row["budget"]["limit"] for row in rows] == [100, 100] and API_KEY not in result.err + str(rows)


def _spend(db: IndexDB, limit: int, units: int, at: datetime) -> None:
    budget = Budget(db, QuotaSpec("youtube:PLAN_KEY", limit, DAILY_PACIFIC, "units"), clock=lambda: at)
    assert budget.charge(units)
    budget.release()


def test_the_plan_keeps_schedules_that_fit_and_stretches_those_that_do_not(workspace: Workspace) -> None:
    now = _midday()
    db = _planned_accounts(workspace, 10_000_000, {"a": [10, 30], "b": [5]}, now)
    plans = plan(db, workspace.config, now)
    last = plans["a"].last_run
    assert plans["a"].per_run == 20 and plans["b"].per_run == 5 and not plans["a"].stretched
    # On schedule: the account's next shared tick after its last run (archiver/ticks.py), now if it has passed.
    assert plans["a"].next_run == max(Ticks("a", "1h").after(last), now) and plans["a"].credential == "youtube:PLAN_KEY"
    assert last < plans["a"].next_run <= last + timedelta(hours=1)
    _spend(db, 10_000_000, 70, now)
    assert plan(db, workspace.config, now)["b"].budget.used == 70
    db.dispose()

    workspace.accounts.clear()
    workspace.database_url = f"sqlite:///{workspace.root / 'tight.sqlite'}"
    tight = _planned_accounts(workspace, 75, {"a": [10, 30], "b": [5]}, now)  # a fresh index: 5 units left after
    _spend(tight, 75, 70, now)
    plans = plan(tight, workspace.config, now)
    for run in plans.values():
        on_schedule = run.last_run + timedelta(hours=1)
        assert run.stretched and run.stretch > 1 and run.projected > 75
        expected = min(run.last_run + timedelta(hours=run.stretch), run.budget.resets_at)
        assert abs((run.next_run - expected).total_seconds()) < 1 and run.next_run > on_schedule
    _spend(tight, 75, 5, now)
    spent = plan(tight, workspace.config, now)
    assert all(r.next_run == r.budget.resets_at and "spent" in str(r.reason) for r in spent.values())
    # The service's metrics plan at the real hour, in the same budget day.
    scraped = {(sample.name, tuple(sorted(sample.labels.items()))): sample.value for family in
               text_string_to_metric_families(generate_latest(ServiceMetrics(workspace.config, tight).registry)
                                              .decode()) for sample in family.samples}
    live = plan(tight, workspace.config)
    key = (("credential", "youtube:PLAN_KEY"), ("unit", "units"))
    assert scraped[("archiver_budget_used", key)] == 75 and scraped[("archiver_budget_limit", key)] == 75
    assert scraped[("archiver_budget_projected", key)] == live["a"].projected
    assert scraped[("archiver_next_run_timestamp_seconds", (("account", "b"),))] == spent["b"].next_run.timestamp()
    tight.dispose()


@pytest.mark.parametrize("name", ["connectors.windows", "archiver.runplan", "archiver.quota"])
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
