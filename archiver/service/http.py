"""``/healthz`` and ``/metrics`` over HTTP: on ``[service] listen`` for ``archiver run``, and in
front of ``archiver serve``'s own app.

``GET /healthz`` answers 200 "ok" when every probe passes, else 503 with one line per problem
("storage: cannot reach the S3 endpoint …"). ``GET /metrics`` is the Prometheus exposition of
the service's registry. Any other path goes to the wrapped app (or 404).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, make_wsgi_app

from archiver.service.health import HealthMonitor

log = logging.getLogger(__name__)
StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def _text(start_response: StartResponse, status: str, text: str) -> list[bytes]:
    data = text.encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data))),
                            ("Cache-Control", "no-store")])
    return [data]


class ServiceEndpoints:
    """WSGI: ``/healthz`` and ``/metrics`` here, everything else to ``app``."""

    def __init__(self, health: HealthMonitor, registry: CollectorRegistry, app: WsgiApp | None = None):
        self.health, self.app = health, app
        self.metrics = make_wsgi_app(registry)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path in ("/healthz", "/metrics") and environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
            return _text(start_response, "405 Method Not Allowed", "use GET")
        if path == "/healthz":
            report = self.health.report()
            return _text(start_response, "200 OK" if report.ok else "503 Service Unavailable", report.text())
        if path == "/metrics":
            return self.metrics(environ, start_response)
        if self.app is not None:
            return self.app(environ, start_response)
        return _text(start_response, "404 Not Found", "not found; this address serves /healthz and /metrics")


class Listener:
    """A small waitress server on its own thread (``[service] listen``)."""

    def __init__(self, app: WsgiApp, host: str, port: int):
        from waitress.server import create_server

        self.server = create_server(app, host=host, port=port, threads=2, ident="archiver")
        self.host, self.port = host, int(self.server.effective_port)  # type: ignore[union-attr]
        self._thread = threading.Thread(target=self._run, name="service-http", daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _run(self) -> None:
        with contextlib.suppress(OSError):  # closed on stop
            self.server.run()

    def start(self) -> Listener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.close()
        self._thread.join(timeout=5)
