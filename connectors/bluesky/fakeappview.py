"""A fake Bluesky AppView: one agency account's posts (images, external cards, reposts), residents'
replies at any depth, threadgate-hidden replies, record updates, deletions, a handle change; the
XRPC shapes of ``app.bsky.*`` (postView, threadViewPost, feedViewPost) with ``RateLimit-*``
headers (reset in epoch seconds) and the AppView's bad days (see ``connectors.fakehttp``)::

    with FakeBluesky.synthetic(posts=40, replies=300, seed=1) as server:
        server.handle = "springfield-city.example.gov"   # a handle change: the DID stays

Answers ``com.atproto.identity.resolveHandle``, ``app.bsky.actor.getProfile``,
``app.bsky.feed.getAuthorFeed`` (``limit`` ≤ 100, opaque ``cursor``) and
``app.bsky.feed.getPostThread`` (``depth``; 400 ``NotFound`` once a post is gone). Jetstream events
for what happens are kept in ``events`` (see ``connectors.bluesky.fakejetstream``).
"""

from __future__ import annotations

import base64
import hashlib
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.fakehttp import Answer, FakeApiServer

WORDS = ("transit", "snow", "library", "council", "park", "budget", "water", "bridge", "permit", "festival")
POST = "app.bsky.feed.post"
COUNTY = "did:plc:county000000000000000000"  # a neighbour whose posts the city reposts


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _cid(seed: str) -> str:
    return "bafyrei" + base64.b32encode(hashlib.sha256(seed.encode()).digest()).decode().lower().rstrip("=")[:52]


@dataclass
class FakeBskyPost:
    did: str
    rkey: str
    created: datetime
    text: str
    handle: str
    root: str | None = None  # at-uri of the agency's post whose thread it is in
    parent: str | None = None
    images: int = 0
    link: str | None = None
    likes: int = 0
    revision: int = 0
    repost_of: str | None = None  # a repost by the agency of someone's post (its at-uri)

    @property
    def uri(self) -> str:
        return f"at://{self.did}/{POST}/{self.rkey}"


@dataclass
class _Thread:
    replies: list[FakeBskyPost] = field(default_factory=list)  # every depth, oldest first
    hidden: set[str] = field(default_factory=set)


class FakeBluesky(FakeApiServer):
    def __init__(self, handle: str = "springfield.example.gov", port: int = 0):
        super().__init__(port)
        self.did = "did:plc:springfieldcity00000000a"
        self.handle = handle
        self.posts: list[FakeBskyPost] = []  # the agency's, newest first
        self.by_uri: dict[str, FakeBskyPost] = {}
        self.threads: dict[str, _Thread] = {}
        self.events: list[dict[str, Any]] = []  # Jetstream events of what happened, oldest first
        self._serial = 0

    # Building ------------------------------------------------------------------------------
    def _rkey(self, at: datetime) -> str:
        """A TID-like record key: time-ordered base32."""
        self._serial += 1
        value = (int(at.timestamp() * 1_000_000) << 10) | (self._serial % 1024)
        alphabet = "234567abcdefghijklmnopqrstuvwxyz"
        out = ""
        for _ in range(13):
            out = alphabet[value & 31] + out
            value >>= 5
        return out

    def _event(self, did: str, operation: str, post: FakeBskyPost, record: bool = True) -> None:
        commit: dict[str, Any] = {"rev": self._rkey(datetime.now(UTC)), "operation": operation, "collection": POST,
                                  "rkey": post.rkey}
        if record and operation != "delete":
            commit |= {"record": self._record(post), "cid": _cid(f"{post.uri}#{post.revision}")}
        self.events.append({"did": did, "time_us": int(time.time() * 1_000_000), "kind": "commit", "commit": commit})

    def post(self, at: datetime, text: str, *, images: int = 0, link: str | None = None,
             repost_of: str | None = None) -> FakeBskyPost:
        post = FakeBskyPost(self.did, self._rkey(at), at, text, self.handle, images=images, link=link,
                            repost_of=repost_of)
        self.posts.append(post)
        self.posts.sort(key=lambda p: p.created, reverse=True)
        self.by_uri[post.uri] = post
        self.threads[post.uri] = _Thread()
        self._event(self.did, "create", post)
        return post

    def reply(self, root: FakeBskyPost, at: datetime, text: str, handle: str,
              parent: FakeBskyPost | None = None) -> FakeBskyPost:
        did = "did:plc:" + hashlib.sha256(handle.encode()).hexdigest()[:24]
        reply = FakeBskyPost(did, self._rkey(at), at, text, handle, root=root.uri, parent=(parent or root).uri)
        self.threads[root.uri].replies.append(reply)
        self.by_uri[reply.uri] = reply
        self._event(did, "create", reply)
        return reply

    def update(self, uri: str, text: str) -> None:
        post = self.by_uri[uri]
        post.text, post.revision = text, post.revision + 1
        self._event(post.did, "update", post)

    def hide(self, uri: str, hidden: bool = True) -> None:
        """The agency hides (or unhides) a reply in its thread's threadgate."""
        gate = self.threads[self.by_uri[uri].root or ""].hidden
        (gate.add if hidden else gate.discard)(uri)

    def delete(self, uri: str) -> None:
        post = self.by_uri.pop(uri)
        if post.root is None:
            self.posts.remove(post)
        else:
            self.threads[post.root].replies.remove(post)
        self._event(post.did, "delete", post, record=False)

    @classmethod
    def synthetic(cls, posts: int, replies: int, seed: int = 0, now: datetime | None = None) -> FakeBluesky:
        rng = random.Random(seed)
        server = cls()
        now = (now or datetime.now(UTC)).replace(microsecond=0)
        for index in range(posts):
            roll = rng.random()
            server.post(now - timedelta(hours=8 * (index + 1), minutes=rng.randrange(60)),
                        f"{' '.join(rng.choices(WORDS, k=7))} #{index}", images=2 if roll < 0.2 else 0,
                        link="https://springfield.example.gov/news" if 0.2 <= roll < 0.3 else None,
                        repost_of=f"at://{COUNTY}/{POST}/3k{index:011d}" if roll > 0.96 else None)
        own = [p for p in server.posts if p.repost_of is None]
        for index in range(replies):
            root = rng.choice(own[: max(1, len(own) // 3)] if rng.random() < 0.5 else own)
            thread = server.threads[root.uri]
            parent = rng.choice(thread.replies) if thread.replies and rng.random() < 0.4 else None
            at = min((parent or root).created + timedelta(minutes=1 + rng.random() * 200), now)
            reply = server.reply(root, at, f"{' '.join(rng.choices(WORDS, k=5))} {index}",
                                 f"resident{rng.randrange(60)}.bsky.social", parent)
            if rng.random() < 0.04:
                thread.hidden.add(reply.uri)
        for thread in server.threads.values():
            thread.replies.sort(key=lambda p: p.created)
        server.events.clear()  # the history before a subscription starts
        return server

    def truth(self) -> dict[str, str]:
        found = {p.uri: p.text for p in self.posts if p.repost_of is None}
        found |= {f"{p.repost_of}#repost-by-{self.did}": "repost" for p in self.posts if p.repost_of}
        found |= {r.uri: f"{r.text}|{r.uri in t.hidden}" for t in self.threads.values() for r in t.replies}
        return found

    # Answering ------------------------------------------------------------------------------
    def rate_headers(self, limit: int, remaining: int, reset: datetime) -> list[tuple[str, str]]:
        return [("RateLimit-Limit", str(limit)), ("RateLimit-Remaining", str(remaining)),
                ("RateLimit-Reset", str(int(reset.timestamp()) + 1)),
                ("RateLimit-Policy", f"{limit};w={max(int(self.window_seconds), 1)}")]

    def throttled(self) -> tuple[int, Any]:
        return 429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}

    def fault(self, status: int) -> Any:
        return {"error": "InternalServerError", "message": "Internal Server Error"}

    def media(self, name: str) -> bytes | None:
        return b"\xff\xd8\xff\xe0BS" + hashlib.sha256(name.encode()).digest() * 40 + b"\xff\xd9" \
            if name.startswith("bs-") else None

    def route(self, path: str, query: dict[str, str], pairs: list[tuple[str, str]],
              headers: dict[str, str]) -> Answer:
        method = path.removeprefix("/xrpc/")
        if method == "com.atproto.identity.resolveHandle":
            if query.get("handle") == self.handle:
                return 200, {"did": self.did}, []
            return 400, {"error": "InvalidRequest", "message": "Unable to resolve handle"}, []
        if method == "app.bsky.actor.getProfile":
            if query.get("actor") not in (self.did, self.handle):
                return 400, {"error": "InvalidRequest", "message": "Profile not found"}, []
            return 200, self._profile(), []
        if method == "app.bsky.feed.getAuthorFeed":
            if query.get("actor") not in (self.did, self.handle):
                return 400, {"error": "InvalidRequest", "message": "Profile not found"}, []
            limit = max(1, min(int(query.get("limit") or 50), 100))
            start = int(base64.urlsafe_b64decode(query["cursor"]).decode()) if query.get("cursor") else 0
            chunk = self.posts[start:start + limit]
            body: dict[str, Any] = {"feed": [self._feed_entry(p) for p in chunk]}
            if start + limit < len(self.posts):
                body["cursor"] = base64.urlsafe_b64encode(str(start + limit).encode()).decode()
            return 200, body, []
        if method == "app.bsky.feed.getPostThread":
            post = self.by_uri.get(query.get("uri", ""))
            if post is None or post.repost_of:
                return 400, {"error": "NotFound", "message": f"Post not found: {query.get('uri')}"}, []
            root = post if post.root is None else self.by_uri.get(post.root)
            answer: dict[str, Any] = {"thread": self._thread_view(post, int(query.get("depth") or 6))}
            gate = self._threadgate(root) if root is not None else None
            if gate:
                answer["threadgate"] = gate
            return 200, answer, []
        return 501, {"error": "MethodNotImplemented", "message": "Method Not Implemented"}, []

    def _author(self, post: FakeBskyPost) -> dict[str, Any]:
        own = post.did == self.did
        return {"did": post.did, "handle": self.handle if own else post.handle,
                "displayName": "City of Springfield" if own else post.handle.split(".")[0].title(),
                "avatar": f"https://cdn.bsky.app/img/avatar/plain/{post.did}/{_cid(post.did)}@jpeg",
                "associated": {"chat": {"allowIncoming": "following"}}, "viewer": {"muted": False, "blockedBy": False},
                "labels": [], "createdAt": "2023-04-26T19:05:34.249Z"}

    def _profile(self) -> dict[str, Any]:
        author = self._author(FakeBskyPost(self.did, "", datetime.now(UTC), "", self.handle))
        return author | {"description": "Official account of the City of Springfield.", "indexedAt": _time(
            datetime(2026, 1, 2, tzinfo=UTC)), "followersCount": 3100, "followsCount": 40,
            "postsCount": len(self.posts), "banner": f"{self.base_url}/media/bs-banner.jpg",
            "avatar": f"{self.base_url}/media/bs-avatar.jpg"}

    def _record(self, post: FakeBskyPost) -> dict[str, Any]:
        record: dict[str, Any] = {"$type": POST, "createdAt": _time(post.created), "langs": ["en"], "text": post.text}
        if post.root and post.parent:
            root, parent = self.by_uri.get(post.root), self.by_uri.get(post.parent)
            record["reply"] = {"root": {"cid": _cid(f"{post.root}#{root.revision if root else 0}"), "uri": post.root},
                               "parent": {"cid": _cid(f"{post.parent}#{parent.revision if parent else 0}"),
                                          "uri": post.parent}}
        if post.images:
            record["embed"] = {"$type": "app.bsky.embed.images", "images": [
                {"alt": f"photo {n}", "image": {"$type": "blob", "ref": {"$link": _cid(f"{post.uri}/{n}")},
                                                "mimeType": "image/jpeg", "size": 48213}} for n in range(post.images)]}
        elif post.link:
            record["embed"] = {"$type": "app.bsky.embed.external", "external": {
                "uri": post.link, "title": "City news", "description": "Latest news from the city"}}
        return record

    def _embed_view(self, post: FakeBskyPost) -> dict[str, Any] | None:
        if post.images:
            return {"$type": "app.bsky.embed.images#view", "images": [
                {"thumb": f"{self.base_url}/media/bs-{post.rkey}-{n}-thumb.jpg",
                 "fullsize": f"{self.base_url}/media/bs-{post.rkey}-{n}.jpg", "alt": f"photo {n}"}
                for n in range(post.images)]}
        if post.link:
            return {"$type": "app.bsky.embed.external#view", "external": {
                "uri": post.link, "title": "City news", "description": "Latest news from the city",
                "thumb": f"{self.base_url}/media/bs-{post.rkey}-card.jpg"}}
        return None

    def _view(self, post: FakeBskyPost) -> dict[str, Any]:
        thread = self.threads.get(post.uri)
        replies = thread.replies if thread else self.threads[post.root].replies if post.root else []
        view: dict[str, Any] = {
            "uri": post.uri, "cid": _cid(f"{post.uri}#{post.revision}"), "author": self._author(post),
            "record": self._record(post), "replyCount": sum(1 for r in replies if r.parent == post.uri),
            "repostCount": 0, "likeCount": post.likes, "quoteCount": 0, "bookmarkCount": 0,
            "indexedAt": _time(post.created), "viewer": {"threadMuted": False, "embeddingDisabled": False},
            "labels": []}
        if (embed := self._embed_view(post)) is not None:
            view["embed"] = embed
        return view

    def _threadgate(self, root: FakeBskyPost) -> dict[str, Any] | None:
        thread = self.threads.get(root.uri)
        if not thread or not thread.hidden:
            return None
        return {"uri": f"at://{self.did}/app.bsky.feed.threadgate/{root.rkey}", "cid": _cid(f"gate{root.uri}"),
                "record": {"$type": "app.bsky.feed.threadgate", "post": root.uri, "createdAt": _time(root.created),
                           "allow": [{"$type": "app.bsky.feed.threadgate#mentionRule"}],
                           "hiddenReplies": sorted(thread.hidden)}, "lists": []}

    def _feed_entry(self, post: FakeBskyPost) -> dict[str, Any]:
        if post.repost_of:
            original = FakeBskyPost(post.repost_of.split("/")[2], post.repost_of.rsplit("/", 1)[1], post.created,
                                    "County road closures this week", "county.example.gov")
            return {"post": self._view(original) | {"uri": post.repost_of},
                    "reason": {"$type": "app.bsky.feed.defs#reasonRepost", "by": self._author(post),
                               "indexedAt": _time(post.created)}}
        return {"post": self._view(post)}

    def _thread_view(self, post: FakeBskyPost, depth: int) -> dict[str, Any]:
        node: dict[str, Any] = {"$type": "app.bsky.feed.defs#threadViewPost", "post": self._view(post)}
        if depth > 0:
            thread = self.threads.get(post.root or post.uri)
            children = [r for r in (thread.replies if thread else []) if r.parent == post.uri]
            node["replies"] = [self._thread_view(r, depth - 1) for r in children]
        return node
