"""The HTTP side shared by the X and YouTube fakes: a real JSON server on 127.0.0.1 in a thread.

A fake subclasses ``FakeJsonServer`` and implements ``answer(method, path, query, headers, body)``
returning (status, JSON body or bytes, extra headers). The base serves it over HTTP/1.1 with
keep-alive, gzip when the client accepts it (both platforms compress), the faults every platform
has on its bad days (a fixed ``status``, ``fail_next`` 5xx answers, ``delay_seconds``, a body cut
in half with ``truncate``), and a log of the calls. A fake's own exception answers 599 and is kept
in ``errors``: a test that sees one fails, it never looks like a platform outage.
"""

from __future__ import annotations

import gzip
import json
import socketserver
import threading
import traceback
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

HOST = "127.0.0.1"
Answer = tuple[int, Any, list[tuple[str, str]]]


@dataclass(frozen=True)
class RecordedCall:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int


class FakeJsonServer:
    """Serves ``answer`` at http://127.0.0.1:PORT; a context manager."""

    content_type = "application/json; charset=utf-8"

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.base_url = ""
        self.calls: list[RecordedCall] = []
        self.errors: list[str] = []  # the fake's own failures (a test failure, never an outage)
        self.status: int | None = None  # every call answers this while set (a 5xx outage)
        self.fail_next = 0  # the next N calls answer 503
        self.delay_seconds = 0.0
        self.truncate = False  # successful JSON bodies cut in half
        self.gzip = True
        self.lock = threading.RLock()
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # To implement -----------------------------------------------------------------------------
    def answer(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
               body: bytes) -> Answer:
        raise NotImplementedError

    def outage_body(self, status: int) -> Any:
        return {"title": "Service Unavailable", "detail": "Service Unavailable", "type": "about:blank",
                "status": status}

    # Running ----------------------------------------------------------------------------------
    def start(self) -> FakeJsonServer:
        if self._httpd is None:
            self._stopping.clear()
            self._httpd = _Server((HOST, self.port), _Handler)
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

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def api_calls(self, path_part: str = "") -> list[RecordedCall]:
        with self.lock:
            return [c for c in self.calls if path_part in c.path]

    def _dispatch(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
                  body: bytes) -> Answer:
        with self.lock:
            if self.status is not None or self.fail_next > 0:
                self.fail_next = max(self.fail_next - 1, 0)
                status = self.status or 503
                return status, self.outage_body(status), []
        try:
            return self.answer(method, path, query, headers, body)
        except Exception:
            self.errors.append(traceback.format_exc())
            return 599, {"fake-error": "the fake server failed; see its errors"}, []


class _Server(ThreadingHTTPServer):
    daemon_threads = allow_reuse_address = True
    fake: FakeJsonServer

    def server_bind(self) -> None:  # HTTPServer's would look the address up in DNS
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = HOST, self.server_address[1]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        fake, url = self.server.fake, urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        headers = dict(self.headers.items())
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            if fake.delay_seconds and fake._stopping.wait(fake.delay_seconds):
                return
            status, payload, extra = fake._dispatch(method, url.path, query, headers, body)
            if isinstance(payload, bytes):
                data = payload
                content_type = next((v for k, v in extra if k.lower() == "content-type"), "application/octet-stream")
                extra = [(k, v) for k, v in extra if k.lower() != "content-type"]
            else:
                data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
                content_type = fake.content_type
                if fake.truncate and status == 200:
                    data = data[: len(data) // 2]
            if fake.gzip and "gzip" in self.headers.get("Accept-Encoding", "") and not isinstance(payload, bytes):
                data = gzip.compress(data, compresslevel=1, mtime=0)
                extra = [*extra, ("Content-Encoding", "gzip")]
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in extra:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            with fake.lock:
                fake.calls.append(RecordedCall(method, url.path, query, headers, status))
        except OSError:
            self.close_connection = True
