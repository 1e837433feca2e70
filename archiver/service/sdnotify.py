"""systemd's notification protocol (``Type=notify``): READY, WATCHDOG, RELOADING, STOPPING, STATUS.

One datagram to the socket systemd names in ``$NOTIFY_SOCKET`` (a path, or ``@name`` in the
abstract namespace); nothing happens when the variable is unset, so the same code runs by hand.
``Watchdog`` pings every half of ``$WATCHDOG_USEC`` while its liveness test passes, so a hung
daemon is restarted by systemd (``WatchdogSec=``).

>>> notify("READY=1")  # not under systemd: nothing to tell
False
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


def notify(*states: str) -> bool:
    """Send ``states`` ("READY=1", "STATUS=…") to systemd; True if there was a socket to send to."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall("\n".join(states).encode())
    except OSError as exc:
        log.warning("could not notify systemd (%s): %s", ", ".join(states), exc)
        return False
    return True


def reloading() -> bool:
    """Tell systemd a reload has begun (send ``ready()`` when it is done)."""
    return notify("RELOADING=1", f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")


def watchdog_seconds() -> float | None:
    """The watchdog period systemd asks for (``WatchdogSec=``), if it asks this process."""
    usec, pid = os.environ.get("WATCHDOG_USEC"), os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid.isdigit() and int(pid) != os.getpid()):
        return None
    try:
        return int(usec) / 1_000_000 or None
    except ValueError:
        return None


class Watchdog:
    """Pings systemd's watchdog while ``alive()`` says the service works; silent otherwise."""

    def __init__(self, alive: Callable[[], bool]):
        self.alive = alive
        self.period = watchdog_seconds()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Watchdog:
        if self.period is not None and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="systemd-watchdog", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        assert self.period is not None
        while not self._stop.wait(self.period / 2):
            if self.alive():
                notify("WATCHDOG=1")
            else:
                log.error("not answering systemd's watchdog: the service is not working; systemd will restart it")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
