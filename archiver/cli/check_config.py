"""``archiver check-config``: every problem in the config, each with its key path and a hint; then
whether the index and the storage answer (``--offline`` skips that).

Exit codes as everywhere: 2 for a config problem (nothing is contacted then), 1 when the index
or the storage does not answer (one line each, saying which and why), 0 when all is well.
"""

from __future__ import annotations

import argparse
import sys

from archiver.cli.app import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, App
from archiver.config import Config, missing_credentials
from archiver.governor import disagreements
from archiver.index.db import IndexDB, IndexUnavailable, safe_url
from connectors import registry
from storage import StorageError, open_storage


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser("check-config", help="validate the config, and check that index and storage answer")
    parser.add_argument("--offline", action="store_true", help="only validate; do not contact the index or storage")
    parser.add_argument("--connect", action="store_true", help=argparse.SUPPRESS)  # the default now; kept for scripts
    parser.set_defaults(handler=run)


def run(app: App, args: argparse.Namespace) -> int:
    config = app.config  # a bad config raises ConfigError: every problem is printed, exit 2
    problems = list(missing_credentials(config))
    for problem in problems:
        print(f"archiver: {config_source(args)}: {problem}", file=sys.stderr)
    if problems:
        return EXIT_USAGE
    where = f"index {safe_url(config.database_url)}; storage {config.storage_url}"
    if args.offline:
        print(f"config OK: {len(config.accounts)} account(s); {where} (not contacted: --offline)")
    else:
        failures = [problem for problem in (index_problem(config), storage_problem(config)) if problem]
        for problem in failures:
            print(f"archiver: {problem}", file=sys.stderr)
        if failures:
            return EXIT_FAILURE
        print(f"config OK: {len(config.accounts)} account(s); index {safe_url(config.database_url)} answers; "
              f"storage {config.storage_url} answers")
    if not config.accounts:  # valid, but harvest and run refuse it: say so before an operator finds out
        print("archiver: warning: no accounts in the config; `harvest` and `run` refuse to start until an "
              "[[accounts]] table is added (see config.example.toml)", file=sys.stderr)
    for account in config.accounts:  # what a platform must grant first (LinkedIn: an approved app)
        for line in registry[account.platform].access(account):
            print(f"  {account.name}: needs {line}")
    for line in disagreements(config):  # one credential, one allowance (archiver/governor.py)
        print(f"archiver: warning: {line}", file=sys.stderr)
    return EXIT_OK


def index_problem(config: Config) -> str | None:
    """Why the index does not answer, or None. Only connects: no migration, nothing written."""
    try:
        db = IndexDB(config.database_url)
    except IndexUnavailable as exc:
        return str(exc)
    try:
        db.check()
    except IndexUnavailable as exc:
        return str(exc)
    finally:
        db.dispose()
    return None


def storage_problem(config: Config) -> str | None:
    """Why the storage cannot be used (unreachable, no bucket, denied, no Object Lock...), or None."""
    try:
        open_storage(config).check()
    except StorageError as exc:
        return str(exc)
    return None


def config_source(args: argparse.Namespace) -> str:
    from archiver.config import config_path

    return str(config_path(args.config))
