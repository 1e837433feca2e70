"""Bluesky's Jetstream, subscribed to by ``archiver serve``: a deletion evidenced within seconds.

For each Bluesky account with ``jetstream_url``, a thread keeps a WebSocket open to
``{jetstream_url}?wantedCollections=app.bsky.feed.post&wantedDids={the account's DID}`` and
archives every event for that DID the moment it arrives, like a Meta webhook delivery
(``WebhookIntake.record``: a WARC of its own, target ``urn:archiver:jetstream:bluesky:<sha256>``,
sealed, stored and indexed from its bytes). The Bluesky parser reads a ``delete`` commit of a post
as the author's repository saying it is gone; everything else waits for the next harvest.

The DID is the account's ``id`` when it is one, else the DID its last harvest resolved (kept in
the account's cursor): a handle account is subscribed once it has been harvested. A dropped
connection is reopened with a growing pause, from the last event's ``time_us`` (Jetstream
replays from a cursor), so a restart of the service loses nothing Jetstream still holds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from urllib.parse import urlencode

from sqlalchemy import select

from archiver.config import AccountConfig, Config
from archiver.index.db import IndexDB
from archiver.index.models import Account
from connectors.bluesky.parser import JETSTREAM_PREFIX, POST

log = logging.getLogger(__name__)
RECONNECT_SECONDS = (1.0, 2.0, 5.0, 15.0, 60.0)


class JetstreamSubscription:
    """One account's subscription; ``record(body)`` archives one event as received."""

    def __init__(self, account: AccountConfig, url: str, did: str, record: Callable[[bytes], None]):
        self.account, self.url, self.did, self.record = account, url, did, record
        self.cursor: int | None = None  # time_us of the last event archived
        self.received = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def address(self) -> str:
        query = [("wantedCollections", POST), ("wantedDids", self.did)]
        if self.cursor is not None:
            query.append(("cursor", str(self.cursor)))
        return f"{self.url}{'&' if '?' in self.url else '?'}{urlencode(query)}"

    def start(self) -> JetstreamSubscription:
        self._thread = threading.Thread(target=self._run, name=f"jetstream-{self.account.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        from websockets.exceptions import WebSocketException
        from websockets.sync.client import connect

        failures = 0
        while not self._stop.is_set():
            try:
                with connect(self.address(), open_timeout=10, max_size=2**22) as socket:
                    failures = 0
                    while not self._stop.is_set():
                        try:
                            message = socket.recv(timeout=0.5)
                        except TimeoutError:
                            continue
                        self._take(message.encode() if isinstance(message, str) else message)
            except (OSError, WebSocketException) as exc:
                pause = RECONNECT_SECONDS[min(failures, len(RECONNECT_SECONDS) - 1)]
                failures += 1
                log.warning("%s: Jetstream connection lost (%s); reconnecting in %.0f s", self.account.name, exc,
                            pause)
                self._stop.wait(pause)

    def _take(self, message: bytes) -> None:
        try:
            event = json.loads(message)
        except ValueError:
            log.warning("%s: a Jetstream message that is not JSON was ignored", self.account.name)
            return
        if not isinstance(event, dict) or event.get("did") != self.did:
            return  # not the account's (Jetstream filters by DID; this is a second look)
        self.record(message)
        self.received += 1
        if isinstance(event.get("time_us"), int):
            self.cursor = event["time_us"]


def start_subscriptions(config: Config, db: IndexDB, intake: object) -> list[JetstreamSubscription]:
    """A running subscription for each Bluesky account with ``jetstream_url`` whose DID is known."""
    started = []
    for account in config.accounts:
        url = account.options().get("jetstream_url") if account.platform == "bluesky" else None
        if not url:
            continue
        did = account.id.lstrip("@") if account.id.lstrip("@").startswith("did:") else _resolved(db, account.name)
        if did is None:
            log.warning("%s: no Jetstream subscription yet: harvest the account once so its handle is resolved "
                        "to a DID", account.name)
            continue

        def record(body: bytes, account: AccountConfig = account) -> None:
            intake.record(account, body, JETSTREAM_PREFIX + hashlib.sha256(body).hexdigest(),  # type: ignore[attr-defined]
                          "Bluesky Jetstream event, as received over the subscription")

        started.append(JetstreamSubscription(account, str(url), did, record).start())
        log.info("%s: subscribed to Jetstream for %s", account.name, did)
    return started


def _resolved(db: IndexDB, name: str) -> str | None:
    with db.session() as session:
        cursor = session.scalar(select(Account.cursor).where(Account.name == name))
    did = (cursor or {}).get("did")
    return did if isinstance(did, str) and did.startswith("did:") else None
