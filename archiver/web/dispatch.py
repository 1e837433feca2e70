"""One WSGI app for ``archiver serve``: each path prefix to its app, everything else to the default.

>>> def app(name):
...     return lambda environ, start: [name.encode()]
>>> dispatch = Dispatch({"/webhooks/": app("hooks"), "/healthz": app("health")}, app("web"))
>>> [dispatch({"PATH_INFO": p}, None)[0] for p in ("/webhooks/meta", "/healthz", "/search")]
[b'hooks', b'health', b'web']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

WSGIApp = Callable[[dict[str, Any], Any], Iterable[bytes]]


class Dispatch:
    def __init__(self, prefixes: Mapping[str, WSGIApp], default: WSGIApp):
        # Longest prefix first, so "/webhooks/meta" can have its own app beside "/webhooks/".
        self.prefixes = sorted(prefixes.items(), key=lambda pair: len(pair[0]), reverse=True)
        self.default = default

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        for prefix, app in self.prefixes:
            if path == prefix.rstrip("/") or path.startswith(prefix):
                return app(environ, start_response)
        return self.default(environ, start_response)
