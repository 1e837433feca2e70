"""Log lines: ours at INFO for the daemons, libraries at WARNING, as text or JSON, never a secret.

``archiver run`` and ``archiver serve`` log their own INFO lines by default (start, one line
per harvest, alerts, stop); other commands only warnings unless ``-v``. Libraries (urllib3,
boto3, APScheduler, waitress…) stay at WARNING unless ``-vv``. ``--log-format json`` writes
one JSON object per line (``time``, ``level``, ``logger``, ``message`` and the line's fields,
such as ``account`` or ``warcs``) for log shippers.

Secrets are masked twice: the filter rewrites each record's message, and the formatter
masks the finished line, which also covers tracebacks and extra fields.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

from pythonjsonlogger.json import JsonFormatter

from archiver.capture.redact import RedactingLogFilter, Redactor

OWN_LOGGERS = ("archiver", "connectors", "storage")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FORMATS = ("text", "json")


class RedactingFormatter(logging.Formatter):
    """Any formatter, with every known secret masked in the finished line."""

    def __init__(self, inner: logging.Formatter, redactor: Redactor):
        super().__init__()
        self.inner, self.redactor = inner, redactor

    def format(self, record: logging.LogRecord) -> str:
        return self.redactor.text(self.inner.format(record))


class _UtcJsonFormatter(JsonFormatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


def formatter(kind: str) -> logging.Formatter:
    if kind == "json":
        return _UtcJsonFormatter(["asctime", "levelname", "name", "message"],
                                 rename_fields={"asctime": "time", "levelname": "level", "name": "logger"})
    return logging.Formatter(TEXT_FORMAT)


def configure(verbosity: int = 0, kind: str = "text", daemon: bool = False) -> RedactingLogFilter:
    """Set up logging for one command; returns the filter to teach the config's secrets."""
    secrets = RedactingLogFilter()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(formatter(kind), secrets.redactor))
    handler.addFilter(secrets)
    logging.basicConfig(level=logging.DEBUG if verbosity >= 2 else logging.WARNING, handlers=[handler], force=True)
    own = logging.DEBUG if verbosity >= 2 else logging.INFO if verbosity or daemon else logging.WARNING
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(own)
    # PDF rendering talks about fonts at WARNING; only worth hearing when debugging.
    for noisy in ("weasyprint", "fontTools"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbosity >= 2 else logging.ERROR)
    return secrets
