"""``archiver request new|add|drop|list|show``: records requests and legal productions as cases."""

from __future__ import annotations

import argparse
from datetime import date

from archiver import audit
from archiver.cases import register as cases
from archiver.cli.app import EXIT_OK, App, Failure, print_json, print_table
from archiver.cli.search import add_filters, checked_query
from archiver.items import ItemNotFound, find_item, item_ref


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write it as 2026-03-01") from None


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser("request", help="records requests and productions: cases built from searches")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    new = actions.add_parser("new", help="open a case")
    new.add_argument("case", metavar="CASE", help="a short name for the case, e.g. PRR-2026-114")
    new.add_argument("--requester", help="who asked (person, firm, court)")
    new.add_argument("--received", type=_day, help="date the request was received (2026-03-01)")
    new.add_argument("--due", type=_day, help="date the response is due")
    new.add_argument("--kind", choices=cases.KINDS, default="request",
                     help="request (open records, default) or production (subpoena, discovery)")
    new.add_argument("--description", help="what was asked for, in the requester's words")
    new.set_defaults(handler=run_new)
    for action, verb in (("add", "add what a search finds"), ("drop", "drop what a search finds")):
        sub = actions.add_parser(action, help=f"{verb} (same filters as 'archiver search')")
        sub.add_argument("case", metavar="CASE")
        add_filters(sub)
        sub.add_argument("--item", action="append", default=[], help="an item, ACCOUNT:PLATFORM-ID (repeatable)")
        sub.set_defaults(handler=run_change, change=action)
    listing = actions.add_parser("list", help="every case")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=run_list)
    show = actions.add_parser("show", help="a case: details, the searches that built it, its items")
    show.add_argument("case", metavar="CASE")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=run_show)


def run_new(app: App, args: argparse.Namespace) -> int:
    details = cases.CaseDetails(args.case, args.kind, args.requester, args.description, args.received, args.due)
    with app.db.session() as session:
        try:
            cases.open_case(session, details, audit.actor())
        except cases.CaseError as exc:
            raise Failure(str(exc)) from None
    print(f"case {args.case} opened ({args.kind}); add items with: archiver request add {args.case} [WORDS] [filters]")
    return EXIT_OK


def run_change(app: App, args: argparse.Namespace) -> int:
    query = checked_query(app, args)
    with app.db.session() as session:
        try:
            case = cases.get_case(session, args.case)
            refs = [item_ref(session, find_item(session, ref)) for ref in args.item]
        except (cases.CaseError, ItemNotFound) as exc:
            raise Failure(str(exc)) from None
        if not refs and not cases.has_criteria(query):
            raise Failure(f"say what to {args.change}: words, a filter (--account, --since, --state…) or --item")
        if args.change == "add":
            count = cases.add_items(session, case, query, refs, audit.actor())
        else:
            count = cases.drop_items(session, case, query, refs, audit.actor())
        total = cases.summary(session, case)["items"]
    verb = "added" if args.change == "add" else "dropped"
    print(f"{count} item(s) {verb}; case {args.case} now holds {total} item(s)")
    return EXIT_OK


def run_list(app: App, args: argparse.Namespace) -> int:
    with app.db.session() as session:
        rows = cases.list_cases(session)
        audit.record(session, "case.listed", cases=len(rows))
    if args.json:
        print_json(rows)
    else:
        print_table(rows, ["name", "kind", "requester", "received", "due", "items", "created_by"])
    return EXIT_OK


def run_show(app: App, args: argparse.Namespace) -> int:
    with app.db.session() as session:
        try:
            case = cases.get_case(session, args.case)
        except cases.CaseError as exc:
            raise Failure(str(exc)) from None
        shown = cases.summary(session, case) | {"searches": cases.searches(session, case),
                                                "members": cases.members(session, case)}
        audit.record(session, "case.viewed", case.name)
    if args.json:
        print_json(shown)
        return EXIT_OK
    print(f"case {shown['name']} ({shown['kind']}); requester {shown['requester'] or '-'}; "
          f"received {shown['received'] or '-'}; due {shown['due'] or '-'}")
    if shown["description"]:
        print(f"  {shown['description']}")
    print(f"  opened {shown['created_at']} by {shown['created_by']}; {shown['items']} item(s)")
    for search in shown["searches"]:
        print(f"  {search['at']} {search['by']} {search['action']} {search['items']}: {search['query']}")
    print()
    print_table(shown["members"], ["item_id", "account", "kind", "state", "posted", "author", "text"])
    return EXIT_OK
