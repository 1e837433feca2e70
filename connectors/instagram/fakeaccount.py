"""A fake Instagram business account for the fake Graph API: images, videos and carousels,
comments (some hidden) and their replies; deterministic and cheap at any size.

    account = FakeInstagram.synthetic(media=40, comments=300, seed=1)

It answers ``/{ig-user-id}`` (profile), ``/{ig-user-id}/media`` (with ``children{…}`` and nested
``comments.limit(n){…,replies.limit(n){…}}``), ``/{media-id}/comments``, ``/{comment-id}/replies``
and ``/{id}`` (error 100/33 once gone), in Instagram's paging style: ``cursors.after`` and ``next``
only, and no ``paging`` at all on a last page.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.graph.fakeserver import FieldSpec, GraphRequest, missing_object, missing_permission, paged

READ = ("instagram_basic", "instagram_manage_comments")
WORDS = ("park", "trail", "snow", "plow", "library", "concert", "market", "bridge", "sunset", "council")


def _ig_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


@dataclass
class IgComment:
    id: str
    media_id: str
    parent_id: str | None
    created: datetime
    text: str
    username: str
    hidden: bool = False
    likes: int = 0
    replies: list[IgComment] = field(default_factory=list)


@dataclass
class IgMedia:
    id: str
    created: datetime
    caption: str
    media_type: str  # IMAGE | VIDEO | CAROUSEL_ALBUM
    children: list[str] = field(default_factory=list)
    likes: int = 0
    comments: list[IgComment] = field(default_factory=list)  # top level, chronological


class FakeInstagram:
    def __init__(self, user_id: str = "17841400000000001", username: str = "cityofspringfield"):
        self.user_id, self.username = user_id, username
        self.media: list[IgMedia] = []
        self.media_by_id: dict[str, IgMedia] = {}
        self.comment_by_id: dict[str, IgComment] = {}
        self.permissions: set[str] = {*READ, "pages_read_engagement"}
        self.followers = 5400
        self._serial = 0

    def _id(self, base: int) -> str:
        self._serial += 1
        return str(base + self._serial * 13)

    def add_media(self, at: datetime, caption: str, media_type: str = "IMAGE", children: int = 0) -> IgMedia:
        media = IgMedia(self._id(17900000000000000), at, caption, media_type)
        media.children = [self._id(17950000000000000) for _ in range(children)]
        self.media.insert(next((i for i, m in enumerate(self.media) if m.created <= at), len(self.media)), media)
        self.media_by_id[media.id] = media
        return media

    def add_comment(self, media: IgMedia, at: datetime, text: str, username: str, *,
                    parent: IgComment | None = None, hidden: bool = False) -> IgComment:
        comment = IgComment(self._id(18000000000000000), media.id, parent.id if parent else None, at, text, username,
                            hidden)
        (parent.replies if parent else media.comments).append(comment)
        self.comment_by_id[comment.id] = comment
        return comment

    @classmethod
    def synthetic(cls, media: int, comments: int, seed: int = 0, now: datetime | None = None) -> FakeInstagram:
        rng = random.Random(seed)
        account = cls()
        now = (now or datetime.now(UTC)).replace(microsecond=0)
        for index in range(media):
            kind = rng.choice(("IMAGE", "IMAGE", "VIDEO", "CAROUSEL_ALBUM"))
            account.add_media(now - timedelta(hours=20 * (index + 1)), f"{' '.join(rng.choices(WORDS, k=5))} #{index}",
                              kind, children=3 if kind == "CAROUSEL_ALBUM" else 0)
        for index in range(comments):
            item = rng.choice(account.media[: max(1, len(account.media) // 2)] if rng.random() < 0.6 else account.media)
            parents = item.comments
            parent = rng.choice(parents) if parents and rng.random() < 0.3 else None
            at = min((parent.created if parent else item.created) + timedelta(minutes=1 + rng.random() * 300), now)
            text = f"{' '.join(rng.choices(WORDS, k=4))} {index}"
            account.add_comment(item, at, text, f"resident{rng.randrange(90)}", parent=parent,
                                hidden=rng.random() < 0.05)
        return account

    def delete_comment(self, comment_id: str) -> list[str]:
        comment = self.comment_by_id.pop(comment_id)
        gone = [comment_id, *(r.id for r in comment.replies)]
        for reply in comment.replies:
            self.comment_by_id.pop(reply.id, None)
        owner = self.comment_by_id[comment.parent_id].replies if comment.parent_id else \
            self.media_by_id[comment.media_id].comments
        owner.remove(comment)
        return gone

    def truth(self) -> dict[str, str]:
        found = {m.id: m.caption for m in self.media}
        found |= {c: m.id for m in self.media for c in m.children}
        found |= {c.id: f"{c.text}|{c.hidden}" for c in self.comment_by_id.values()}
        return found

    def media_bytes(self, name: str) -> bytes:
        return b"\xff\xd8\xff\xe0IG" + hashlib.sha256(name.encode()).digest() * 64 + b"\xff\xd9"

    def media_file(self, name: str) -> bytes | None:  # GraphModel: media files by name
        return self.media_bytes(name) if name.startswith("ig-") else None

    def usage_object(self) -> str:
        return self.user_id

    # Answering ---------------------------------------------------------------------------------
    def answer(self, request: GraphRequest) -> tuple[int, Any]:
        path = request.path
        for permission in READ[: 1 if len(path) == 1 and path[0] == self.user_id else 2]:
            if permission not in self.permissions:
                return missing_permission(permission)
        if path == [self.user_id]:
            full = {"id": self.user_id, "username": self.username, "name": "City of Springfield",
                    "biography": "Official account of the City of Springfield.",
                    "website": "https://www.springfield.example.gov",
                    "profile_picture_url": f"{request.media_root}/ig-profile.jpg?_nc_ht=x&oh=1&oe=6123",
                    "followers_count": self.followers, "follows_count": 120, "media_count": len(self.media)}
            return 200, {k: v for k, v in full.items() if k in request.fields or k == "id"}
        if path == [self.user_id, "media"]:
            chunk, extra = paged(request, self.media, f"{self.user_id}/media", instagram=True)
            return 200, {"data": [self._media(m, request.fields, request) for m in chunk], **extra}
        if len(path) == 2 and path[1] == "comments" and (media := self.media_by_id.get(path[0])):
            return 200, self._comments(media.comments, request.fields, request, f"{media.id}/comments")
        if len(path) == 2 and path[1] == "replies" and (comment := self.comment_by_id.get(path[0])):
            return 200, self._comments(comment.replies, request.fields, request, f"{comment.id}/replies")
        if len(path) == 1 and (media := self.media_by_id.get(path[0])):
            return 200, self._media(media, request.fields, request)
        if len(path) == 1 and (comment := self.comment_by_id.get(path[0])):
            return 200, self._comment(comment, request.fields, request)
        return missing_object(path[-1] if path else "")

    def _url(self, request: GraphRequest, name: str) -> str:
        return f"{request.media_root}/{name}?_nc_cat=105&ccb=1-5&_nc_sid=8ae9d6&oh=00_{name[-8:]}&oe=6123D60C"

    def _nested(self, request: GraphRequest, spec: FieldSpec, path: str) -> GraphRequest:
        query = {"limit": spec.modifiers.get("limit", "25"), "fields": spec.sub_text}
        return GraphRequest(path.split("/"), query, request.token, request.root, request.media_root)

    def _media(self, media: IgMedia, fields: dict[str, FieldSpec], request: GraphRequest) -> dict[str, Any]:
        ext = "mp4" if media.media_type == "VIDEO" else "jpg"
        values: dict[str, Any] = {
            "id": media.id, "caption": media.caption, "media_type": media.media_type, "media_product_type": "FEED",
            "media_url": self._url(request, f"ig-{media.id}.{ext}"),
            "permalink": f"https://www.instagram.com/p/C{media.id[-9:]}/", "shortcode": f"C{media.id[-9:]}",
            "timestamp": _ig_time(media.created), "username": self.username,
            "comments_count": sum(1 + len(c.replies) for c in media.comments), "like_count": media.likes,
        }
        if media.media_type == "VIDEO":
            values["thumbnail_url"] = self._url(request, f"ig-{media.id}-thumb.jpg")
        out = {k: values[k] for k in fields if k in values}
        out["id"] = media.id
        if "children" in fields and media.children:
            sub = fields["children"].sub or {}
            out["children"] = {"data": [{k: v for k, v in {
                "id": child, "media_type": "IMAGE", "media_url": self._url(request, f"ig-{child}.jpg"),
                "permalink": f"https://www.instagram.com/p/C{child[-9:]}/", "timestamp": _ig_time(media.created),
            }.items() if k in sub or k == "id"} for child in media.children]}
        if "comments" in fields:
            nested = self._nested(request, fields["comments"], f"{media.id}/comments")
            out["comments"] = self._comments(media.comments, fields["comments"].sub or {}, nested,
                                             f"{media.id}/comments")
        return out

    def _comments(self, listed: list[IgComment], fields: dict[str, FieldSpec], request: GraphRequest,
                  path: str) -> dict[str, Any]:
        chunk, extra = paged(request, listed, path, instagram=True)
        return {"data": [self._comment(c, fields, request) for c in chunk], **extra}

    def _comment(self, comment: IgComment, fields: dict[str, FieldSpec], request: GraphRequest) -> dict[str, Any]:
        values: dict[str, Any] = {"id": comment.id, "text": comment.text, "timestamp": _ig_time(comment.created),
                                  "username": comment.username, "hidden": comment.hidden, "like_count": comment.likes,
                                  "from": {"id": str(int(hashlib.sha256(comment.username.encode()).hexdigest()[:12],
                                                             16)), "username": comment.username}}
        if comment.parent_id:
            values["parent_id"] = comment.parent_id
        out = {k: values[k] for k in fields if k in values}
        if "replies" in fields and comment.replies:
            nested = self._nested(request, fields["replies"], f"{comment.id}/replies")
            out["replies"] = self._comments(comment.replies, fields["replies"].sub or {}, nested,
                                            f"{comment.id}/replies")
        return out
