"""``archiver hold create|list|show|release``: the legal hold register."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy import select

from archiver import audit
from archiver.cli.app import EXIT_OK, App, Failure, UsageError, moment, print_json, print_table
from archiver.retention import holds
from archiver.retention.models import LegalHold
from archiver.search import QueryError, SearchQuery, check_query
from archiver.search.syntax import WORDS_HELP


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser("hold", help="legal holds: freeze items for litigation")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="freeze the matching items, and later captures that match")
    create.add_argument("--matter", required=True, help="the matter: case name or number")
    create.add_argument("--account", action="append", default=[], help="account name (repeatable)")
    create.add_argument("--since", type=moment, help="posted on or after (2026-03-01 or ISO time, UTC)")
    create.add_argument("--until", type=moment, help="posted before")
    create.add_argument("--query", help=WORDS_HELP)
    create.add_argument("--item", action="append", default=[], help="an item, ACCOUNT:PLATFORM-ID (repeatable)")
    create.set_defaults(handler=run_create)
    listing = actions.add_parser("list", help="every hold, active and released")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=run_list)
    show = actions.add_parser("show", help="a hold: criteria, items, WARC objects")
    show.add_argument("hold", type=int, metavar="HOLD")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=run_show)
    release = actions.add_parser("release", help="end a hold (its items may then be disposed when due)")
    release.add_argument("hold", type=int, metavar="HOLD")
    release.add_argument("--reason", required=True, help="why the hold ends")
    release.set_defaults(handler=run_release)


def run_create(app: App, args: argparse.Namespace) -> int:
    criteria = holds.HoldCriteria(tuple(args.account), args.since, args.until, args.query, tuple(args.item))
    search = SearchQuery(text=args.query)  # accounts: holds.create names those not in the index (exit 1)
    with app.db.session() as session:
        try:  # the words checked as search checks them (one line, exit 2)
            notes = check_query(session, search, [account.name for account in app.config.accounts])
            hold = holds.create(session, args.matter, criteria, audit.actor())
        except holds.HoldError as exc:
            raise Failure(str(exc)) from None
        except QueryError as exc:
            raise UsageError(str(exc)) from None
        row = holds.summary(session, hold)
    for note in notes:
        print(f"archiver: note: {note}", file=sys.stderr)
    turned_on, _ = holds.sync_store_flags(app.db, app.storage)
    print(f"hold {row['id']} ({row['matter']}): {row['items']} item(s) frozen; "
          f"{len(turned_on)} WARC object(s) newly under legal hold")
    return EXIT_OK


def run_list(app: App, args: argparse.Namespace) -> int:
    with app.db.session() as session:
        rows = [holds.summary(session, h) for h in session.scalars(select(LegalHold).order_by(LegalHold.id))]
        audit.record(session, "hold.listed", None, holds=len(rows))
    if args.json:
        print_json(rows)
    else:
        print_table(rows, ["id", "state", "matter", "items", "created_at", "created_by", "released_at"])
    return EXIT_OK


def run_show(app: App, args: argparse.Namespace) -> int:
    with app.db.session() as session:
        hold = session.get(LegalHold, args.hold)
        if hold is None:
            raise Failure(f"no hold {args.hold}; see 'archiver hold list'")
        row = holds.details(session, hold)
        audit.record(session, "hold.viewed", f"hold {hold.id}")
    if args.json:
        print_json(row)
        return EXIT_OK
    for key in ("id", "matter", "state", "items", "criteria", "created_at", "created_by", "released_at",
                "release_reason"):
        print(f"{key}: {row[key]}")
    for member in row["members"]:
        print(f"  item {member}")
    for obj in row["objects"]:
        print(f"  object {obj['key']} (store legal hold: {'on' if obj['store_legal_hold'] else 'not supported'})")
    return EXIT_OK


def run_release(app: App, args: argparse.Namespace) -> int:
    with app.db.session() as session:
        try:
            hold = holds.release(session, args.hold, args.reason, audit.actor())
        except holds.HoldError as exc:
            raise Failure(str(exc)) from None
        matter = hold.matter
    _, turned_off = holds.sync_store_flags(app.db, app.storage)
    print(f"hold {args.hold} ({matter}) released; legal hold lifted from {len(turned_off)} WARC object(s) "
          "no other hold needs")
    return EXIT_OK
