"""A fake Jetstream (``/subscribe`` over WebSocket on 127.0.0.1) for a ``FakeBluesky``: it streams the
fake's events (``FakeBluesky.events``, in the shapes of the Jetstream corpus: ``commit`` create,
update and delete, plus ``identity``/``account``) as they happen, filtered by ``wantedDids`` and
``wantedCollections``, replaying from ``cursor`` (a ``time_us``) like the real service::

    with FakeBluesky.synthetic(posts=10, replies=20) as appview, FakeJetstream(appview) as jetstream:
        jetstream.url   # ws://127.0.0.1:PORT/subscribe
        appview.delete(appview.posts[0].uri)   # a delete commit is streamed to subscribers at once
        jetstream.drop_all()                   # every open connection is closed (clients reconnect)
"""

from __future__ import annotations

import contextlib
import json
import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from connectors.bluesky.fakeappview import FakeBluesky

HOST = "127.0.0.1"


class FakeJetstream:
    def __init__(self, appview: FakeBluesky, port: int = 0):
        self.appview, self.port = appview, port
        self.url = ""
        self.connections: list[str] = []  # the query of every subscription opened
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._open: set[ServerConnection] = set()
        self._lock = threading.Lock()

    def start(self) -> FakeJetstream:
        self._server = serve(self._handle, HOST, self.port)
        self.port = self._server.socket.getsockname()[1]
        self.url = f"ws://{HOST}:{self.port}/subscribe"
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"FakeJetstream:{self.port}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self.drop_all()
            self._server.shutdown()
            if self._thread is not None:
                self._thread.join(5)
            self._server = None

    def __enter__(self) -> FakeJetstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def drop_all(self) -> None:
        with self._lock:
            connections = list(self._open)
        for connection in connections:
            connection.close()

    def _wanted(self, event: dict[str, Any], dids: list[str], collections: list[str]) -> bool:
        if dids and event.get("did") not in dids:
            return False
        commit = event.get("commit")
        return not (collections and isinstance(commit, dict) and commit.get("collection") not in collections)

    def _handle(self, connection: ServerConnection) -> None:
        request = connection.request
        query = parse_qs(urlsplit(request.path if request else "").query)
        with self._lock:
            self._open.add(connection)
            self.connections.append(urlsplit(request.path).query if request else "")
        dids, collections = query.get("wantedDids", []), query.get("wantedCollections", [])
        cursor = int(query["cursor"][0]) if query.get("cursor") else None
        # Without a cursor a subscription starts now; with one, it replays what came after it.
        sent = 0 if cursor is not None else len(self.appview.events)
        try:
            while True:
                events = self.appview.events
                while sent < len(events):
                    event = events[sent]
                    sent += 1
                    if (cursor is None or event["time_us"] > cursor) and self._wanted(event, dids, collections):
                        connection.send(json.dumps(event, separators=(",", ":")))
                with contextlib.suppress(TimeoutError):  # waits a little; notices a closed connection
                    connection.recv(timeout=0.02)
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                self._open.discard(connection)
