"""``archiver coverage ACCOUNT [--since --until] [--json]``: was capture complete, and where were the gaps."""

from __future__ import annotations

import argparse

from archiver import audit
from archiver.cli.app import App, moment, print_json
from archiver.coverage import coverage


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser("coverage", help="whether capture of an account was complete over a period")
    parser.add_argument("account", metavar="ACCOUNT", help="account name from the config")
    parser.add_argument("--since", type=moment, help="start of the period (default: the first harvest)")
    parser.add_argument("--until", type=moment, help="end of the period (default: now)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)


def run(app: App, args: argparse.Namespace) -> int:
    account = app.config.account(args.account)
    with app.db.session() as session:
        statement = coverage(session, account.name, account.schedule, args.since, args.until)
        audit.record(session, "coverage", account.name, since=statement["from"], until=statement["to"],
                     verdict=statement["verdict"])
    if args.json:
        print_json(statement)
        return 0
    print(f"Coverage of {statement['account']} from {statement['from']} to {statement['to']}: "
          f"{statement['verdict']}")
    print(f"  {statement['complete_harvests']} of {statement['harvests']} harvests listed the account completely "
          f"(expected every {statement['expected_interval_seconds'] // 60} minutes)")
    for span in statement["spans"]:
        if span["state"] == "covered":
            print(f"  covered   {span['from']} — {span['to']}")
            continue
        causes = "; ".join(c["meaning"] for c in span["causes"]) or "no harvest yet"
        filled = f"; filled at {span['filled_at']}" if span["filled_at"] else ""
        missing = "; content from this span may be missing" if span["may_be_missing"] else ""
        print(f"  {span['state']:<9} {span['from']} — {span['to']}: {causes}{filled}{missing}")
    if statement["quarantined"]:
        print(f"  {len(statement['quarantined'])} record(s) captured but not indexed (quarantined; `archiver "
              "reindex` tries them again after an upgrade):")
    for record in statement["quarantined"]:
        print(f"  quarantined {record['warc_key']} record {record['record_id']} ({record['url']}): {record['error']}")
    return 0
