"""``archiver accounts``: the configured accounts with what the index knows of each."""

from __future__ import annotations

import argparse
from typing import Any

from sqlalchemy import func, select

from archiver.cli.app import App, print_json, print_table
from archiver.index.models import Account, Harvest, Item


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser("accounts", help="list configured accounts and their harvest state")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)


def account_rows(app: App) -> list[dict[str, Any]]:
    rows = []
    with app.db.session() as session:
        for account in app.config.accounts:
            known = session.scalar(select(Account).where(Account.name == account.name))
            last = None
            items = 0
            if known is not None:
                last = session.scalar(select(Harvest).where(Harvest.account_id == known.id)
                                      .order_by(Harvest.started_at.desc()).limit(1))
                items = session.scalar(select(func.count(Item.id)).where(Item.account_id == known.id)) or 0
            rows.append({
                "name": account.name,
                "platform": account.platform,
                "id": account.id,
                "schedule": account.schedule,
                "status": known.status if known else "never harvested",
                "status_reason": known.status_reason if known else None,
                "items": items,
                "last_harvest": last.started_at.isoformat() if last else None,
                "last_result": last.status if last else None,
                "last_error": last.error if last else None,
            })
    return rows


def run(app: App, args: argparse.Namespace) -> int:
    rows = account_rows(app)
    if args.json:
        print_json(rows)
    else:
        print_table(rows, ["name", "platform", "schedule", "status", "items", "last_harvest", "last_result",
                           "status_reason"])
    return 0
