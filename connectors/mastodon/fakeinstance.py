"""A fake Mastodon instance: one agency account's statuses (with media, polls, boosts and edits),
residents' replies at any depth, the API v1 shapes of Mastodon 4.5, ``Link`` paging,
``X-RateLimit-*`` headers (reset as an ISO time), and the instance's bad days (see
``connectors.fakehttp``)::

    with FakeMastodon.synthetic(statuses=40, replies=300, seed=1) as server:
        server.tokens = {"T"}            # a token is checked when one is sent (or always, with:)
        server.authorized_fetch = True   # 401 "This API requires an authenticated user" without one

Answers ``/api/v1/accounts/lookup?acct=``, ``/api/v1/accounts/:id``, ``/api/v1/accounts/:id/statuses``
(``limit`` ≤ 40, ``max_id``), ``/api/v1/statuses/:id`` (404 ``{"error":"Record not found"}`` once
gone), ``/api/v1/statuses/:id/context`` (descendants in thread order; 60 at most without a token)
and ``/api/v1/statuses/:id/history``.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.fakehttp import Answer, FakeApiServer

WORDS = ("snow", "plow", "route", "library", "hours", "council", "agenda", "park", "water", "main", "street", "permit")
UNAUTHENTICATED_DESCENDANTS = 60


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class FakeStatus:
    id: str
    created: datetime
    acct: str
    revisions: list[tuple[datetime, str]]  # (when, HTML content), oldest first
    in_reply_to: str | None = None
    root: str | None = None  # for replies: the agency's status whose context lists it
    media: list[str] = field(default_factory=list)
    poll: list[str] | None = None
    favourites: int = 0
    boost_of: str | None = None  # a boost of someone else's status (its URI)

    @property
    def text(self) -> str:
        return self.revisions[-1][1]


class FakeMastodon(FakeApiServer):
    def __init__(self, username: str = "cityofspringfield", domain: str = "mastodon.example", port: int = 0):
        super().__init__(port)
        self.username, self.domain = username, domain
        self.account_id = "109000000000000001"
        self.statuses: list[FakeStatus] = []  # the agency's, newest first
        self.by_id: dict[str, FakeStatus] = {}
        self.replies: dict[str, list[FakeStatus]] = {}  # root status id → replies, thread order
        self.tokens: set[str] = set()
        self.authorized_fetch = False
        self._serial = 0

    # Building ------------------------------------------------------------------------------
    def _new_id(self, at: datetime) -> str:
        self._serial += 1
        return str((int(at.timestamp() * 1000) << 16) + self._serial % 65536)

    def post(self, at: datetime, text: str, *, media: int = 0, poll: list[str] | None = None,
             boost_of: str | None = None) -> FakeStatus:
        status = FakeStatus(self._new_id(at), at, self.username, [(at, f"<p>{text}</p>")], poll=poll,
                            boost_of=boost_of)
        status.media = [f"ms-{status.id}-{n}.jpg" for n in range(media)]
        self.statuses.append(status)
        self.statuses.sort(key=lambda s: int(s.id), reverse=True)
        self.by_id[status.id] = status
        self.replies[status.id] = []
        return status

    def reply(self, root: FakeStatus, at: datetime, text: str, acct: str,
              parent: FakeStatus | None = None) -> FakeStatus:
        status = FakeStatus(self._new_id(at), at, acct, [(at, f"<p>{text}</p>")], in_reply_to=(parent or root).id,
                            root=root.id)
        self.replies[root.id].append(status)
        self.by_id[status.id] = status
        return status

    def edit(self, status_id: str, text: str, at: datetime | None = None) -> None:
        status = self.by_id[status_id]
        status.revisions.append((at or datetime.now(UTC), f"<p>{text}</p>"))

    def delete(self, status_id: str) -> list[str]:
        """The status goes (its replies stay on their servers; an own status's thread is no longer listed)."""
        status = self.by_id.pop(status_id)
        if status.root is None:
            self.statuses.remove(status)
            return [status_id]
        self.replies[status.root].remove(status)
        return [status_id]

    @classmethod
    def synthetic(cls, statuses: int, replies: int, seed: int = 0, now: datetime | None = None) -> FakeMastodon:
        rng = random.Random(seed)
        server = cls()
        now = (now or datetime.now(UTC)).replace(microsecond=0)
        for index in range(statuses):
            at = now - timedelta(hours=7 * (index + 1), minutes=rng.randrange(60))
            roll = rng.random()
            server.post(at, f"{' '.join(rng.choices(WORDS, k=7))} #{index}", media=1 if roll < 0.2 else 0,
                        poll=["Yes", "No"] if 0.2 <= roll < 0.25 else None,
                        boost_of=f"https://other.example/users/x/statuses/{index}" if roll > 0.95 else None)
            if rng.random() < 0.05:
                server.edit(server.statuses[-1].id, f"{' '.join(rng.choices(WORDS, k=7))} #{index} (corrected)",
                            at + timedelta(minutes=30))
        own = [s for s in server.statuses if s.boost_of is None]
        for index in range(replies):
            root = rng.choice(own[: max(1, len(own) // 3)] if rng.random() < 0.5 else own)
            thread = server.replies[root.id]
            parent = rng.choice(thread) if thread and rng.random() < 0.4 else None
            at = min((parent or root).created + timedelta(minutes=1 + rng.random() * 240), now)
            server.reply(root, at, f"{' '.join(rng.choices(WORDS, k=5))} {index}", f"resident{rng.randrange(70)}@"
                         f"{rng.choice(('mastodon.example', 'town.social', 'fedi.example'))}", parent)
        for thread in server.replies.values():
            thread.sort(key=lambda s: s.created)
        return server

    def truth(self) -> dict[str, str]:
        return {s.id: s.text for s in self.by_id.values()}

    # Answering ------------------------------------------------------------------------------
    def rate_headers(self, limit: int, remaining: int, reset: datetime) -> list[tuple[str, str]]:
        return [("X-RateLimit-Limit", str(limit)), ("X-RateLimit-Remaining", str(remaining)),
                ("X-RateLimit-Reset", reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))]

    def check_token(self, headers: dict[str, str]) -> Answer | None:
        token = self.bearer(headers)
        if token is None and not self.authorized_fetch:
            return None
        if token is None:
            return 401, {"error": "This API requires an authenticated user"}, []
        if token in self.expired or (self.tokens and token not in self.tokens):
            return 401, {"error": "The access token is invalid"}, [
                ("WWW-Authenticate", 'Bearer realm="Doorkeeper", error="invalid_token", '
                                     'error_description="The access token is invalid"')]
        return None

    def media(self, name: str) -> bytes | None:
        return b"\xff\xd8\xff\xe0MS" + hashlib.sha256(name.encode()).digest() * 48 + b"\xff\xd9" \
            if name.startswith("ms-") else None

    def route(self, path: str, query: dict[str, str], pairs: list[tuple[str, str]],
              headers: dict[str, str]) -> Answer:
        parts = [p for p in path.split("/") if p]
        if parts[:2] != ["api", "v1"] or len(parts) < 4:
            return 404, {"error": "Not Found"}, []
        resource, rest = parts[2], parts[3:]
        if resource == "accounts" and rest == ["lookup"]:
            wanted = query.get("acct", "").split("@")
            if wanted[0] == self.username and (len(wanted) == 1 or wanted[1] == self.domain):
                return 200, self._account(), []
            return 404, {"error": "Record not found"}, []
        if resource == "accounts" and rest[0] == self.account_id:
            if len(rest) == 1:
                return 200, self._account(), []
            if rest[1:] == ["statuses"]:
                return self._listing(query)
        if resource == "statuses" and (status := self.by_id.get(rest[0])):
            if len(rest) == 1:
                return 200, self._status(status), []
            if rest[1:] == ["context"] and status.root is None:
                listed = [self._status(r) for r in self._thread_order(status.id)]
                if self.bearer(headers) is None:
                    listed = listed[:UNAUTHENTICATED_DESCENDANTS]
                return 200, {"ancestors": [], "descendants": listed}, []
            if rest[1:] == ["history"]:
                return 200, [self._revision(status, index) for index in range(len(status.revisions))], []
        return 404, {"error": "Record not found"}, []

    def _listing(self, query: dict[str, str]) -> Answer:
        limit = max(1, min(int(query.get("limit") or 20), 40))
        below = int(query["max_id"]) if query.get("max_id", "").isdigit() else None
        listed = [s for s in self.statuses if below is None or int(s.id) < below][:limit]
        base = f"{self.base_url}/api/v1/accounts/{self.account_id}/statuses"
        links = []
        if len(listed) == limit:
            links.append(f'<{base}?limit={limit}&max_id={listed[-1].id}>; rel="next"')
        if listed:
            links.append(f'<{base}?limit={limit}&min_id={listed[0].id}>; rel="prev"')
        return 200, [self._status(s) for s in listed], [("Link", ", ".join(links))] if links else []

    def _thread_order(self, root_id: str) -> list[FakeStatus]:
        """Descendants as Mastodon lists them: depth first, oldest first among siblings."""
        children: dict[str, list[FakeStatus]] = {}
        for reply in self.replies.get(root_id, []):
            children.setdefault(reply.in_reply_to or root_id, []).append(reply)
        ordered: list[FakeStatus] = []
        stack = list(reversed(children.get(root_id, [])))
        while stack:
            reply = stack.pop()
            ordered.append(reply)
            stack += reversed(children.get(reply.id, []))
        return ordered

    def _account_json(self, acct: str) -> dict[str, Any]:
        user, _, domain = acct.partition("@")
        host = domain or self.domain
        account_id = self.account_id if acct == self.username else str(
            int(hashlib.sha256(acct.encode()).hexdigest()[:15], 16))
        name = "City of Springfield" if acct == self.username else user.title()
        return {"id": account_id, "username": user, "acct": acct, "display_name": name, "locked": False,
                "bot": False, "discoverable": True, "group": False, "created_at": "2022-11-03T00:00:00.000Z",
                "note": "", "url": f"https://{host}/@{user}", "uri": f"https://{host}/users/{user}",
                "avatar": f"{self.base_url}/media/ms-avatar-{user}.png",
                "avatar_static": f"{self.base_url}/media/ms-avatar-{user}.png",
                "header": f"{self.base_url}/media/ms-header-{user}.png",
                "header_static": f"{self.base_url}/media/ms-header-{user}.png",
                "followers_count": 0, "following_count": 0, "statuses_count": 0, "last_status_at": None,
                "emojis": [], "fields": []}

    def _account(self) -> dict[str, Any]:
        account = self._account_json(self.username)
        account |= {"followers_count": 4200, "following_count": 12,
                    "statuses_count": len(self.statuses),
                    "note": "<p>Official account of the City of Springfield.</p>",
                    "fields": [{"name": "Website", "value": "https://springfield.example.gov", "verified_at": None}]}
        return account

    def _media(self, status: FakeStatus) -> list[dict[str, Any]]:
        return [{"id": name.split("-")[1] + str(n), "type": "image", "url": f"{self.base_url}/media/{name}",
                 "preview_url": f"{self.base_url}/media/{name}", "remote_url": None, "preview_remote_url": None,
                 "text_url": None, "meta": {"original": {"width": 1200, "height": 800}},
                 "description": "Photo of the site", "blurhash": "UGC~-zM{0JfjNFofR%M{IURj%Mt7E0oM%MR*"}
                for n, name in enumerate(status.media)]

    def _poll(self, status: FakeStatus, votes: bool) -> dict[str, Any] | None:
        if status.poll is None:
            return None
        options = [{"title": t, "votes_count": 3 * n + 1} if votes else {"title": t} for n, t in enumerate(status.poll)]
        if not votes:
            return {"options": options}
        return {"id": status.id[-6:], "expires_at": None, "expired": False, "multiple": False,
                "votes_count": sum(o["votes_count"] for o in options), "voters_count": None, "options": options,
                "emojis": []}

    def _status(self, status: FakeStatus) -> dict[str, Any]:
        user, _, domain = status.acct.partition("@")
        host = domain or self.domain
        edited = status.revisions[-1][0] if len(status.revisions) > 1 else None
        body: dict[str, Any] = {
            "id": status.id, "created_at": _time(status.created), "in_reply_to_id": status.in_reply_to,
            "in_reply_to_account_id": None if status.in_reply_to is None else self.account_id,
            "sensitive": False, "spoiler_text": "", "visibility": "public", "language": "en",
            "uri": f"https://{host}/users/{user}/statuses/{status.id}", "url": f"https://{host}/@{user}/{status.id}",
            "replies_count": sum(1 for r in self.replies.get(status.id, []) if r.in_reply_to == status.id),
            "reblogs_count": 0, "favourites_count": status.favourites, "quotes_count": 0,
            "edited_at": _time(edited) if edited else None, "content": status.text, "filtered": [], "reblog": None,
            "application": {"name": "Web", "website": None}, "account": self._account_json(status.acct),
            "media_attachments": self._media(status), "mentions": [], "tags": [], "emojis": [], "card": None,
            "poll": self._poll(status, True), "quote": None, "quote_approval": {"automatic": ["public"]},
        }
        if status.boost_of:
            boosted = FakeStatus("1" + status.id[1:], status.created, "someone@other.example",
                                 [(status.created, "<p>A neighbour's notice</p>")])
            body |= {"content": "", "reblog": self._status(boosted) | {"uri": status.boost_of}, "replies_count": 0}
        return body

    def _revision(self, status: FakeStatus, index: int) -> dict[str, Any]:
        at, content = status.revisions[index]
        return {"content": content, "spoiler_text": "", "sensitive": False, "created_at": _time(at),
                "account": self._account_json(status.acct), "poll": self._poll(status, False),
                "media_attachments": self._media(status), "emojis": []}
