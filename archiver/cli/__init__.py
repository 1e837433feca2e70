"""The ``archiver`` command. Each subcommand lives in its own module and registers itself."""

from __future__ import annotations

import argparse
import os
import sys

from archiver import __version__
from archiver.cli import (
    accounts,
    alerts,
    audit,
    check_config,
    coverage,
    demo,
    export,
    harvest,
    hold,
    reindex,
    request,
    retention,
    search,
    serve,
    users,
    verify,
)
from archiver.cli.app import EXIT_FAILURE, EXIT_USAGE, App, Failure, UsageError
from archiver.config import ConfigError
from archiver.service import logs

COMMANDS = (check_config, accounts, harvest, search, request, export, reindex, coverage, audit, hold, retention, verify,
            demo, serve, users, alerts)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="archiver",
        description="Records-retention archiver for government social media.",
    )
    parser.add_argument("--config", metavar="PATH",
                        help="config file (default: $ARCHIVER_CONFIG, else ./archiver.toml)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log detail (-vv for debug)")
    parser.add_argument("--log-format", choices=logs.FORMATS, default="text",
                        help="log lines as text (default) or one JSON object per line, for log shippers")
    parser.add_argument("--version", action="version", version=f"archiver {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(commands)
    return parser


def _discard_stdout() -> None:
    """After the reader of stdout went away, send what is still buffered nowhere, so Python's own
    flush at exit does not print a BrokenPipeError of its own."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a file (tests capture it in memory)
        pass


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    app = App(args, logs.configure(args.verbose, args.log_format, getattr(args, "daemon_logging", False)))
    try:
        code = int(args.handler(app, args) or 0)
        sys.stdout.flush()  # a reader that went away (``| head``) shows here, not at interpreter exit
        return code
    except BrokenPipeError:
        _discard_stdout()
        return EXIT_FAILURE  # the output was cut short by its reader: quietly, like any Unix tool
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"archiver: {exc.source}: {problem}", file=sys.stderr)
        return EXIT_USAGE
    except UsageError as exc:
        print(f"archiver: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Failure as exc:
        print(f"archiver: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("archiver: interrupted", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        app.close()


if __name__ == "__main__":
    sys.exit(main())
