"""bench/x.py and bench/youtube.py, run tiny: the archiver gets every item the plain loop gets,
with no fewer calls and reads than the page sizes allow (the figures come from the full runs)."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from conftest import ROOT


def _bench(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_x_benchmark_runs_tiny() -> None:
    result = _bench("x").run(posts=40, replies=120, rounds=1)
    assert result["items"] == 161
    assert result["minimum_calls"] <= result["calls"] <= 4 * result["minimum_calls"]
    assert result["minimum_reads"] <= result["reads"] <= 1.1 * result["minimum_reads"]


def test_youtube_benchmark_runs_tiny() -> None:
    result = _bench("youtube").run(videos=12, comments=200, rounds=1)
    assert result["items"] > 150
    assert result["minimum_units"] <= result["units"] <= result["minimum_units"] + 2
