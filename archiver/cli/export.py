"""``archiver export CASE --out DIR [--format PARTS]`` and ``archiver export [filters] --format jsonl|warc``.

Given the name of a case, export writes its release or production package (a BagIt bag);
otherwise the first word is search text and the matching items are written as JSON Lines or
as the WARC records behind them.
"""

from __future__ import annotations

import argparse
import getpass
from datetime import UTC, datetime
from pathlib import Path

from archiver import audit
from archiver.cases import register as cases
from archiver.cli.app import App, Failure
from archiver.cli.search import add_filters, query_from
from archiver.exports.jsonl import export_jsonl
from archiver.exports.package.builder import SELECTABLE, PackageError, PackageRequest, build
from archiver.exports.package.parts import BatesOptions
from archiver.exports.selection import ExportRequest
from archiver.exports.warc import export_warc
from storage import StorageError

FORMATS = {"jsonl": "items.jsonl with every version and its evidence",
           "warc": "the WARC records behind the items, cut from storage"}


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "export", help="a case's package (export CASE --out DIR), or matching items as JSON Lines or WARC",
        description="With a case name: its package, a BagIt bag with PDF, CSV, XLSX, JSONL, native payloads, WACZ, "
                    "custody record and certificate. Otherwise: the items the filters match, as jsonl or warc.")
    add_filters(parser)
    parser.add_argument("--format", metavar="FORMAT",
                        help=f"for a case: parts, comma-separated, from {','.join(SELECTABLE)} (default: all); "
                             "otherwise jsonl (default) or warc")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to write (new or empty)")
    parser.add_argument("--redact", action="store_true",
                        help="redact personal data for public release (leaves out native and wacz unless named)")
    parser.add_argument("--bates", action="store_true",
                        help="a legal production: Bates numbers on every PDF page, DAT/OPT load files "
                             "(on by default for a case opened with --kind production)")
    parser.add_argument("--bates-prefix", help="Bates prefix (default [exports] bates_prefix)")
    parser.add_argument("--bates-start", type=int, help="first Bates number (default [exports] bates_start)")
    parser.add_argument("--zip", action="store_true", help="zip the bag (DIR.zip) instead of leaving a folder")
    parser.set_defaults(handler=run)


def _is_case(app: App, name: str | None) -> bool:
    if not name:
        return False
    with app.db.session() as session:
        try:
            cases.get_case(session, name)
        except cases.CaseError:
            return False
    return True


def run(app: App, args: argparse.Namespace) -> int:
    if args.out.exists() and not args.out.is_dir():
        raise Failure(f"--out {args.out} is a file; give a folder")
    if _is_case(app, args.text):
        return run_package(app, args)
    if args.redact or args.bates or args.zip:
        raise Failure(f"no case named {args.text!r}: --redact, --bates and --zip apply to a case's package "
                      "('archiver request list' shows the cases)")
    fmt = args.format or "jsonl"
    if fmt not in FORMATS:
        raise Failure(f"--format {fmt} needs a case ('archiver export CASE --format {fmt}'); "
                      f"without one, use jsonl or warc")
    request = ExportRequest(query_from(args), getpass.getuser(), datetime.now(UTC))
    try:
        with app.db.session() as session:
            if fmt == "jsonl":
                summary = export_jsonl(session, request, args.out)
            else:
                summary = export_warc(session, app.storage, request, args.out)
            audit.record(session, "export", str(args.out.resolve()), format=fmt, items=summary["items"],
                         query=summary["query"], files=summary["files"])
    except OSError as exc:
        raise Failure(f"cannot write the export to {args.out}: {exc.strerror}") from None
    files = ", ".join(summary["files"])
    print(f"exported {summary['items']} item(s) to {args.out} ({files})")
    return 0


def run_package(app: App, args: argparse.Namespace) -> int:
    settings = app.config.exports
    parts = tuple(p.strip() for p in (args.format or "").split(",") if p.strip())
    with app.db.session() as session:
        production = cases.get_case(session, args.text).kind == "production"
    bates = None
    if args.bates or production or args.bates_prefix or args.bates_start:
        if args.bates_start is not None and args.bates_start < 1:
            raise Failure("--bates-start must be 1 or more")
        bates = BatesOptions(args.bates_prefix if args.bates_prefix is not None else settings.bates_prefix,
                             args.bates_start or settings.bates_start, settings.bates_padding)
    request = PackageRequest(args.text, args.out, parts, args.redact, bates, args.zip,
                             [(p.name, p.pattern) for p in settings.redaction_patterns], settings.certifier)
    try:
        with app.db.session() as session:
            result = build(session, app.storage, request, agency=app.config.archiver.agency,
                           storage_url=app.config.storage_url, by=audit.actor())
            audit.record(session, "case.exported", args.text, out=str(result.path.resolve()),
                         documents=result.documents, parts=[p["part"] for p in result.parts],
                         redacted=args.redact, redactions=result.redactions,
                         bates=bates.__dict__ if bates else None, manifest_sha256=result.manifest_sha256)
    except (PackageError, cases.CaseError) as exc:
        raise Failure(str(exc)) from None
    except StorageError as exc:
        raise Failure(f"cannot read the records for the package: {exc}; no package was written "
                      "('archiver verify' checks every stored WARC)") from None
    except OSError as exc:
        raise Failure(f"cannot write the package to {args.out}: {exc.strerror or exc}") from None
    made = ", ".join(f"{p['part']} ({p['documents']})" for p in result.parts)
    print(f"case {args.text}: {result.documents} item(s) packaged in {result.path}: {made}")
    if args.redact:
        print(f"  {result.redactions} redaction(s), logged in data/redaction-log.csv")
    print(f"  manifest-sha256.txt sha256 {result.manifest_sha256}")
    return 0
