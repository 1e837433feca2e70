"""Every benchmark in bench/ runs in the suite at a tiny size, so that none can rot unnoticed.

A bench is either run here (``TINY``: its command-line arguments for a tiny run) or by a test of
its own (``COVERED_BY``); a new bench that is in neither fails ``test_every_bench_runs_somewhere``.
The figures themselves come from the full-size runs (``python bench/NAME.py``); here only that
each run ends well (exit 0, and for the harvest benches, the counts it checks itself).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

BENCH = ROOT / "bench"
TESTS = ROOT / "tests"
# imported or run by benches, not run on their own
LIBRARIES = {"social", "search_data", "crash_checks", "crash_fakes", "crash_child"}
TINY: dict[str, list[str]] = {
    "harvest": ["--entries", "300", "--rounds", "1", "--sizes", "300"],
    "facebook": ["--posts", "20", "--comments", "250", "--rounds", "1"],
    "completeness": ["--days", "0.1"],
    "package_wacz": ["--posts", "5", "--comments", "40"],
    "retention": ["--entries", "60", "--no-s3"],
    "export": ["--posts", "4", "--comments", "30", "--pdf-items", "3"],
    "search": ["--items", "2000", "--runs", "2"],
    "web": ["--items", "2000", "--runs", "2"],
    "hardening": ["--bomb-mib", "32", "--video-mb", "4"],
    "fuzz": ["--cases", "20"],
    "warcprox": ["--entries", "200", "--rounds", "1"],
    "verify": ["--mb", "4", "--objects", "2", "--rounds", "1"],
}
COVERED_BY = {  # bench → the test that runs it tiny (and checks more of what it reports)
    "x": "test_bench_xyt.py", "youtube": "test_bench_xyt.py",
    "threads": "test_social_bench.py", "mastodon": "test_social_bench.py", "bluesky": "test_social_bench.py",
    "linkedin": "test_social_bench.py",
    "export": "test_bench_export.py", "retention": "test_bench_retention.py", "search": "test_bench_search.py",
    "crash": "test_crash.py",
}


def _benches() -> list[str]:
    return sorted(p.stem for p in BENCH.glob("*.py") if p.stem not in LIBRARIES)


def test_every_bench_runs_somewhere() -> None:
    nowhere = [name for name in _benches()
               if name not in TINY and not (name in COVERED_BY and (TESTS / COVERED_BY[name]).exists())]
    assert not nowhere, f"benches with no tiny run in the suite: {nowhere}; add them to TINY or COVERED_BY"


@pytest.mark.parametrize("name", sorted(TINY))
def test_the_bench_runs_tiny(name: str, tmp_path: Path) -> None:
    if name in COVERED_BY and (TESTS / COVERED_BY[name]).exists():
        pytest.skip(f"bench/{name}.py runs tiny in tests/{COVERED_BY[name]}")
    if not (BENCH / f"{name}.py").exists():
        pytest.skip(f"bench/{name}.py is not in this tree")
    env = os.environ | {"PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": os.environ.get("XDG_CACHE_HOME", str(
        Path.home() / ".cache"))}
    result = subprocess.run([sys.executable, str(BENCH / f"{name}.py"), *TINY[name]], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"bench/{name}.py {' '.join(TINY[name])}:\n{result.stdout[-2000:]}\n" \
                                   f"{result.stderr[-3000:]}"
    assert result.stdout.strip(), f"bench/{name}.py printed nothing"
