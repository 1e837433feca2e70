"""A fake LinkedIn Community Management API, following the documented shapes (no recorded LinkedIn
payloads are public): one organization's posts (text, images, multi-image, articles), members'
comments and replies, edits, deletions; Rest.li paging (``start``/``count``/``total``, ``links``),
the mandatory ``LinkedIn-Version`` and ``X-Restli-Protocol-Version`` headers, LinkedIn's error
bodies (``status``/``serviceErrorCode``/``code``/``message``), 429 without a budget header, and
the bad days of ``connectors.fakehttp``::

    with FakeLinkedIn.synthetic(posts=40, comments=300, seed=1) as server:
        server.approved = False      # the app lacks the Community Management API: 403 ACCESS_DENIED
        server.active_versions = {"202610"}   # other LinkedIn-Version values: 426 NONEXISTENT_VERSION

Answers ``/rest/posts?q=author``, ``/rest/posts/{urn}``, ``/rest/socialActions/{urn}/comments``,
``/rest/socialActions/{urn}/comments/{id}``, ``/rest/socialMetadata?ids=List(…)`` and
``/rest/images?ids=List(…)``.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote

from connectors.fakehttp import Answer, FakeApiServer

WORDS = ("hiring", "budget", "transit", "library", "council", "grant", "parks", "safety", "permits", "water")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _error(status: int, code: str, message: str, service: int = 0) -> dict[str, Any]:
    return {"status": status, "serviceErrorCode": service, "code": code, "message": message}


@dataclass
class FakeComment:
    urn: str
    id: str
    target: str  # the post (share) or, for a reply, the parent comment
    post: str
    created: datetime
    text: str
    actor: str
    edited: datetime | None = None
    replies: list[FakeComment] = field(default_factory=list)
    likes: int = 0


@dataclass
class FakePost:
    urn: str
    activity: str
    created: datetime
    text: str
    images: list[str] = field(default_factory=list)
    article: str | None = None
    edited: datetime | None = None
    reactions: int = 0
    comments: list[FakeComment] = field(default_factory=list)


class FakeLinkedIn(FakeApiServer):
    def __init__(self, organization_id: str = "5515715", port: int = 0):
        super().__init__(port)
        self.organization = f"urn:li:organization:{organization_id}"
        self.posts: list[FakePost] = []  # newest first
        self.post_by_urn: dict[str, FakePost] = {}
        self.comment_by_urn: dict[str, FakeComment] = {}
        self.tokens: set[str] = set()
        self.approved = True
        self.active_versions = {"202610", "202609", "202608"}
        self._serial = 0

    # Building ------------------------------------------------------------------------------
    def _number(self, at: datetime) -> str:
        self._serial += 1
        return str(_ms(at) * 4096 + self._serial % 4096)

    def post(self, at: datetime, text: str, *, images: int = 0, article: str | None = None) -> FakePost:
        number = self._number(at)
        post = FakePost(f"urn:li:share:{number}", f"urn:li:activity:{number}", at, text, article=article)
        post.images = [f"urn:li:image:D4E10AQ{number[-9:]}{n}" for n in range(images)]
        self.posts.append(post)
        self.posts.sort(key=lambda p: p.created, reverse=True)
        self.post_by_urn[post.urn] = post
        return post

    def comment(self, post: FakePost, at: datetime, text: str, actor: str,
                parent: FakeComment | None = None) -> FakeComment:
        number = self._number(at)
        comment = FakeComment(f"urn:li:comment:({post.activity},{number})", number, parent.urn if parent else post.urn,
                              post.urn, at, text, actor)
        (parent.replies if parent else post.comments).append(comment)
        self.comment_by_urn[comment.urn] = comment
        return comment

    def delete_post(self, urn: str) -> None:
        post = self.post_by_urn.pop(urn)
        self.posts.remove(post)
        for comment in post.comments:
            for reply in [comment, *comment.replies]:
                self.comment_by_urn.pop(reply.urn, None)

    def delete_comment(self, urn: str) -> list[str]:
        """A comment and its replies go."""
        comment = self.comment_by_urn.pop(urn)
        owner = self.comment_by_urn[comment.target].replies if comment.target in self.comment_by_urn else \
            self.post_by_urn[comment.post].comments
        owner.remove(comment)
        for reply in comment.replies:
            self.comment_by_urn.pop(reply.urn, None)
        return [urn, *(r.urn for r in comment.replies)]

    @classmethod
    def synthetic(cls, posts: int, comments: int, seed: int = 0, now: datetime | None = None) -> FakeLinkedIn:
        rng = random.Random(seed)
        server = cls()
        now = (now or datetime.now(UTC)).replace(microsecond=0)
        for index in range(posts):
            roll = rng.random()
            server.post(now - timedelta(hours=11 * (index + 1)), f"{' '.join(rng.choices(WORDS, k=8))} #{index}",
                        images=1 if roll < 0.15 else 3 if roll < 0.2 else 0,
                        article="https://springfield.example.gov/jobs" if 0.2 <= roll < 0.3 else None)
        for index in range(comments):
            post = rng.choice(server.posts[: max(1, len(server.posts) // 3)] if rng.random() < 0.5 else server.posts)
            parent = rng.choice(post.comments) if post.comments and rng.random() < 0.3 else None
            at = min((parent or post).created + timedelta(minutes=1 + rng.random() * 300), now)
            server.comment(post, at, f"{' '.join(rng.choices(WORDS, k=5))} {index}",
                           f"urn:li:person:m{rng.randrange(90):05d}", parent)
        for post in server.posts:
            post.comments.sort(key=lambda c: c.created)
            for comment in post.comments:
                comment.replies.sort(key=lambda c: c.created)
        return server

    def truth(self) -> dict[str, str]:
        found = {p.urn: p.text for p in self.posts}
        found |= {image: p.urn for p in self.posts for image in p.images}
        found |= {c.urn: c.text for c in self.comment_by_urn.values()}
        return found

    # Answering ------------------------------------------------------------------------------
    def throttled(self) -> tuple[int, Any]:
        return 429, _error(429, "TOO_MANY_REQUESTS", "Resource level throttle APPLICATION DAY limit for calls to "
                                                     "this resource is reached.", 101)

    def fault(self, status: int) -> Any:
        return _error(status, "INTERNAL_SERVER_ERROR", "Internal Server Error")

    def media(self, name: str) -> bytes | None:
        return b"\xff\xd8\xff\xe0LI" + hashlib.sha256(name.encode()).digest() * 36 + b"\xff\xd9" \
            if name.startswith("li-") else None

    def check_token(self, headers: dict[str, str]) -> Answer | None:
        token = self.bearer(headers)
        if token is None:
            return 401, _error(401, "EMPTY_ACCESS_TOKEN", "Empty oauth2_access_token", 65604), []
        if token in self.expired:
            return 401, _error(401, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired", 65601), []
        if self.tokens and token not in self.tokens:
            return 401, _error(401, "INVALID_ACCESS_TOKEN", "Invalid access token", 65600), []
        version = next((v for k, v in headers.items() if k.lower() == "linkedin-version"), None)
        if version is None:
            return 400, _error(400, "VERSION_MISSING", "A version must be present. Please specify a version by "
                                                       "adding the LinkedIn-Version header."), []
        if version not in self.active_versions:
            return 426, _error(426, "NONEXISTENT_VERSION", f"Requested version {version} is not active"), []
        if next((v for k, v in headers.items() if k.lower() == "x-restli-protocol-version"), None) != "2.0.0":
            return 400, _error(400, "ILLEGAL_ARGUMENT", "Invalid query parameters passed to request"), []
        if not self.approved:
            return 403, _error(403, "ACCESS_DENIED", "Not enough permissions to access: "
                                                     "partnerApiPostsExternal.FINDER-author.20261001", 100), []
        return None

    def route(self, path: str, query: dict[str, str], pairs: list[tuple[str, str]],
              headers: dict[str, str]) -> Answer:
        parts = [unquote(p) for p in path.split("/") if p]
        if parts[:1] != ["rest"]:
            return 404, _error(404, "NOT_FOUND", "Not Found"), []
        parts = parts[1:]
        if parts == ["posts"] and query.get("q") == "author":
            if query.get("author") != self.organization:
                return 403, _error(403, "ACCESS_DENIED", "Not enough permissions to access: "
                                                         "partnerApiPostsExternal.FINDER-author.20261001", 100), []
            return 200, self._paged(query, self.posts, self._post, "/rest/posts"), []
        if len(parts) == 2 and parts[0] == "posts":
            post = self.post_by_urn.get(parts[1])
            return (200, self._post(post), []) if post else (404, _error(404, "NOT_FOUND", "Not Found"), [])
        if parts and parts[0] == "socialActions" and len(parts) in (3, 4) and parts[2] == "comments":
            target = self.post_by_urn.get(parts[1]) or self.comment_by_urn.get(parts[1])
            listed = (target.comments if isinstance(target, FakePost) else target.replies) if target else None
            if listed is None:
                return 404, _error(404, "NOT_FOUND", f"Entity {parts[1]} not found"), []
            if len(parts) == 4:
                found = next((c for c in listed if c.id == parts[3]), None)
                return (200, self._comment(found), []) if found else (404, _error(404, "NOT_FOUND", "Not Found"), [])
            return 200, self._paged(query, listed, self._comment, f"/rest/socialActions/{quote(parts[1], safe='')}"
                                                                   "/comments"), []
        if parts in (["socialMetadata"], ["images"]):
            ids = query.get("ids", "")
            if not (ids.startswith("List(") and ids.endswith(")")):
                return 400, _error(400, "ILLEGAL_ARGUMENT", "Invalid query parameters passed to request"), []
            urns = [unquote(u) for u in ids[5:-1].split(",") if u]
            results = {u: r for u in urns if (r := (self._metadata(u) if parts == ["socialMetadata"]
                                                    else self._image(u))) is not None}
            return 200, {"results": results, "statuses": {}, "errors": {}}, []
        return 404, _error(404, "NOT_FOUND", "Not Found"), []

    def _paged(self, query: dict[str, str], items: list[Any], render: Any, path: str) -> dict[str, Any]:
        start = max(int(query.get("start") or 0), 0)
        count = max(1, min(int(query.get("count") or 10), 100))
        chunk = items[start:start + count]
        links = []
        if start + count < len(items):
            keep = "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items() if k not in ("start", "count"))
            links.append({"type": "application/json", "rel": "next",
                          "href": f"{path}?{keep + '&' if keep else ''}count={count}&start={start + count}"})
        return {"paging": {"start": start, "count": count, "links": links, "total": len(items)},
                "elements": [render(i) for i in chunk]}

    def _post(self, post: FakePost) -> dict[str, Any]:
        body: dict[str, Any] = {
            "isReshareDisabledByAuthor": False, "createdAt": _ms(post.created), "lifecycleState": "PUBLISHED",
            "lastModifiedAt": _ms(post.edited or post.created), "visibility": "PUBLIC",
            "publishedAt": _ms(post.created), "author": self.organization, "id": post.urn,
            "distribution": {"feedDistribution": "MAIN_FEED", "thirdPartyDistributionChannels": []},
            "commentary": post.text, "lifecycleStateInfo": {"isEditedByAuthor": post.edited is not None}}
        if len(post.images) == 1:
            body["content"] = {"media": {"altText": "", "id": post.images[0]}}
        elif post.images:
            body["content"] = {"multiImage": {"images": [{"id": i, "altText": ""} for i in post.images]}}
        elif post.article:
            body["content"] = {"article": {"source": post.article, "title": "Work for the City",
                                           "description": "Open positions"}}
        return body

    def _comment(self, comment: FakeComment) -> dict[str, Any]:
        created = {"actor": comment.actor, "time": _ms(comment.created)}
        body: dict[str, Any] = {
            "actor": comment.actor, "commentUrn": comment.urn, "created": created, "id": comment.id,
            "lastModified": {"actor": comment.actor, "time": _ms(comment.edited or comment.created)},
            "likesSummary": {"selectedLikes": [], "aggregatedTotalLikes": comment.likes, "likedByCurrentUser": False,
                             "totalLikes": comment.likes},
            "message": {"attributes": [], "text": comment.text},
            "object": self.post_by_urn[comment.post].activity if comment.post in self.post_by_urn else comment.post,
            "commentsSummary": {"selectedComments": [r.urn for r in comment.replies[:1]],
                                "aggregatedTotalComments": len(comment.replies),
                                "totalFirstLevelComments": len(comment.replies)},
            "$URN": comment.urn}
        if comment.target != comment.post:
            body["parentComment"] = comment.target
        return body

    def _metadata(self, urn: str) -> dict[str, Any] | None:
        post = self.post_by_urn.get(urn)
        if post is None:
            return None
        total = sum(1 + len(c.replies) for c in post.comments)
        return {"reactionSummaries": {"LIKE": {"reactionType": "LIKE", "count": post.reactions}} if post.reactions
                else {}, "commentsState": "OPEN", "entity": urn,
                "commentSummary": {"count": total, "topLevelCount": len(post.comments)}}

    def _image(self, urn: str) -> dict[str, Any] | None:
        if not any(urn in p.images for p in self.posts):
            return None
        name = f"li-{urn.rsplit(':', 1)[1]}.jpg"
        return {"owner": self.organization, "status": "AVAILABLE", "id": urn, "mediaType": "image/jpeg",
                "downloadUrlExpiresAt": _ms(datetime.now(UTC) + timedelta(hours=1)),
                "downloadUrl": f"{self.base_url}/media/{name}?e=1767225600&v=beta&t=sig{urn[-6:]}"}
