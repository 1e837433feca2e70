"""The Threads, Mastodon, Bluesky and LinkedIn benchmarks, run tiny: each harvests its fake account
completely (counts equal to the ground truth, again after reindex) and makes no more API calls
than the page sizes require (the full-size runs: python bench/<platform>.py)."""

from __future__ import annotations

import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))


@pytest.mark.parametrize("platform", ["threads", "mastodon", "bluesky", "linkedin"])
def test_the_benchmark_runs_complete_and_at_the_minimum_of_calls(platform: str) -> None:
    import importlib

    spec = importlib.import_module(platform).SPEC
    figures = importlib.import_module("social").run(spec, posts=25, replies=150, quiet=True)
    assert figures["calls"] == figures["minimum"], figures
    assert figures["observations"] >= figures["items"]
