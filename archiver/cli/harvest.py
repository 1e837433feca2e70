"""``archiver harvest [ACCOUNT…]`` (once, now) and ``archiver run`` (the daemon)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from archiver.cli.app import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, App, Failure
from archiver.config import ConfigError, missing_credentials
from archiver.harvest import HarvestOutcome, HarvestRunner
from connectors.base import Page

log = logging.getLogger("archiver")


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser("harvest", help="harvest accounts now (all, or those named)")
    parser.add_argument("accounts", nargs="*", metavar="ACCOUNT", help="account names from the config")
    parser.add_argument("--json", action="store_true", help="machine-readable outcome per account")
    parser.set_defaults(handler=run_harvest)
    daemon = commands.add_parser("run", help="harvest every account on its schedule until stopped")
    daemon.set_defaults(handler=run_daemon, daemon_logging=True)


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM and Ctrl-C ask the work in flight to finish and seal, rather than die mid-write."""
    previous = {}

    def ask_to_stop(signum: int, _frame: object) -> None:
        if stop.is_set():  # a second signal: the operator insists
            raise KeyboardInterrupt
        log.warning("stopping: finishing and sealing what is in flight (signal %d again to abort)", signum)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, ask_to_stop)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class _Progress:
    """Pages and items per account: a live bar on a terminal, log lines otherwise."""

    def __init__(self) -> None:
        self.live = sys.stderr.isatty()
        self._progress = None
        self._tasks: dict[str, int] = {}
        if self.live:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                                      transient=True)
            self._progress.start()
        self.counts: dict[str, list[int]] = {}

    def page(self, account: str, page: Page) -> None:
        pages, items = self.counts.setdefault(account, [0, 0])
        self.counts[account] = [pages + 1, items + len(page.observations)]
        text = f"{account}: {pages + 1} pages, {items + len(page.observations)} items"
        if self._progress is not None:
            if account not in self._tasks:
                self._tasks[account] = self._progress.add_task(text, total=None)
            self._progress.update(self._tasks[account], description=text)
        elif (pages + 1) % 50 == 0:
            log.info("%s", text)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()


def _report(outcome: HarvestOutcome) -> str:
    return (f"{outcome.account}: {outcome.status} — {outcome.pages} pages, {outcome.observations} items seen, "
            f"{outcome.new_versions} new versions, {outcome.media} media, {len(outcome.warcs)} WARC(s)")


def run_harvest(app: App, args: argparse.Namespace) -> int:
    config = app.config
    accounts = config.selected(args.accounts)
    missing = [p for p in missing_credentials(config) if any(f"accounts[{config.accounts.index(a)}]" in p
                                                               for a in accounts)]
    if missing:
        for problem in missing:
            print(f"archiver: {problem}", file=sys.stderr)
        return EXIT_USAGE
    if not accounts:
        raise ConfigError(["no accounts in the config; add an [[accounts]] table (see config.example.toml)"])
    app.recover()
    stop = threading.Event()
    progress = _Progress()
    outcomes = []
    app.storage.stop_when(stop, config.storage.stop_grace_seconds)  # a hung store cannot hold a stop for long
    with stop_on_signals(stop):
        runner = HarvestRunner(config, app.db, app.storage, stop=stop, on_page=progress.page)
        try:
            for account in accounts:
                if stop.is_set():
                    break
                outcomes.append(runner.run(account))
        finally:
            progress.close()
    if args.json:
        from archiver.cli.app import print_json

        print_json([o.__dict__ for o in outcomes])
    else:
        for outcome in outcomes:
            print(_report(outcome))
    failed = [o for o in outcomes if not o.ok and o.status != "partial"]
    for outcome in failed:
        print(f"archiver: {outcome.account}: {outcome.error}", file=sys.stderr)
    return EXIT_FAILURE if failed else EXIT_OK


def run_daemon(app: App, args: argparse.Namespace) -> int:
    from archiver.daemon import Daemon
    from archiver.service.reload import reload_on_sighup
    from archiver.service.supervision import ListenError
    from archiver.sharing import DaemonRefused, sole_daemon

    config = app.config
    if not config.accounts:
        raise ConfigError(["no accounts in the config; add an [[accounts]] table (see config.example.toml)"])
    try:
        with sole_daemon(app.db):  # on SQLite; on PostgreSQL daemons share the accounts through leases
            app.recover()
            stop = threading.Event()
            app.storage.stop_when(stop, config.storage.stop_grace_seconds)
            daemon = Daemon(config, app.db, app.storage, stop, reread=app.reread_config)
            with stop_on_signals(stop), reload_on_sighup(daemon.reload_requested):
                daemon.run_until_stopped()
    except (DaemonRefused, ListenError) as exc:
        raise Failure(str(exc)) from None
    return EXIT_OK
