"""bench/export.py runs, at a tiny size, so that it cannot rot unnoticed: a part's row, and the PDF
part's pages/s beside its floor with the peak memory of the whole process tree (PDF workers included)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_export_bench_runs_tiny_and_counts_the_pdf_workers_memory() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "export.py"), "--posts", "2", "--comments", "6",
                           "--pdf-items", "8", "--parts", "csv", "--no-growth", "--parallel-from", "1"],
                          capture_output=True, text=True, cwd=ROOT, timeout=240)
    assert done.returncode == 0, done.stderr
    assert re.search(r"^csv +[\d,]+ +[\d.]+ +\d+$", done.stdout, re.MULTILINE), done.stdout
    floor = re.search(r"^pdf floor +([\d.]+) pages/s \(WeasyPrint on the same (\d+) pages", done.stdout, re.MULTILINE)
    pdf = re.search(r"^pdf +([\d.]+) pages/s, x([\d.]+) the floor \(8 documents, (\d+) pages; \d+ ms CPU a page "
                    r"in the tree; peak RSS (\d+) MB for the tree, (\d+) MB for the build alone\)", done.stdout,
                    re.MULTILINE)
    assert floor and pdf, done.stdout
    assert floor[2] == pdf[3]  # the floor renders the very documents the package holds
    assert int(pdf[4]) >= int(pdf[5]) > 0
