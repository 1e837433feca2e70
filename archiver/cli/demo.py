"""``archiver demo``: a simulated city, harvested for a simulated week, offline, in seconds.

Starts the fake platforms on 127.0.0.1, drives them through a seeded week of posts, edits and
deletions with faults (outages, timeouts, truncated pages, an expired key, a lost permission),
harvests every three simulated hours with the real archiver on the embedded defaults, and prints
what happened, which versions it missed and why, and where to look. The simulated week ends
now, so every post is dated before its capture. No credentials, no network. If the harvests
fail wholesale (not because of a simulated fault), the demo says so and exits 1.
"""

from __future__ import annotations

import argparse
from collections import Counter
from datetime import timedelta
from pathlib import Path

from archiver.cli.app import Failure, print_json
from archiver.harvest import HarvestOutcome
from archiver.simulate.platforms import CityNewsFeed, FacebookPage, SimulatedPlatform
from archiver.simulate.run import Report, Simulation
from archiver.simulate.scenario import scenario
from archiver.simulate.social import SOCIAL_ACCOUNTS
from archiver.simulate.xyoutube import CityXAccount, CityYouTubeChannel

PLATFORMS: tuple[type[SimulatedPlatform], ...] = (CityNewsFeed, FacebookPage, CityXAccount, CityYouTubeChannel,
                                                  *SOCIAL_ACCOUNTS)
INTERVAL = timedelta(hours=3)  # simulated time between harvests: a week in a few dozen harvests per account


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
    platforms = [platform(seed=args.seed) for platform in PLATFORMS]
    plan = scenario(args.seed, args.days, kinds=tuple({k for p in platforms for k in p.kinds}))

    def progress(at: timedelta, outcomes: list[HarvestOutcome]) -> None:
        if not args.json and at.total_seconds() % 86400 == 0 and at:
            failed = sum(1 for o in outcomes if not o.ok)
            print(f"  day {int(at.total_seconds() // 86400)} simulated" + (f" ({failed} harvest failing)" if failed
                                                                            else ""))

    if not args.json:
        print(f"Simulating {args.days:g} days of the City of Springfield's accounts, harvested every "
              f"{INTERVAL.total_seconds() / 3600:g} simulated hours ({len(plan.events)} events, faults: "
              f"{', '.join(f.kind for f in plan.faults)})…")
    reports = Simulation(args.dir, platforms, plan, interval=INTERVAL).run(on_step=progress)
    if args.json:
        print_json([report.as_dict() for report in reports])
    else:
        _print_reports(args.dir, reports)
    broken = [r for r in reports if r.failed_wholesale]
    if broken:
        raise Failure("; ".join(f"{len(r.unexpected_failures)} of {r.clean_harvests} harvests of {r.platform} "
                                f"failed with no fault simulated (first: {r.unexpected_failures[0]})" for r in broken)
                      + f"; the archive in {args.dir} is incomplete")
    return 0


def _print_reports(folder: Path, reports: list[Report]) -> None:
    config = folder / "archiver.toml"
    for report in reports:
        measured = report.as_dict()
        print(f"\n{report.platform}: {report.harvests} harvests ({report.failed_harvests} failed during faults); "
              f"{report.captured} of {report.versions} versions captured; "
              f"{len(report.false_deletions)} false deletions; "
              f"detection delay median {measured['delay_median_minutes']} min, "
              f"worst {measured['delay_worst_minutes']} min")
        for line in missed_lines(report):
            print("  " + line)
    print(f"\nThe archive is in {folder}/ (config {config}, WARCs in {folder}/archiver-data/warcs). Try:")
    for command in ('search "notice"', "search --state deleted", "search --state edited",
                    "coverage city-news", "coverage city-facebook", "coverage city-x", "coverage city-youtube",
                    "accounts", "audit"):
        print(f"  archiver --config {config} {command}")
    print("  archiver --config … show ACCOUNT:PLATFORM-ID   (as search lists it: every version and its evidence;")
    print("                                                  a Facebook post with its whole thread)")
    print("The fake platforms have stopped; search, show, coverage, export and reindex work offline.")
    print("(Posts are dated over the simulated week, which ends now; capture times are real, so the week was "
          "captured in seconds and coverage spans are short.)")


def missed_lines(report: Report, examples: int = 3) -> list[str]:
    """Why each missed version was missed, grouped by reason, with a few examples."""
    if not report.missed:
        return []
    reasons = Counter(m.reason for m in report.missed)
    lines = [f"{len(report.missed)} version(s) missed:"]
    for reason, count in reasons.most_common():
        lines.append(f"  {count}: {reason}")
        for miss in [m for m in report.missed if m.reason == reason][:examples]:
            lived = f"from day {_day(miss.start)}" + (f" to day {_day(miss.end)}" if miss.end is not None else "")
            lines.append(f"     e.g. {report.platform}:{miss.platform_id} {miss.what[:60]!r}, {lived}")
    return lines


def _day(at: timedelta) -> str:
    """'2 14:05': simulated day and time."""
    return f"{int(at.total_seconds() // 86400)} {int(at.total_seconds() % 86400 // 3600):02d}:" \
           f"{int(at.total_seconds() % 3600 // 60):02d}"
