"""``archiver verify [--all | --sample N | --since DATE] [--records] [--workers N]``: fixity of the stored WARCs."""

from __future__ import annotations

import argparse

from archiver.cli.app import EXIT_FAILURE, EXIT_OK, App, at_least, moment, print_json
from archiver.retention.fixity import WORKERS, choose, unindexed, verify


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser("verify", help="recompute SHA-256 (and with --records every record's digests) "
                                                "of stored WARCs")
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--all", action="store_true", help="every stored WARC (the default)")
    scope.add_argument("--sample", type=at_least(1), metavar="N", help="N WARCs chosen at random")
    scope.add_argument("--since", type=moment, help="WARCs stored at or after this time")
    parser.add_argument("--records", action="store_true",
                        help="also inflate every record and check its block and payload digests, and the index's "
                             "offsets (slower)")
    parser.add_argument("--workers", type=at_least(1), metavar="N", default=WORKERS,
                        help=f"WARCs checked at once (default {WORKERS})")
    parser.add_argument("--json", action="store_true", help="machine-readable report")
    parser.set_defaults(handler=run)


def run(app: App, args: argparse.Namespace) -> int:
    scope = f"sample {args.sample}" if args.sample else f"since {args.since:%Y-%m-%d}" if args.since else "all"
    # Everything (the default): also the stored WARCs the index does not know.
    unknown = unindexed(app.db, app.storage) if scope == "all" else None
    report = verify(app.db, app.storage, choose(app.db, sample=args.sample, since=args.since), scope, unknown,
                    records=args.records, workers=args.workers)
    if args.json:
        print_json({"objects": report.objects, "bytes": report.bytes, "seconds": round(report.seconds, 3),
                    "records": report.records, "ok": report.ok,
                    "mismatches": [m.as_dict() for m in report.mismatches]})
    else:
        for mismatch in report.mismatches:
            print(f"MISMATCH {mismatch}")
        rate = report.bytes / 1e6 / report.seconds if report.seconds else 0.0
        verdict = "all intact" if report.ok else f"{len(report.mismatches)} mismatch(es)"
        depth = "objects and records" if report.records else "objects"
        print(f"verified {report.objects} WARC(s), {report.bytes} bytes, {depth} ({rate:.1f} MB/s): {verdict}")
    return EXIT_OK if report.ok else EXIT_FAILURE
