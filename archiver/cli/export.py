"""``archiver export [filters] --format jsonl|warc --out DIR``."""

from __future__ import annotations

import argparse
import getpass
from datetime import UTC, datetime
from pathlib import Path

from archiver import audit
from archiver.cli.app import App, Failure
from archiver.cli.search import add_filters, query_from
from archiver.exports.jsonl import export_jsonl
from archiver.exports.selection import ExportRequest
from archiver.exports.warc import export_warc

FORMATS = {"jsonl": "items.jsonl with every version and its evidence",
           "warc": "the WARC records behind the items, cut from storage"}


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser("export", help="write matching items out (JSON Lines or WARC)")
    add_filters(parser)
    parser.add_argument("--format", choices=sorted(FORMATS), default="jsonl", help="jsonl (default) or warc")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to write into")
    parser.set_defaults(handler=run)


def run(app: App, args: argparse.Namespace) -> int:
    if args.out.exists() and not args.out.is_dir():
        raise Failure(f"--out {args.out} is a file; give a folder")
    request = ExportRequest(query_from(args), getpass.getuser(), datetime.now(UTC))
    try:
        with app.db.session() as session:
            if args.format == "jsonl":
                summary = export_jsonl(session, request, args.out)
            else:
                summary = export_warc(session, app.storage, request, args.out)
            audit.record(session, "export", str(args.out.resolve()), format=args.format, items=summary["items"],
                         query=summary["query"], files=summary["files"])
    except OSError as exc:
        raise Failure(f"cannot write the export to {args.out}: {exc.strerror}") from None
    files = ", ".join(summary["files"])
    print(f"exported {summary['items']} item(s) to {args.out} ({files})")
    return 0
