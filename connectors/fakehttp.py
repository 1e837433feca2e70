"""The common part of the local fake REST platforms (Mastodon, Bluesky, LinkedIn): a real HTTP/1.1
server on 127.0.0.1 (a thread per connection, in a daemon thread) with the bad days every API has,
switchable while it runs::

    server.status = 503        # every API call answers this (with the platform's error body)
    server.fail_next = 2       # the next two API calls answer 500
    server.delay_seconds = 6   # answers come late (a client with a 5 s timeout gives up)
    server.truncate = True     # JSON bodies cut in half
    server.budget = 30         # calls per window_seconds; past it 429 with the platform's headers
    server.expired.add(token)  # that credential is refused (401, the platform's body)

Checked in this order: delay, ``status``, ``fail_next``, credentials (``check_token``), budget,
then the platform's answer (``route``). ``/media/NAME`` serves media bytes. A platform subclass
gives ``route``, ``rate_headers``, ``throttled``, ``fault``, ``check_token`` and ``media``.

A fake's own error is never quiet. A fake that raises while answering (a bug in the fake, not a
bad day it was asked to play) would only drop the connection, and the archiver would honestly
record "fetch failed": the test would pass while nothing was tested. ``LoopbackServer``, under
every fake, keeps each such error; ``take_errors()`` hands them over and the test suite's fixture
(tests/conftest.py) fails the test that caused them. A client going away is not an error.
"""

from __future__ import annotations

import json
import socketserver
import sys
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

HOST = "127.0.0.1"
Answer = tuple[int, Any, list[tuple[str, str]]]


@dataclass(frozen=True)
class FakeCall:
    path: str
    query: dict[str, str]
    pairs: list[tuple[str, str]]  # the query as sent, repeated keys included
    headers: dict[str, str]
    status: int

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


_errors: list[str] = []
_errors_lock = threading.Lock()


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = allow_reuse_address = True
    fake: Any

    def server_bind(self) -> None:  # HTTPServer's would look the address up in DNS
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = HOST, self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            return
        text = f"{type(self).__name__} on port {self.server_address[1]}: {traceback.format_exc()}"
        with _errors_lock:
            _errors.append(text)
        print(text, file=sys.stderr)


def take_errors() -> list[str]:
    """Every error a fake server raised since the last call (each with its traceback)."""
    with _errors_lock:
        found = list(_errors)
        _errors.clear()
    return found


class LocalServer:
    """Serves ``handler_class()`` on 127.0.0.1 (``port`` 0: an ephemeral one) in a daemon thread;
    a context manager. The handler finds its fake as ``self.server.fake``."""

    port: int
    base_url: str
    _httpd: LoopbackServer | None
    _thread: threading.Thread | None
    _stopping: threading.Event

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def start(self) -> Self:
        if self._httpd is None:
            self._stopping.clear()
            self._httpd = LoopbackServer((HOST, self.port), self.handler_class())
            self._httpd.fake = self
            self.port = self._httpd.server_address[1]
            self.base_url = f"http://{HOST}:{self.port}"
            self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                            name=f"{type(self).__name__}:{self.port}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            self._stopping.set()
            httpd.shutdown()
            httpd.server_close()
            if self._thread is not None:
                self._thread.join(5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class FakeApiServer(LocalServer):
    """Subclass and give the platform's answers; a context manager."""

    def __init__(self, port: int = 0):
        self.port = port
        self.base_url = ""
        self.calls: list[FakeCall] = []
        self.status: int | None = None
        self.fail_next = 0
        self.delay_seconds = 0.0
        self.truncate = False
        self.budget: int | None = None
        self.window_seconds = 1.0
        self.expired: set[str] = set()
        self._recent: deque[float] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: LoopbackServer | None = None
        self._thread: threading.Thread | None = None

    # What a platform says ------------------------------------------------------------------
    def route(self, path: str, query: dict[str, str], pairs: list[tuple[str, str]],
              headers: dict[str, str]) -> Answer:
        raise NotImplementedError

    def rate_headers(self, limit: int, remaining: int, reset: datetime) -> list[tuple[str, str]]:
        return []

    def throttled(self) -> tuple[int, Any]:
        return 429, {"error": "Too many requests"}

    def fault(self, status: int) -> Any:
        return {"error": "Internal server error"}

    def check_token(self, headers: dict[str, str]) -> tuple[int, Any, list[tuple[str, str]]] | None:
        return None

    def media(self, name: str) -> bytes | None:
        return None

    @staticmethod
    def bearer(headers: dict[str, str]) -> str | None:
        value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        scheme, _, token = value.partition(" ")
        return token.strip() or None if scheme.lower() == "bearer" else None

    # Running ------------------------------------------------------------------------------
    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def api_calls(self, part: str = "") -> list[FakeCall]:
        with self._lock:
            return [c for c in self.calls if not c.path.startswith("/media/") and part in c.path]

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _Handler

    def answer(self, path: str, pairs: list[tuple[str, str]], headers: dict[str, str]) -> Answer:
        query = dict(pairs)
        with self._lock:
            if self.status is not None or self.fail_next > 0:
                self.fail_next = max(self.fail_next - 1, 0)
                status = self.status or 500
                return status, self.fault(status), []
            refused = self.check_token(headers)
            if refused is not None:
                return refused
            now = time.monotonic()
            while self._recent and now - self._recent[0] >= self.window_seconds:
                self._recent.popleft()
            limit = self.budget or 300
            # announced a millisecond late: the header's microseconds are truncated, and a client that
            # wakes exactly at the announced reset must find the slot free, as on the real servers
            reset = datetime.now(UTC) + timedelta(seconds=0.001 + (self.window_seconds - (now - self._recent[0])
                                                                   if self._recent else self.window_seconds))
            if self.budget is not None and len(self._recent) >= self.budget:
                status, body = self.throttled()
                return status, body, self.rate_headers(limit, 0, reset)
            self._recent.append(now)
            rate = self.rate_headers(limit, max(limit - len(self._recent), 0), reset)
        status, body, extra = self.route(path, query, pairs, headers)
        return status, body, rate + extra


class JsonHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive, quiet, and one way to send an answer."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: LoopbackServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, data: bytes, content_type: str, extra: list[tuple[str, str]]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class _Handler(JsonHandler):

    def do_GET(self) -> None:
        fake, url = self.server.fake, urlsplit(self.path)
        pairs = parse_qsl(url.query, keep_blank_values=True)
        headers = dict(self.headers.items())
        try:
            if fake.delay_seconds and fake._stopping.wait(fake.delay_seconds):
                return
            if url.path.startswith("/media/"):
                data = fake.media(url.path[len("/media/"):])
                status = 200 if data is not None else 404
                self._send(status, data or b"not found", "image/jpeg" if data else "text/plain", [])
            else:
                status, body, extra = fake.answer(url.path, pairs, headers)
                data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False,
                                                                       separators=(",", ":")).encode()
                if fake.truncate and status == 200:
                    data = data[: len(data) // 2]
                self._send(status, data, "application/json; charset=utf-8", extra)
            with fake._lock:
                fake.calls.append(FakeCall(url.path, dict(pairs), pairs, headers, status))
        except OSError:
            self.close_connection = True
