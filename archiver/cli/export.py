"""``archiver export CASE --out DIR [--format PARTS]`` and ``archiver export [filters] --format jsonl|warc``.

Given the name of a case, export writes its release or production package (a BagIt bag);
otherwise, with ``--format jsonl`` or ``--format warc``, the first word is search text and the
matching items are written as JSON Lines or as the WARC records behind them. A name that is no
case, without ``--format``, is an error: a mistyped case name must not export a search instead.
Neither kind of export writes into a folder that is not empty, nor over an earlier export.
"""

from __future__ import annotations

import argparse
import getpass
import shlex
from datetime import UTC, datetime
from pathlib import Path

from archiver import audit
from archiver.cases import register as cases
from archiver.cli.app import App, Failure, at_least
from archiver.cli.search import add_filters, checked_query
from archiver.exports.jsonl import export_jsonl
from archiver.exports.package.builder import SELECTABLE, PackageError
from archiver.exports.package.run import export_case, package_request
from archiver.exports.selection import ExportRequest, ExportTargetError, new_folder
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
                             "otherwise jsonl or warc (needed with search words; default jsonl for filters alone)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to write (new or empty)")
    parser.add_argument("--redact", action="store_true",
                        help="redact personal data for public release (leaves out native and wacz unless named)")
    parser.add_argument("--bates", action="store_true",
                        help="a legal production: Bates numbers on every PDF page, DAT/OPT load files "
                             "(on by default for a case opened with --kind production)")
    parser.add_argument("--bates-prefix", help="Bates prefix (default [exports] bates_prefix)")
    parser.add_argument("--bates-start", type=at_least(1), help="first Bates number (default [exports] bates_start)")
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
    if args.text and args.format is None:  # a mistyped case name must not quietly become a search
        raise Failure(f"no case {args.text}; to export by search use: archiver export {shlex.quote(args.text)} "
                      f"--format jsonl (or warc) --out {shlex.quote(str(args.out))}; "
                      "'archiver request list' shows the cases")
    fmt = args.format or "jsonl"
    if fmt not in FORMATS:
        raise Failure(f"--format {fmt} needs a case ('archiver export CASE --format {fmt}'); "
                      f"without one, use jsonl or warc")
    request = ExportRequest(checked_query(app, args), getpass.getuser(), datetime.now(UTC))
    try:
        new_folder(args.out, create=False)  # before any work; the export itself checks again
        with app.db.session() as session:
            if fmt == "jsonl":
                summary = export_jsonl(session, request, args.out)
            else:
                summary = export_warc(session, app.storage, request, args.out)
            audit.record(session, "export", str(args.out.resolve()), format=fmt, items=summary["items"],
                         query=summary["query"], files=summary["files"])
    except ExportTargetError as exc:
        raise Failure(str(exc)) from None
    except OSError as exc:
        raise Failure(f"cannot write the export to {args.out}: {exc.strerror}") from None
    files = ", ".join(summary["files"])
    print(f"exported {summary['items']} item(s) to {args.out} ({files})")
    return 0


def run_package(app: App, args: argparse.Namespace) -> int:
    parts = tuple(p.strip() for p in (args.format or "").split(",") if p.strip())
    try:
        with app.db.session() as session:
            production = cases.get_case(session, args.text).kind == "production"
            request = package_request(app.config, args.text, args.out, production=production, parts=parts,
                                      redact=args.redact, bates=args.bates, bates_prefix=args.bates_prefix,
                                      bates_start=args.bates_start, zip_bag=args.zip)
            result = export_case(session, app.storage, app.config, request, audit.actor())
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
