"""``archiver alerts [--json]`` (the conditions open now) and ``archiver alerts test`` (one of each kind)."""

from __future__ import annotations

import argparse
from typing import Any

from archiver.alerts.conditions import KINDS
from archiver.alerts.monitor import AlertMonitor, open_rows
from archiver.cli.app import EXIT_OK, App, Failure, print_json, print_table
from archiver.config import ConfigError


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser("alerts", help="list the conditions alerts are open for; 'alerts test' sends samples")
    parser.add_argument("action", nargs="?", choices=["test"],
                        help="test: send one alert of every kind through every configured channel")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)


def _storage_problem(app: App) -> str | None:
    try:
        app.storage  # noqa: B018 - opening it asks the store
    except Failure as exc:
        return str(exc)
    return None


def open_conditions(app: App) -> list[dict[str, Any]]:
    """What holds now (the checks run afresh), with what the daemon's register says of each."""
    monitor = AlertMonitor(app.config, app.db, lambda: _storage_problem(app))
    found, failed = monitor.conditions()
    recorded = open_rows(app.db)
    rows = []
    for condition in found:
        row = recorded.get(condition.key)
        since = row.since if row is not None else condition.since
        rows.append({"kind": condition.kind, "title": KINDS[condition.kind].title, "subject": condition.subject,
                     "account": condition.account, "cause": condition.cause,
                     "since": since.isoformat(timespec="seconds") if since else None, "command": condition.command,
                     "alerted": row.notified if row is not None else {}})
    for row in recorded.values():  # a check that failed here: say what the daemon last saw
        if row.kind in failed and all(r["kind"] != row.kind or r["subject"] != row.subject for r in rows):
            rows.append({"kind": row.kind, "title": KINDS[row.kind].title if row.kind in KINDS else row.kind,
                         "subject": row.subject, "account": row.account, "cause": f"{row.cause} (as last recorded; "
                         f"checking now failed: {failed[row.kind]})", "since": row.since.isoformat(timespec="seconds"),
                         "command": row.command, "alerted": row.notified})
    return rows


def _alerted(entry: dict[str, Any]) -> str:
    return ", ".join(f"{name} {value['sent'][:16]}" for name, value in sorted(entry.items()) if value.get("sent"))


def run(app: App, args: argparse.Namespace) -> int:
    if args.action == "test":
        return _test(app, args)
    rows = open_conditions(app)
    if args.json:
        print_json(rows)
    elif not rows:
        print("no open alert conditions")
    else:
        print_table([{**row, "who": row["account"] or row["subject"], "alerted": _alerted(row["alerted"])}
                     for row in rows], ["title", "who", "since", "cause", "command", "alerted"])
    return EXIT_OK


def _test(app: App, args: argparse.Namespace) -> int:
    monitor = AlertMonitor(app.config, app.db, lambda: None)
    if not monitor.channels:
        raise ConfigError(["alerts: no channel to test; set webhook_url (or webhook_url_env) or smtp_host "
                           "(see config.example.toml)"])
    results = monitor.send_tests()
    if args.json:
        print_json([{"channel": c, "kind": k, "problem": p} for c, k, p in results])
    else:
        for channel in dict.fromkeys(c for c, _, _ in results):
            mine = [(k, p) for c, k, p in results if c == channel]
            failed = [f"{k}: {p}" for k, p in mine if p]
            print(f"{channel}: sent {len(mine) - len(failed)} of {len(mine)} test alert(s)"
                  + (f"; not sent: {failed[0]}" if failed else ""))
    problems = [f"{c}: {p}" for c, _, p in results if p]
    if problems:
        raise Failure(f"test alerts not delivered by {problems[0]}")
    return EXIT_OK
