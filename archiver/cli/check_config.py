"""``archiver check-config``: every problem in the config, each with its key path and a hint."""

from __future__ import annotations

import argparse
import sys

from archiver.cli.app import EXIT_OK, EXIT_USAGE, App
from archiver.config import missing_credentials
from archiver.index.db import safe_url


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser("check-config", help="validate the config and report every problem")
    parser.add_argument("--connect", action="store_true", help="also open the index and reach the storage")
    parser.set_defaults(handler=run)


def run(app: App, args: argparse.Namespace) -> int:
    config = app.config  # a bad config raises ConfigError: every problem is printed, exit 2
    problems = list(missing_credentials(config))
    for problem in problems:
        print(f"archiver: {config_source(args)}: {problem}", file=sys.stderr)
    if args.connect:
        app.db.check()
        app.storage.check()
    if problems:
        return EXIT_USAGE
    print(f"config OK: {len(config.accounts)} account(s); index {safe_url(config.database_url)}; "
          f"storage {config.storage_url}")
    return EXIT_OK


def config_source(args: argparse.Namespace) -> str:
    from archiver.config import config_path

    return str(config_path(args.config))
