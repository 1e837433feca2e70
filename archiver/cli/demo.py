"""``archiver demo``: a simulated city, harvested for a simulated week, offline, in a few seconds.

Starts the fake platforms on 127.0.0.1, drives them through a seeded week of posts, edits and
deletions with faults (outages, timeouts, truncated pages, an expired key, a lost permission),
harvests every simulated hour with the real archiver on the embedded defaults, and prints what
happened and where to look. No credentials, no network.
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path

from archiver.cli.app import Failure, print_json
from archiver.harvest import HarvestOutcome
from archiver.simulate.platforms import CityNewsFeed, FacebookPage
from archiver.simulate.run import Simulation
from archiver.simulate.scenario import scenario


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser("demo", help="harvest a simulated city for a simulated week, offline")
    parser.add_argument("--dir", type=Path, default=Path("archiver-demo"),
                        help="where to put it (default ./archiver-demo)")
    parser.add_argument("--days", type=float, default=7.0, help="simulated days (default 7)")
    parser.add_argument("--seed", type=int, default=1, help="scenario seed (same seed, same week)")
    parser.add_argument("--json", action="store_true", help="the measurements as JSON")
    parser.set_defaults(handler=run, needs_config=False)


def run(app: object, args: argparse.Namespace) -> int:
    if args.dir.exists() and any(args.dir.iterdir()):
        raise Failure(f"{args.dir} is not empty; give --dir a new folder (the demo never overwrites)")
    args.dir.mkdir(parents=True, exist_ok=True)
    platforms = [CityNewsFeed(seed=args.seed), FacebookPage(seed=args.seed)]
    plan = scenario(args.seed, args.days, kinds=tuple({k for p in platforms for k in p.kinds}))

    def progress(at: timedelta, outcomes: list[HarvestOutcome]) -> None:
        if not args.json and at.total_seconds() % 86400 == 0 and at:
            failed = sum(1 for o in outcomes if not o.ok)
            print(f"  day {int(at.total_seconds() // 86400)} simulated" + (f" ({failed} harvest failing)" if failed
                                                                            else ""))

    if not args.json:
        print(f"Simulating {args.days:g} days of the City of Springfield's accounts "
              f"({len(plan.events)} events, faults: {', '.join(f.kind for f in plan.faults)})…")
    reports = Simulation(args.dir, platforms, plan).run(on_step=progress)
    if args.json:
        print_json([report.as_dict() for report in reports])
        return 0
    config = args.dir / "archiver.toml"
    for report in reports:
        measured = report.as_dict()
        print(f"\n{report.platform}: {report.harvests} harvests ({report.failed_harvests} failed during faults); "
              f"{report.captured} of {report.versions} versions captured; "
              f"{len(report.false_deletions)} false deletions; "
              f"detection delay median {measured['delay_median_minutes']} min, "
              f"worst {measured['delay_worst_minutes']} min")
    print(f"\nThe archive is in {args.dir}/ (config {config}, WARCs in {args.dir}/archiver-data/warcs). Try:")
    for command in ('search "Main Street"', "search --state deleted", "search --state edited",
                    "coverage city-news", "coverage city-facebook", "audit"):
        print(f"  archiver --config {config} {command}")
    print("  archiver --config … show ITEM   (an item id from search: every version and its evidence;")
    print("                                   a Facebook post with its whole thread)")
    print("The fake platforms have stopped; search, show, coverage, export and reindex work offline.")
    print("(Capture times in the archive are real: the simulated week took seconds, so coverage spans are short.)")
    return 0
