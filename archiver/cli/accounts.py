"""``archiver accounts``: the configured accounts with what the index knows of each."""

from __future__ import annotations

import argparse
from typing import Any

from archiver import overview
from archiver.cli.app import App, print_json, print_table
from archiver.leases import live_holders
from archiver.runplan import RunPlan, plan


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser("accounts", help="list configured accounts and their harvest state")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)


def account_rows(app: App) -> list[dict[str, Any]]:
    with app.db.session() as session:
        rows = overview.account_rows(session, app.config)
    plans = plan(app.db, app.config)
    holders = live_holders(app.db)
    for row, account in zip(rows, app.config.accounts, strict=True):
        planned = plans[account.name]
        row.update(planned.as_dict())
        row["harvesting_on"] = holders.get(account.name)  # the daemon (host:pid:…) harvesting it now
        row["budget"] = _budget(planned)
    return rows


def _budget(planned: RunPlan) -> dict[str, Any] | None:
    """The credential's budget (X paid reads, YouTube units): used, remaining, projected, reset."""
    if planned.budget is None:
        return None
    budget = planned.budget.as_dict()
    if planned.projected is not None:  # from the schedules and recent runs' cost, rather than the rate so far
        budget["projected"] = planned.projected
    return budget


def _budget_line(budget: dict[str, Any] | None) -> str:
    if not budget:
        return ""
    line = (f"{budget['used']:,}/{budget['limit']:,} {budget['unit']}, projected {budget['projected']:,}, "
            f"resets {budget['resets_at']}")
    return line + (f"; EXHAUSTED until {budget['exhausted_until']}" if budget["exhausted_until"] else "")


def run(app: App, args: argparse.Namespace) -> int:
    rows = account_rows(app)
    if args.json:
        print_json(rows)
    else:
        for row in rows:
            row["budget"] = _budget_line(row["budget"])
        print_table(rows, ["name", "platform", "schedule", "status", "items", "last_harvest", "last_result",
                           "quarantined", "status_reason", "credential", "budget", "next_run"])
        for row in rows:
            for record in row["quarantined_records"]:
                print(f"quarantined: {row['name']}: {record['warc_key']} record {record['record_id']} "
                      f"({record['url']}): {record['error']}")
        for note in dict.fromkeys(row["schedule_note"] for row in rows if row["schedule_note"]):
            print(f"schedule stretched: {note}")
    return 0
