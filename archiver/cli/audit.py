"""``archiver audit [--json]`` lists the audit trail; ``archiver audit verify`` checks its hash chain."""

from __future__ import annotations

import argparse

from archiver import audit
from archiver.cli.app import EXIT_FAILURE, EXIT_OK, App, moment, print_json, print_table


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser("audit", help="the append-only, hash-chained audit trail")
    parser.add_argument("what", nargs="?", choices=["list", "verify"], default="list",
                        help="list entries (default) or verify the chain")
    parser.add_argument("--action", help="only this action (e.g. export, search, harvest)")
    parser.add_argument("--since", type=moment, help="entries at or after this time (UTC)")
    parser.add_argument("--limit", type=int, help="only the last N entries")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)


def run(app: App, args: argparse.Namespace) -> int:
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


def _brief(details: dict[str, object]) -> str:
    text = ", ".join(f"{k}={v}" for k, v in details.items())
    return text if len(text) <= 100 else text[:99] + "…"
