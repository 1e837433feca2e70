"""``archiver audit [--json]`` lists the audit trail; ``archiver audit verify`` checks its hash chain."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from archiver import audit
from archiver.cli.app import EXIT_FAILURE, EXIT_OK, App, Failure, at_least, moment, print_json, print_table


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser("audit", help="the append-only, hash-chained audit trail")
    parser.add_argument("what", nargs="?", choices=["list", "verify", "stamp", "stamps"], default="list",
                        help="list entries (default), verify the chain, stamp a day's digest with the RFC 3161 "
                             "authority ([timestamp] url), or list and check the stamps")
    parser.add_argument("--day", type=lambda text: moment(text).date(),
                        help="with stamp: the day (UTC) whose digest to stamp (default: yesterday)")
    parser.add_argument("--action", help="only this action (e.g. export, search, harvest)")
    parser.add_argument("--since", type=moment, help="entries at or after this time (UTC)")
    parser.add_argument("--limit", type=at_least(1), help="only the last N entries")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)


def run(app: App, args: argparse.Namespace) -> int:
    if args.what in ("stamp", "stamps"):
        return run_stamps(app, args)
    with app.db.session() as session:
        if args.what == "verify":
            checked, broken = audit.verify(session)
            audit.record(session, "audit.verified", entries=checked, broken_at=broken.seq if broken else None)
            result = {"entries": checked, "intact": broken is None,
                      "first_broken": {"seq": broken.seq, "reason": broken.reason} if broken else None}
            if args.json:
                print_json(result)
            elif broken:
                print(f"audit chain BROKEN at entry {broken.seq}: {broken.reason} ({checked} entries before it intact)")
            else:
                print(f"audit chain intact: {checked} entries")
            return EXIT_FAILURE if broken else EXIT_OK
        rows = [audit.as_dict(e) for e in audit.entries(session, action=args.action, since=args.since,
                                                          limit=args.limit)]
    if args.json:
        print_json(rows)
    else:
        print_table([r | {"details": _brief(r["details"])} for r in rows],
                    ["seq", "at", "actor", "action", "target", "details"])
    return EXIT_OK


def run_stamps(app: App, args: argparse.Namespace) -> int:
    from archiver.retention.models import TimeStamp
    from archiver.retention.timestamp import TimestampError, check, stamp

    if args.what == "stamp":
        day = args.day or (datetime.now(UTC) - timedelta(days=1)).date()
        try:
            with app.db.session() as session:
                row = stamp(session, app.config, day)
                result = {"day": row.day, "digest": row.digest, "gen_time": row.gen_time.isoformat(),
                          "tsa": row.tsa_url, "warcs": len(row.document["warcs"])}
        except TimestampError as exc:
            raise Failure(str(exc)) from None
        if args.json:
            print_json(result)
        else:
            print(f"digest of {result['day']} ({result['warcs']} new WARC(s)) sha256 {result['digest']} "
                  f"time-stamped {result['gen_time']} by {result['tsa']}")
        return EXIT_OK
    with app.db.session() as session:
        rows = [{"day": r.day, "digest": r.digest, "gen_time": r.gen_time.isoformat(), "tsa": r.tsa_url,
                 "problem": check(session, app.config, r)}
                for r in session.scalars(select(TimeStamp).order_by(TimeStamp.day))]
    if args.json:
        print_json(rows)
    else:
        print_table([r | {"status": r["problem"] or "verified"} for r in rows], ["day", "gen_time", "digest", "status"])
    return EXIT_FAILURE if any(r["problem"] for r in rows) else EXIT_OK


def _brief(details: dict[str, object]) -> str:
    text = ", ".join(f"{k}={v}" for k, v in details.items())
    return text if len(text) <= 100 else text[:99] + "…"
