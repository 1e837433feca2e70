"""``archiver verify [--all | --sample N | --since DATE]``: fixity of the stored WARCs."""

from __future__ import annotations

import argparse

from archiver.cli.app import EXIT_FAILURE, EXIT_OK, App, Failure, moment, print_json
from archiver.retention.fixity import choose, verify


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser("verify", help="recompute SHA-256 and record digests of stored WARCs")
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--all", action="store_true", help="every stored WARC (the default)")
    scope.add_argument("--sample", type=int, metavar="N", help="N WARCs chosen at random")
    scope.add_argument("--since", type=moment, help="WARCs stored at or after this time")
    parser.add_argument("--json", action="store_true", help="machine-readable report")
    parser.set_defaults(handler=run)


def run(app: App, args: argparse.Namespace) -> int:
    if args.sample is not None and args.sample < 1:
        raise Failure("--sample must be at least 1")
    scope = f"sample {args.sample}" if args.sample else f"since {args.since:%Y-%m-%d}" if args.since else "all"
    report = verify(app.db, app.storage, choose(app.db, sample=args.sample, since=args.since), scope)
    if args.json:
        print_json({"objects": report.objects, "bytes": report.bytes, "seconds": round(report.seconds, 3),
                    "ok": report.ok, "mismatches": [m.as_dict() for m in report.mismatches]})
    else:
        for mismatch in report.mismatches:
            print(f"MISMATCH {mismatch}")
        rate = report.bytes / 1e6 / report.seconds if report.seconds else 0.0
        verdict = "all intact" if report.ok else f"{len(report.mismatches)} mismatch(es)"
        print(f"verified {report.objects} WARC(s), {report.bytes} bytes ({rate:.1f} MB/s): {verdict}")
    return EXIT_OK if report.ok else EXIT_FAILURE
