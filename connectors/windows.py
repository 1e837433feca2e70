"""Rate-limit windows shared by every harvest on one credential (see archiver/governor.py)."""

from __future__ import annotations

import threading
from typing import Any


class SharedWindows:
    """What a platform last announced about one credential's rate-limit windows, by window
    (a route family, "graph usage", ...): shared by every harvest on the credential, so one
    account's harvest slows down when another's answers say the window is nearly spent.

    The credential's governor (archiver/governor.py) holds one; a harvest without a governor gets
    its own. Thread-safe: the daemon's harvests run on several threads.

    >>> windows = SharedWindows()
    >>> windows.put("/2/users/:id/tweets", (0, 1767225660)); windows.get("/2/users/:id/tweets")
    (0, 1767225660)
    >>> windows.pop("/2/users/:id/tweets"), windows.get("/2/users/:id/tweets", "none")
    ((0, 1767225660), 'none')
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, Any] = {}

    def get(self, window: str, default: Any = None) -> Any:
        with self._lock:
            return self._windows.get(window, default)

    def put(self, window: str, value: Any) -> None:
        with self._lock:
            self._windows[window] = value

    def pop(self, window: str) -> Any:
        with self._lock:
            return self._windows.pop(window, None)
