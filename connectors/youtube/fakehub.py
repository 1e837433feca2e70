"""A local WebSub hub for tests and the demo: real HTTP on 127.0.0.1, behaving like YouTube's hub.

``POST /subscribe`` (form: ``hub.mode``, ``hub.topic``, ``hub.callback``, ``hub.lease_seconds``,
``hub.secret``, ``hub.verify_token``) answers ``202 Accepted``, then verifies the intent as the
real hub does: ``GET callback?hub.mode=…&hub.topic=…&hub.challenge=…&hub.lease_seconds=…``; only
a 2xx answer echoing the challenge activates the subscription, for the lease granted
(``lease_seconds`` caps what is asked). ``publish(channel_id, body)`` then POSTs the Atom body to
every active subscriber of that channel's topic, signed ``X-Hub-Signature: sha1=…`` with its
secret::

    with FakeHub() as hub:
        hub.lease_seconds = 2          # leases run out fast: the subscriber must renew
        hub.status = 503               # the hub has a bad day: /subscribe answers 503
        ...
        statuses = hub.publish("UC…", push_body)

Only loopback callbacks are ever contacted; any other is refused with 400.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlencode, urlsplit
from xml.sax.saxutils import escape

import requests

from connectors.fakehttp import JsonHandler, LocalServer, LoopbackServer
from connectors.youtube.websub import channel_of_topic, topic

MAX_LEASE = 864_000  # ten days, the most YouTube's hub grants


@dataclass
class Subscription:
    callback: str
    secret: str | None
    expires: float  # time.monotonic() deadline


@dataclass(frozen=True)
class Verification:
    mode: str
    topic: str
    callback: str
    status: int  # the callback's answer (0: unreachable)
    confirmed: bool
    lease_seconds: int


class FakeHub(LocalServer):
    def __init__(self, port: int = 0):
        self.port = port
        self.base_url = ""
        self.lease_seconds = MAX_LEASE  # the longest lease granted
        self.status: int | None = None  # every /subscribe answers this instead
        self.requests: list[dict[str, str]] = []  # subscription requests received (secrets included: tests only)
        self.verifications: list[Verification] = []
        self.subscriptions: dict[tuple[str, str], Subscription] = {}  # (topic, callback) → active subscription
        self.lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: LoopbackServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def subscribe_url(self) -> str:
        return f"{self.base_url}/subscribe"

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _Handler

    def request(self, form: dict[str, str]) -> tuple[int, str]:
        """A subscription request: (status, text) now, the verification in a thread of its own."""
        with self.lock:
            self.requests.append(form)
        if self.status is not None:
            return self.status, "Service Unavailable"
        mode, topic_url, callback = form.get("hub.mode"), form.get("hub.topic", ""), form.get("hub.callback", "")
        if mode not in ("subscribe", "unsubscribe"):
            return 400, "Invalid value for hub.mode"
        if channel_of_topic(topic_url) is None:
            return 400, "Invalid value for hub.topic"
        parts = urlsplit(callback)
        if parts.scheme not in ("http", "https") or parts.hostname not in ("127.0.0.1", "localhost"):
            return 400, "Invalid value for hub.callback (this fake only calls back to loopback addresses)"
        asked = form.get("hub.lease_seconds", "")
        lease = min(int(asked), self.lease_seconds) if asked.isdigit() and int(asked) > 0 else self.lease_seconds
        threading.Thread(target=self._verify, args=(mode, topic_url, callback, lease, form), daemon=True).start()
        return 202, ""

    def _verify(self, mode: str, topic_url: str, callback: str, lease: int, form: dict[str, str]) -> None:
        challenge = secrets.token_urlsafe(24)
        query = {"hub.mode": mode, "hub.topic": topic_url, "hub.challenge": challenge, "hub.lease_seconds": str(lease)}
        if form.get("hub.verify_token"):
            query["hub.verify_token"] = form["hub.verify_token"]
        try:
            answer = requests.get(f"{callback}{'&' if '?' in callback else '?'}{urlencode(query)}", timeout=10)
            status, confirmed = answer.status_code, 200 <= answer.status_code < 300 and answer.text == challenge
        except requests.RequestException:
            status, confirmed = 0, False
        with self.lock:
            self.verifications.append(Verification(mode, topic_url, callback, status, confirmed, lease))
            if confirmed and mode == "subscribe":
                self.subscriptions[(topic_url, callback)] = Subscription(callback, form.get("hub.secret") or None,
                                                                         time.monotonic() + lease)
            elif confirmed:
                self.subscriptions.pop((topic_url, callback), None)

    def active(self, channel_id: str) -> list[Subscription]:
        now = time.monotonic()
        with self.lock:
            return [s for (t, _), s in self.subscriptions.items() if t == topic(channel_id) and s.expires > now]

    def publish(self, channel_id: str, body: bytes, secret: str | None = None) -> list[int]:
        """Deliver ``body`` to the active subscribers of the channel, as the hub does; their statuses.
        ``secret`` signs with another secret than the subscription's (a forgery, for tests)."""
        statuses = []
        for subscription in self.active(channel_id):
            key = secret if secret is not None else subscription.secret
            headers = {"Content-Type": "application/atom+xml",
                       "Link": f'<{self.base_url}>; rel=hub, <{topic(channel_id)}>; rel=self'}
            if key:
                headers["X-Hub-Signature"] = "sha1=" + hmac.new(key.encode(), body, hashlib.sha1).hexdigest()
            statuses.append(requests.post(subscription.callback, data=body, headers=headers, timeout=10).status_code)
        return statuses


class _Handler(JsonHandler):
    server: LoopbackServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(parse_qsl(self.rfile.read(length).decode("utf-8", "replace"), keep_blank_values=True))
        if urlsplit(self.path).path != "/subscribe":
            self._send(404, b"Not Found", "text/plain", [])
            return
        status, text = self.server.fake.request(form)
        self._send(status, text.encode(), "text/plain; charset=utf-8", [])


def upload_push(channel_id: str, video_id: str, title: str, updated: str = "2026-12-04T10:00:00+00:00") -> bytes:
    """What the hub pushes when a video is uploaded or its title or description changes (docs' shape)."""
    return f"""<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" xmlns="http://www.w3.org/2005/Atom">
  <link rel="hub" href="https://pubsubhubbub.appspot.com"/>
  <link rel="self" href="{escape(topic(channel_id))}"/>
  <title>YouTube video feed</title>
  <updated>{updated}</updated>
  <entry>
    <id>yt:video:{video_id}</id>
    <yt:videoId>{video_id}</yt:videoId>
    <yt:channelId>{channel_id}</yt:channelId>
    <title>{escape(title)}</title>
    <link rel="alternate" href="http://www.youtube.com/watch?v={video_id}"/>
    <author><name>Channel title</name><uri>http://www.youtube.com/channel/{channel_id}</uri></author>
    <published>2026-12-01T21:40:57+00:00</published>
    <updated>{updated}</updated>
  </entry>
</feed>
""".encode()


def tombstone_push(channel_id: str, video_id: str, when: str = "2026-12-04T10:00:00.123456+00:00") -> bytes:
    """What the hub pushes when a video is deleted (or often made private): an RFC 6721 tombstone."""
    return f"""<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns:at="http://purl.org/atompub/tombstones/1.0" xmlns="http://www.w3.org/2005/Atom">
  <at:deleted-entry ref="yt:video:{video_id}" when="{when}">
    <link href="https://www.youtube.com/watch?v={video_id}"/>
    <at:by><name>Channel title</name><uri>https://www.youtube.com/channel/{channel_id}</uri></at:by>
  </at:deleted-entry>
</feed>
""".encode()
