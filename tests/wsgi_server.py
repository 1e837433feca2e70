"""A WSGI app served on 127.0.0.1 (a free port) in threads, for as long as a ``with`` block runs.

wsgiref's server, a thread per request, answering HTTP/1.0 (one request per connection), so
stopping it waits for no idle keep-alive connection; request lines are not printed (they may
carry codes and states).

    >>> import requests
    >>> def hello(environ, start):
    ...     start("200 OK", [("Content-Type", "text/plain")])
    ...     return [b"hello"]
    >>> with serving(hello) as base:
    ...     requests.get(base + "/", timeout=5).text
    'hello'
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Threaded(ThreadingMixIn, WSGIServer):
    daemon_threads = True


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """The app's base URL, ``http://127.0.0.1:PORT``, while the block runs."""
    server = make_server("127.0.0.1", 0, app, server_class=_Threaded, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
