"""What every command shares: the config, the index, the store, output, and exit codes.

Exit codes (docs/PRODUCT.md): 0 success, 1 failure with a one-line reason on stderr, 2 bad usage
or bad config. Resources are opened on first use, so ``check-config`` never needs a database
and a typo in the config stops every command before anything runs.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any

from archiver import audit
from archiver.capture.redact import RedactingLogFilter
from archiver.config import Config, config_path, configured_secrets, load_config
from archiver.exports.cells import tsv_cell
from archiver.index.db import IndexDB, IndexUnavailable, open_index
from archiver.recovery import Recovery, RecoveryReport
from storage import Storage, StorageError, open_storage

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
log = logging.getLogger("archiver")


class Failure(Exception):
    """The command could not do its job; the message is the one line the operator sees."""


class UsageError(Exception):
    """Bad usage argparse cannot see (search words the parser refuses, an unknown account): one line, exit 2."""


class App:
    def __init__(self, args: argparse.Namespace, log_filter: RedactingLogFilter | None = None):
        self.args = args
        self.log_filter = log_filter
        self._config: Config | None = None
        self._db: IndexDB | None = None
        self._storage: Storage | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(config_path(self.args.config))
            if self.log_filter is not None:
                self.log_filter.add_secrets(configured_secrets(self._config))
        return self._config

    def reread_config(self) -> Config:
        """The config file read again (a daemon's SIGHUP); raises ConfigError and keeps the old one if bad."""
        path = config_path(self.args.config)
        config = load_config(path)
        if self.log_filter is not None:
            self.log_filter.add_secrets(configured_secrets(config))
        self._config = config
        with self.db.session() as session:
            audit.note_config(session, config.digest, str(path))
        return config

    @property
    def db(self) -> IndexDB:
        if self._db is None:
            try:
                self._db = open_index(self.config.database_url)
            except IndexUnavailable as exc:
                raise Failure(str(exc)) from None
            with self._db.session() as session:
                audit.note_config(session, self.config.digest, str(config_path(self.args.config)))
        return self._db

    @property
    def storage(self) -> Storage:
        if self._storage is None:
            try:
                store = open_storage(self.config)
                store.check()
            except StorageError as exc:
                raise Failure(str(exc)) from None
            self._storage = store
        return self._storage

    def recover(self) -> RecoveryReport:
        """Finish what an earlier run left half done, before doing anything new."""
        report = Recovery(self.config, self.db, self.storage).run()
        for key in report.completed:
            log.warning("recovered half-written WARC %s (cut back to its last whole record)", key)
        for key in report.stored:
            log.warning("stored WARC left in the spool by an earlier run: %s", key)
        for problem in report.errors:
            log.error("%s", problem)
        return report

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    """A table on a terminal; tab-separated lines when piped, each cell safe to open in a spreadsheet."""
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(*columns)
        for row in rows:
            table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
        Console().print(table)
        return
    print("\t".join(columns))
    for row in rows:
        print("\t".join(tsv_cell(row.get(c)) for c in columns))


def at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number no smaller than ``minimum`` (else usage error, exit 2).

    >>> at_least(1)("5")
    5
    """
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, not {value}")
        return value

    return parse


def moment(text: str) -> datetime:
    """A --since/--until value: a date (midnight UTC) or an ISO 8601 time (UTC if no zone)."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), UTC)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (2026-03-01) or time (2026-03-01T12:00)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
