"""A simulated city under churn and faults: nothing observable is missed, nothing falsely deleted."""

from __future__ import annotations

import csv
import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from archiver.cli import demo
from archiver.config import load_config
from archiver.index.db import open_index
from archiver.index.models import Account, Item
from archiver.simulate.platforms import CityNewsFeed
from archiver.simulate.run import Simulation
from archiver.simulate.scenario import Rates, scenario
from conftest import CliResult, run_cli


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


@pytest.fixture(scope="module")
def demo_day(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CliResult]:
    """One simulated day of the demo, run once for the tests below (they copy it before changing it)."""
    folder = tmp_path_factory.mktemp("demo") / "demo"
    result = run_cli("demo", "--dir", str(folder), "--days", "1")
    return folder, result


def test_demo_runs_offline_explains_its_misses_and_refuses_a_used_folder(demo_day: tuple[Path, CliResult]) -> None:
    folder, result = demo_day
    assert result.code == 0, result.err
    assert "versions captured; 0 false deletions" in result.out and "search --state deleted" in result.out
    # Each version it missed is explained: what, when it lived, and why no harvest could see it.
    assert "version(s) missed:" in result.out and "existed only while harvests were failing:" in result.out
    assert "a complete harvest ran while it existed" not in result.out  # nothing missed that it could have seen
    # Simulated posts are dated in the simulated week, which ends before they are captured.
    db = open_index(load_config(folder / "archiver.toml").database_url)
    with db.session() as session:
        dated = session.execute(select(Item.posted_at, Item.first_seen_at).where(Item.posted_at.is_not(None))).all()
    db.dispose()
    assert dated and all(posted < seen for posted, seen in dated)
    again = run_cli("demo", "--dir", str(folder))
    assert again.code == 1 and "is not empty" in again.err


def test_reindex_of_the_demo_keeps_cases_and_custody_naming_the_same_items(demo_day: tuple[Path, CliResult],
                                                                          tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    shutil.copytree(demo_day[0], folder)
    config = str(folder / "archiver.toml")

    def cli(*args: str) -> CliResult:
        result = run_cli("--config", config, *args)
        assert result.code == 0, result.err
        return result

    cli("request", "new", "DEMO-1")
    cli("request", "add", "DEMO-1", "--state", "deleted")
    cli("request", "add", "DEMO-1", "notice", "--account", "city-facebook")
    named = cli("search", "--account", "city-news", "--json").json()["items"][0]["item_id"]
    cli("request", "add", "DEMO-1", "--item", str(_index_ids(config)[named]))  # the index's own id, logged by name

    def kept(out: Path) -> dict[str, object]:
        cli("export", "DEMO-1", "--out", str(out), "--format", "csv,jsonl")
        custody = json.loads((out / "data/custody.json").read_text())
        with (out / "data/csv/items.csv").open(encoding="utf-8-sig") as handle:
            rows = [row["item_id"] for row in csv.DictReader(handle)]
        lines = [json.loads(line)["id"] for line in (out / "data/jsonl/items.jsonl").read_text().splitlines()]
        members = [m["item_id"] for m in cli("request", "show", "DEMO-1", "--json").json()["members"]]
        return {"searches": [(s["action"], s["query"], s["items"]) for s in custody["searches"]], "csv": rows,
                "jsonl": lines, "members": members}

    before, ids_before = kept(tmp_path / "before"), _index_ids(config)
    assert named in before["members"] and {"items": [named]} in [q for _, q, _ in before["searches"]]
    cli("reindex")
    after, ids_after = kept(tmp_path / "after"), _index_ids(config)
    assert ids_after.keys() == ids_before.keys() and ids_after != ids_before  # reindex did renumber the index
    assert after == before and len(before["members"]) > 10  # type: ignore[arg-type]


def _index_ids(config: str) -> dict[str, int]:
    db = open_index(load_config(Path(config)).database_url)
    with db.session() as session:
        rows = session.execute(select(Item.id, Account.name, Item.platform_id).join(Account)).all()
    db.dispose()
    return {f"{name}:{platform_id}": item_id for item_id, name, platform_id in rows}


class UnreachableFeed(CityNewsFeed):
    """The feed platform is gone before the first harvest: every harvest fails with no fault simulated."""

    def start(self, begin: datetime) -> None:
        super().start(begin)
        self.server.stop()

    def stop(self) -> None:
        pass


def test_the_demo_fails_when_its_harvests_fail_wholesale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "PLATFORMS", (UnreachableFeed,))
    result = run_cli("demo", "--dir", str(tmp_path / "demo"), "--days", "0.25")
    assert result.code == 1 and result.err.count("\n") == 1
    assert "harvests of city-news failed with no fault simulated" in result.err and "incomplete" in result.err
