"""A fake Threads account for the fake Graph API (``FakeGraphServer(..., version="v1.0")``):
text, image, video and carousel threads, quotes and reposts, replies at any depth, hidden
top-level replies (their subtrees hidden with them), edits, deletions; deterministic at any size.

    account = FakeThreads.synthetic(threads=40, replies=400, seed=1)
    account.truth()   # the ground truth a harvest must match

It answers ``/{user-id}`` (profile), ``/{user-id}/threads`` (cursor paging with ``next``),
``/{media-id}/conversation`` (every reply under a thread, flat; ``reverse=false`` oldest first),
``/{media-id}/replies`` (top-level only), ``/{media-id}/insights?metric=…`` and ``/{id}``
(error 100/33 once gone), with the shapes of the Threads API reference.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.graph.fakeserver import GraphRequest, missing_object, missing_permission, paged

READ = ("threads_basic", "threads_read_replies")
INSIGHTS = "threads_manage_insights"
WORDS = ("transit", "budget", "park", "library", "snow", "meeting", "council", "water", "bridge", "festival")


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


@dataclass
class FakeReply:
    id: str
    thread_id: str
    parent_id: str  # the thread itself for a top-level reply
    created: datetime
    text: str
    username: str
    hidden: bool = False  # set on top-level replies; their subtree is hidden with them

    @property
    def top_level(self) -> bool:
        return self.parent_id == self.thread_id


@dataclass
class FakeThread:
    id: str
    created: datetime
    text: str
    media_type: str  # TEXT_POST | IMAGE | VIDEO | CAROUSEL_ALBUM | REPOST_FACADE
    children: list[str] = field(default_factory=list)
    quoted: str | None = None
    reposted: str | None = None
    likes: int = 0
    views: int = 0
    replies: list[FakeReply] = field(default_factory=list)  # chronological, every depth


class FakeThreads:
    def __init__(self, user_id: str = "26000000000000001", username: str = "cityofspringfield"):
        self.user_id, self.username = user_id, username
        self.threads: list[FakeThread] = []  # newest first
        self.thread_by_id: dict[str, FakeThread] = {}
        self.reply_by_id: dict[str, FakeReply] = {}
        self.permissions: set[str] = {*READ, INSIGHTS}
        self._serial = 0

    def _id(self, base: int) -> str:
        self._serial += 1
        return str(base + self._serial * 11)

    # Building ----------------------------------------------------------------------------------
    def add_thread(self, at: datetime, text: str, media_type: str = "TEXT_POST", children: int = 0,
                   quoted: str | None = None, reposted: str | None = None) -> FakeThread:
        thread = FakeThread(self._id(18000000000000000), at, text, media_type, quoted=quoted, reposted=reposted)
        thread.children = [self._id(18100000000000000) for _ in range(children)]
        self.threads.insert(next((i for i, t in enumerate(self.threads) if t.created <= at), len(self.threads)), thread)
        self.thread_by_id[thread.id] = thread
        return thread

    def add_reply(self, thread: FakeThread, at: datetime, text: str, username: str,
                  parent: FakeReply | None = None) -> FakeReply:
        reply = FakeReply(self._id(18200000000000000), thread.id, parent.id if parent else thread.id, at, text,
                          username)
        thread.replies.append(reply)
        self.reply_by_id[reply.id] = reply
        return reply

    @classmethod
    def synthetic(cls, threads: int, replies: int, seed: int = 0, now: datetime | None = None) -> FakeThreads:
        rng = random.Random(seed)
        account = cls()
        now = (now or datetime.now(UTC)).replace(microsecond=0)
        for index in range(threads):
            kind = rng.choice(("TEXT_POST", "TEXT_POST", "IMAGE", "VIDEO", "CAROUSEL_ALBUM", "REPOST_FACADE"))
            quoted = account.threads[-1].id if account.threads and rng.random() < 0.1 else None
            account.add_thread(now - timedelta(hours=9 * (index + 1)), f"{' '.join(rng.choices(WORDS, k=6))} #{index}",
                               kind, children=2 if kind == "CAROUSEL_ALBUM" else 0, quoted=quoted,
                               reposted="17999000000000001" if kind == "REPOST_FACADE" else None)
        own = [t for t in account.threads if t.media_type != "REPOST_FACADE"]
        for index in range(replies):
            thread = rng.choice(own[: max(1, len(own) // 3)] if rng.random() < 0.5 else own)
            parent = rng.choice(thread.replies) if thread.replies and rng.random() < 0.4 else None
            at = min((parent.created if parent else thread.created) + timedelta(minutes=1 + rng.random() * 200), now)
            reply = account.add_reply(thread, at, f"{' '.join(rng.choices(WORDS, k=4))} {index}",
                                      f"resident{rng.randrange(80)}", parent=parent)
            reply.hidden = reply.top_level and rng.random() < 0.04
        for thread in own:
            thread.replies.sort(key=lambda r: r.created)
        return account

    def edit_reply(self, reply_id: str, text: str) -> None:
        self.reply_by_id[reply_id].text = text

    def hidden_under(self, reply: FakeReply) -> bool:
        """Hidden itself, or under a hidden top-level reply."""
        while True:
            if reply.hidden:
                return True
            if reply.top_level:
                return False
            reply = self.reply_by_id[reply.parent_id]

    def delete_reply(self, reply_id: str) -> list[str]:
        """A reply and every reply under it go."""
        gone = [reply_id]
        for reply in self.thread_by_id[self.reply_by_id[reply_id].thread_id].replies:
            if reply.parent_id in gone:
                gone.append(reply.id)
        thread = self.thread_by_id[self.reply_by_id[reply_id].thread_id]
        thread.replies = [r for r in thread.replies if r.id not in gone]
        for item in gone:
            self.reply_by_id.pop(item, None)
        return gone

    def delete_thread(self, thread_id: str) -> list[str]:
        thread = self.thread_by_id.pop(thread_id)
        self.threads.remove(thread)
        for reply in thread.replies:
            self.reply_by_id.pop(reply.id, None)
        return [thread_id, *thread.children, *(r.id for r in thread.replies)]

    def truth(self) -> dict[str, str]:
        found = {t.id: t.text for t in self.threads}
        found |= {c: t.id for t in self.threads for c in t.children}
        found |= {r.id: f"{r.text}|{self.hidden_under(r)}" for r in self.reply_by_id.values()}
        return found

    def media_file(self, name: str) -> bytes | None:  # GraphModel: media files by name
        return b"\xff\xd8\xff\xe0TH" + hashlib.sha256(name.encode()).digest() * 32 + b"\xff\xd9" \
            if name.startswith("th-") else None

    def usage_object(self) -> str:
        return self.user_id

    # Answering ---------------------------------------------------------------------------------
    def answer(self, request: GraphRequest) -> tuple[int, Any]:
        path = request.path
        needed = [READ[0]] + ([READ[1]] if path[-1:] in (["conversation"], ["replies"]) else []) + \
            ([INSIGHTS] if path[-1:] == ["insights"] else [])
        for permission in needed:
            if permission not in self.permissions:
                return missing_permission(permission)
        fields = request.fields
        if path == [self.user_id]:
            full = {"id": self.user_id, "username": self.username, "name": "City of Springfield",
                    "threads_profile_picture_url": f"{request.media_root}/th-profile.jpg?stp=dst&_nc_ht=x&oh=1&oe=6A",
                    "threads_biography": "Official account of the City of Springfield."}
            return 200, {k: v for k, v in full.items() if k in fields or k == "id"}
        if path == [self.user_id, "threads"]:
            chunk, extra = paged(request, self.threads, f"{self.user_id}/threads")
            return 200, {"data": [self._thread(t, fields, request) for t in chunk], **extra}
        if len(path) == 2 and (thread := self.thread_by_id.get(path[0])):
            if path[1] in ("conversation", "replies"):
                listed = thread.replies if path[1] == "conversation" else [r for r in thread.replies if r.top_level]
                if request.query.get("reverse", "true") != "false":
                    listed = listed[::-1]
                chunk, extra = paged(request, listed, f"{thread.id}/{path[1]}")
                return 200, {"data": [self._reply(r, fields, request) for r in chunk], **extra}
            if path[1] == "insights":
                return 200, self._insights(thread, request.query.get("metric", ""))
        if len(path) == 1 and (thread := self.thread_by_id.get(path[0])):
            return 200, self._thread(thread, fields, request)
        if len(path) == 1 and (reply := self.reply_by_id.get(path[0])):
            return 200, self._reply(reply, fields, request)
        return missing_object(path[-1] if path else "")

    def _url(self, request: GraphRequest, name: str) -> str:
        return f"{request.media_root}/{name}?stp=dst-jpg&_nc_cat=1&ccb=1-7&_nc_sid=1&oh=00_{name[-6:]}&oe=6A1B2C3D"

    def _common(self, item_id: str, created: datetime, text: str, media_type: str, username: str,
                request: GraphRequest) -> dict[str, Any]:
        code = f"D{item_id[-10:]}"
        values: dict[str, Any] = {"id": item_id, "media_product_type": "THREADS", "media_type": media_type,
                                  "permalink": f"https://www.threads.net/@{username}/post/{code}",
                                  "username": username, "timestamp": _time(created), "shortcode": code,
                                  "is_quote_post": False}
        if text:
            values["text"] = text
        if media_type in ("IMAGE", "VIDEO"):
            values["media_url"] = self._url(request, f"th-{item_id}.{'mp4' if media_type == 'VIDEO' else 'jpg'}")
        if media_type == "VIDEO":
            values["thumbnail_url"] = self._url(request, f"th-{item_id}-thumb.jpg")
        return values

    def _thread(self, thread: FakeThread, fields: dict[str, Any], request: GraphRequest) -> dict[str, Any]:
        values = self._common(thread.id, thread.created, thread.text if thread.media_type != "REPOST_FACADE" else "",
                              thread.media_type, self.username, request)
        values["owner"] = {"id": self.user_id}
        values["has_replies"] = bool(thread.replies)
        if thread.quoted:
            values["is_quote_post"], values["quoted_post"] = True, {"id": thread.quoted}
        if thread.reposted:
            values["reposted_post"] = {"id": thread.reposted}
        out = {k: v for k, v in values.items() if k in fields or k == "id"}
        if "children" in fields and thread.children:
            sub = fields["children"].sub or {}
            out["children"] = {"data": [{k: v for k, v in {
                "id": child, "media_type": "IMAGE", "media_url": self._url(request, f"th-{child}.jpg"),
                "permalink": values["permalink"], "timestamp": values["timestamp"]}.items() if k in sub or k == "id"}
                for child in thread.children]}
        return out

    def _reply(self, reply: FakeReply, fields: dict[str, Any], request: GraphRequest) -> dict[str, Any]:
        values = self._common(reply.id, reply.created, reply.text, "TEXT_POST", reply.username, request)
        values |= {"root_post": {"id": reply.thread_id}, "replied_to": {"id": reply.parent_id}, "is_reply": True,
                   "has_replies": any(r.parent_id == reply.id for r in self.thread_by_id[reply.thread_id].replies),
                   "is_reply_owned_by_me": False, "reply_audience": "EVERYONE",
                   "hide_status": "HIDDEN" if self.hidden_under(reply) else "NOT_HUSHED"}
        return {k: v for k, v in values.items() if k in fields or k == "id"}

    def _insights(self, thread: FakeThread, metrics: str) -> dict[str, Any]:
        values = {"views": thread.views, "likes": thread.likes, "replies": len(thread.replies), "reposts": 0,
                  "quotes": sum(1 for t in self.threads if t.quoted == thread.id), "shares": 0}
        return {"data": [{"name": name, "period": "lifetime", "values": [{"value": values[name]}],
                          "title": name.capitalize(), "description": f"The number of {name} of your post.",
                          "id": f"{thread.id}/insights/{name}/lifetime"}
                         for name in metrics.split(",") if name in values]}
