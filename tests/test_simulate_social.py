"""A simulated day of the city's Threads, Mastodon, Bluesky and LinkedIn accounts under churn and
faults: everything observable captured, nothing falsely deleted, nothing added when nothing changes."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from archiver.config import load_config
from archiver.index.db import open_index
from archiver.index.models import Harvest
from archiver.simulate.run import Simulation
from archiver.simulate.scenario import Rates, scenario
from archiver.simulate.social import SOCIAL_ACCOUNTS


def test_a_simulated_day_of_each_new_platform_with_faults(tmp_path: Path) -> None:
    platforms = [account(seed=3, history=4) for account in SOCIAL_ACCOUNTS]
    kinds = tuple({k for p in platforms for k in p.kinds})
    rates = Rates(posts=12, comments=150, edits=12, hides=8, unhides=3, comment_deletions=9, post_deletions=4)
    plan = scenario(3, 0.34, rates, kinds=kinds, faults=("5xx", "truncated", "token", "permission"))
    reports = Simulation(tmp_path, platforms, plan).run()
    for report in reports:
        measured = report.as_dict()
        assert measured["recall_of_observable"] == 1.0, (report.platform, report.missed)
        assert measured["false_deletions"] == 0, report.platform
        assert measured["unchanged_versions_added"] == 0, report.platform
        assert report.failed_harvests > 0, report.platform  # the faults really happened
    db = open_index(load_config(tmp_path / "archiver.toml").database_url)
    with db.session() as session:
        notes = [note for coverage in session.scalars(select(Harvest.coverage)) for note in (coverage or {}).get(
            "notes", [])]
    db.dispose()
    assert not [n for n in notes if "media not captured" in n and "127.0.0.1" not in n]  # only loopback is contacted
