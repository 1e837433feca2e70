"""A simulated city under churn and faults: nothing observable is missed, nothing falsely deleted."""

from __future__ import annotations

from pathlib import Path

from archiver.simulate.platforms import CityNewsFeed
from archiver.simulate.run import Simulation
from archiver.simulate.scenario import Rates, scenario
from conftest import run_cli


def test_two_simulated_days_with_faults(tmp_path: Path) -> None:
    rates = Rates(posts=8, edits=4, post_deletions=2)
    plan = scenario(5, 2.0, rates, kinds=CityNewsFeed.kinds, faults=("5xx", "truncated", "token", "permission"))
    assert any(e.kind == "delete_post" for e in plan.events) and any(e.kind == "edit" for e in plan.events)
    [report] = Simulation(tmp_path, [CityNewsFeed(seed=5, history=10)], plan).run()
    measured = report.as_dict()
    assert measured["recall_of_observable"] == 1.0, report.missed
    assert measured["false_deletions"] == 0
    assert measured["unchanged_versions_added"] == 0
    assert report.failed_harvests > 0  # the faults really happened
    assert measured["delay_worst_minutes"] is not None and measured["delay_median_minutes"] <= 60
    config = str(tmp_path / "archiver.toml")
    deleted = run_cli("--config", config, "search", "--state", "deleted", "--json").json()
    assert deleted["total"] == sum(1 for e in plan.events if e.kind == "delete_post")
    assert run_cli("--config", config, "audit", "verify").code == 0


def test_demo_runs_offline_and_refuses_a_used_folder(tmp_path: Path) -> None:
    result = run_cli("demo", "--dir", str(tmp_path / "demo"), "--days", "1")
    assert result.code == 0, result.err
    assert "versions captured; 0 false deletions" in result.out and "search --state deleted" in result.out
    again = run_cli("demo", "--dir", str(tmp_path / "demo"))
    assert again.code == 1 and "is not empty" in again.err
