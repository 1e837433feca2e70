"""A simulated city Page under churn and faults: every observable version caught, nothing falsely
deleted, counts never making versions."""

from __future__ import annotations

from pathlib import Path

from archiver.simulate.platforms import FacebookPage
from archiver.simulate.run import Simulation
from archiver.simulate.scenario import Rates, scenario
from conftest import run_cli


def test_two_simulated_days_of_a_facebook_page_with_faults(tmp_path: Path) -> None:
    rates = Rates(posts=6, comments=120, edits=8, hides=6, unhides=3, comment_deletions=6, post_deletions=2)
    plan = scenario(7, 2.0, rates, kinds=FacebookPage.kinds)
    kinds = {e.kind for e in plan.events}
    assert {"hide", "unhide", "delete_comment", "delete_post", "edit"} <= kinds
    [report] = Simulation(tmp_path, [FacebookPage(seed=7)], plan).run()
    measured = report.as_dict()
    assert measured["recall_of_observable"] == 1.0, report.missed
    assert measured["false_deletions"] == 0
    assert measured["unchanged_versions_added"] == 0
    assert report.failed_harvests > 0  # the faults happened
    config = str(tmp_path / "archiver.toml")
    coverage = run_cli("--config", config, "coverage", "city-facebook", "--json").json()
    causes = {c["cause"] for span in coverage["spans"] for c in span["causes"]}
    assert {"token", "outage"} <= causes <= {"token", "permission", "outage", "listing", "idle"}
    deleted = run_cli("--config", config, "search", "--state", "deleted", "--json").json()
    assert deleted["total"] >= sum(1 for e in plan.events if e.kind in ("delete_post", "delete_comment")) // 2
