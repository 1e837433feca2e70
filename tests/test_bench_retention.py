"""bench/retention.py runs, at a tiny size, so that it cannot rot unnoticed (it once failed at import)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_retention_bench_runs_tiny() -> None:
    # 250 entries in feed pages of 100, half of them past retention: the oldest page (50 entries) holds
    # only items that are due, so the disposition has a record to take out.
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "retention.py"), "--entries", "250", "--no-s3"],
                          capture_output=True, text=True, cwd=ROOT, timeout=240)
    assert done.returncode == 0, done.stderr
    assert re.search(r"verify \[local folder\]: \d+ WARCs, .* \(x[\d.]+ the floor\)", done.stdout), done.stdout
    disposed = re.search(r"disposition: (\d+) items", done.stdout)
    assert disposed and int(disposed[1]) > 0, done.stdout
