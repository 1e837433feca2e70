"""``archiver search`` and ``archiver show ITEM``."""

from __future__ import annotations

import argparse
import json
import sys

from archiver import audit
from archiver.cli.app import App, Failure, UsageError, at_least, moment, print_json, print_table
from archiver.items import ItemNotFound, ItemRef, find_item, item_history
from archiver.quarantine import parse_problems
from archiver.search import QueryError, SearchHit, SearchQuery, check_query, search, state_counts
from archiver.search.syntax import WORDS_HELP
from archiver.threads import thread, thread_lines

STATES = ("visible", "edited", "hidden", "deleted", "unavailable")


def add_filters(parser: argparse.ArgumentParser) -> None:
    """The search filters, shared by ``search`` and ``export``."""
    parser.add_argument("text", nargs="?", help=WORDS_HELP)
    parser.add_argument("--account", action="append", default=[], help="account name (repeatable)")
    parser.add_argument("--platform", action="append", default=[], help="platform (repeatable)")
    parser.add_argument("--since", type=moment, help="posted on or after (2026-03-01 or ISO time, UTC)")
    parser.add_argument("--until", type=moment, help="posted before (2026-06-01 or ISO time, UTC)")
    parser.add_argument("--captured-since", type=moment, help="first captured on or after (date or ISO time, UTC)")
    parser.add_argument("--captured-until", type=moment, help="first captured before (date or ISO time, UTC)")
    parser.add_argument("--state", action="append", default=[], choices=STATES, help="version state (repeatable)")
    parser.add_argument("--kind", action="append", default=[], help="post, comment, reply, entry, profile…")
    parser.add_argument("--author", help="author name contains")


def query_from(args: argparse.Namespace, limit: int = 50, offset: int = 0) -> SearchQuery:
    return SearchQuery(text=args.text, accounts=tuple(args.account), platforms=tuple(args.platform),
                       since=args.since, until=args.until,
                       captured_since=args.captured_since, captured_until=args.captured_until,
                       states=tuple(args.state), kinds=tuple(args.kind),
                       author=args.author, limit=limit, offset=offset)


def checked_query(app: App, args: argparse.Namespace, limit: int = 50, offset: int = 0) -> SearchQuery:
    """The search the arguments ask for, after the checks every face makes (search/checks.py):
    refused with exit 2 if it cannot run as asked; its notes on stderr, so --json output stays clean."""
    query = query_from(args, limit, offset)
    with app.db.session() as session:
        try:
            notes = check_query(session, query, [account.name for account in app.config.accounts])
        except QueryError as exc:
            raise UsageError(str(exc)) from None
    for note in notes:
        print(f"archiver: note: {note}", file=sys.stderr)
    return query


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser("search", help="find items by words and filters")
    add_filters(parser)
    parser.add_argument("--limit", type=at_least(1), default=50, help="results per page (default 50)")
    parser.add_argument("--offset", type=at_least(0), default=0, help="skip this many results")
    parser.add_argument("--counts", action="store_true",
                        help="instead of items: versions per account, month and state (e.g. with --state deleted)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run_search)
    show = commands.add_parser("show", help="an item with every version and the evidence behind each")
    show.add_argument("item", metavar="ITEM", help="ACCOUNT:PLATFORM-ID as search lists it (or the index's own id)")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(handler=run_show)


def run_search(app: App, args: argparse.Namespace) -> int:
    query = checked_query(app, args, args.limit, args.offset)
    if args.counts:
        with app.db.session() as session:
            counts = state_counts(session, query)
            audit.record(session, "search.counts", query=query.describe())
        if args.json:
            print_json(counts)
        else:
            print_table(counts, ["account", "month", "state", "versions"])
        return 0
    with app.db.session() as session:
        page = search(session, query)
        audit.record(session, "search", query=query.describe(), results=page.total,
                     results_exact=page.total_is_exact)
    if args.json:
        print_json({"total": page.total, "total_is_exact": page.total_is_exact, "offset": args.offset,
                    "items": [_named(hit) for hit in page.hits]})
        return 0
    rows = [_named(hit) | {"posted": (hit.posted_at.strftime("%Y-%m-%d %H:%M") if hit.posted_at else "")}
            for hit in page.hits]
    print_table(rows, ["item_id", "account", "kind", "state", "posted", "author", "snippet"])
    shown = f"{args.offset + 1} to {args.offset + len(page.hits)}" if page.hits else "0"
    print(f"{shown} of {page.total_text()} item(s)")
    return 0


def _named(hit: SearchHit) -> dict[str, object]:
    """A hit as shown: named by ACCOUNT:PLATFORM-ID, never by the index's row id (renumbered by reindex)."""
    return hit.as_dict() | {"item_id": str(ItemRef(hit.account, hit.platform_id))}


def run_show(app: App, args: argparse.Namespace) -> int:
    with app.db.session() as session:
        try:
            item = find_item(session, args.item)
        except ItemNotFound as exc:
            raise Failure(str(exc)) from None
        history = item_history(session, item)
        history["thread"] = thread(session, item)
        history["parse_problems"] = parse_problems(session, item.account_id, item.platform_id)
        audit.record(session, "item.viewed", history["id"])
    if args.json:
        print_json(history)
        return 0
    print(f"item {history['id']}  ({history['platform']} {history['kind']})")
    print(f"  state {history['state']}; posted {history['posted_at'] or 'unknown'}; author {history['author'] or '-'}")
    print(f"  url {history['url'] or '-'}")
    if history["metrics"]:
        counts = ", ".join(f"{k} {v}" for k, v in history["metrics"].items())
        print(f"  counts as last observed ({history['metrics_observed_at']}): {counts}")
    for version in history["versions"]:
        print(f"\n  version {version['seq']}: {version['state']}")
        if version["previous_last_observed_at"]:
            print(f"    changed between {version['previous_last_observed_at']} and {version['first_observed_at']}")
        print(f"    first observed {version['first_observed_at']}; last observed {version['last_observed_at']}")
        for label in ("first_evidence", "last_evidence"):
            evidence = version[label]
            if evidence:
                print(f"    {label.replace('_', ' ')}: {evidence['warc']} record {evidence['record_id']} "
                      f"offset {evidence['offset']} sha256 {evidence['sha256']}")
        print("    content: " + json.dumps(version["content"], ensure_ascii=False)[:2000])
    for problem in history["parse_problems"]:
        print(f"\n  parse problem in {problem['warc']} record {problem['record_id']} ({problem['captured_at']}): "
              f"{problem['problem']} — no version was made from it")
    for medium in history["media"]:
        captured = medium["captures"][0] if medium["captures"] else None
        where = (f"{captured['warc']} offset {captured['offset']} sha256 {captured['sha256']}"
                 if captured else "not captured")
        print(f"\n  media {medium['url']}: {where}")
    tree = history["thread"]
    if tree["count"]:
        print(f"\n  thread: {tree['count']} comment(s) and replies" + (" (cut short)" if tree["truncated"] else ""))
        for line in thread_lines(tree):
            print("    " + line)
    return 0
