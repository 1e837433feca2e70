"""SIGHUP re-reads the config (``systemctl reload archiver``).

A valid config replaces the schedule and the alert settings; harvests in flight finish under
the config they started with. An invalid one is refused with a clear line and the running config
kept. Where the records live (index, store, data and spool folders) and where the service
listens cannot change under a running daemon: such a change is refused too, and needs a restart.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from archiver.config import Config

# (what to call it, how to read it): changing these needs a restart.
RESTART_ONLY = (
    ("[database]", lambda c: c.database_url),
    ("[storage]", lambda c: (c.storage_url, c.storage)),
    ("data_dir", lambda c: c.data_dir),
    ("the spool folder", lambda c: c.spool_dir),
    ("[service]", lambda c: c.service),
)


def restart_needed(running: Config, new: Config) -> list[str]:
    """What ``new`` changes that only a restart can (empty: it can be applied now)."""
    return [name for name, read in RESTART_ONLY if read(running) != read(new)]


@contextmanager
def reload_on_sighup(requested: threading.Event) -> Iterator[None]:
    """While inside, SIGHUP sets ``requested`` (the daemon's loop does the reload, not the handler)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGHUP, lambda _signum, _frame: requested.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGHUP, previous)
