"""The ``archiver`` command. Each subcommand lives in its own module and registers itself."""

from __future__ import annotations

import argparse
import logging
import sys

from archiver import __version__
from archiver.capture.redact import RedactingLogFilter
from archiver.cli import (
    accounts,
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
    verify,
)
from archiver.cli.app import EXIT_FAILURE, EXIT_USAGE, App, Failure
from archiver.config import ConfigError

COMMANDS = (check_config, accounts, harvest, search, request, export, reindex, coverage, audit, hold, retention, verify,
            demo, serve)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="archiver",
        description="Records-retention archiver for government social media.",
    )
    parser.add_argument("--config", metavar="PATH",
                        help="config file (default: $ARCHIVER_CONFIG, else ./archiver.toml)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log detail (-vv for debug)")
    parser.add_argument("--version", action="version", version=f"archiver {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(commands)
    return parser


def _logging(verbosity: int) -> RedactingLogFilter:
    level = logging.WARNING - 10 * min(verbosity, 2) if verbosity else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    secrets = RedactingLogFilter()
    handler.addFilter(secrets)
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # PDF rendering talks about fonts at WARNING; only worth hearing when debugging.
    for noisy in ("weasyprint", "fontTools"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbosity >= 2 else logging.ERROR)
    return secrets


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    app = App(args, _logging(args.verbose))
    try:
        return int(args.handler(app, args) or 0)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"archiver: {exc.source}: {problem}", file=sys.stderr)
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
