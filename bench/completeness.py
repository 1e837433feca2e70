"""Completeness under churn and faults: version recall, false deletions, detection delay, growth.

A seeded simulated city (archiver/simulate) is harvested every simulated hour by the real
archiver while its fake platforms churn at rates taken from real agency pages and misbehave
(5xx, timeouts, truncated pages, a key expired for a day, a permission lost for hours).

    python bench/completeness.py                 # a simulated week
    python bench/completeness.py --days 28 --seed 3
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archiver.simulate.platforms import CityNewsFeed, FacebookPage  # noqa: E402
from archiver.simulate.run import Simulation  # noqa: E402
from archiver.simulate.scenario import scenario  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    platforms = [CityNewsFeed(seed=args.seed), FacebookPage(seed=args.seed)]
    plan = scenario(args.seed, args.days, kinds=tuple({k for p in platforms for k in p.kinds}))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as workdir:
        reports = Simulation(Path(workdir), platforms, plan).run()
    print(f"{args.days:g} simulated days, seed {args.seed}, {len(plan.events)} events, "
          f"faults: {', '.join(f'{f.kind} {f.end - f.start}' for f in plan.faults)}; "
          f"{time.perf_counter() - started:.1f} s real time")
    for report in reports:
        m = report.as_dict()
        print(f"{m['platform']}:")
        print(f"  version recall: {m['captured']}/{m['versions_live_an_interval']} = {m['recall']:.2%} of versions "
              f"live an interval; {m['recall_of_observable']:.2%} of those live during a complete harvest "
              "(target 100%)")
        print(f"  false deletions: {m['false_deletions']} (target 0), with faults on")
        print(f"  detection delay: median {m['delay_median_minutes']} min, worst {m['delay_worst_minutes']} min "
              "(schedule: hourly)")
        print(f"  unchanged re-checks: {m['unchanged_versions_added']} versions added, "
              f"{m['unchanged_warc_bytes_per_harvest']} WARC bytes per harvest (the exchange itself)")
        print(f"  harvests: {m['harvests']} ({m['failed_harvests']} failed during fault windows)")


if __name__ == "__main__":
    main()
