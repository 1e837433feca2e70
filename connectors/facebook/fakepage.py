"""A fake Facebook Page for the fake Graph API: posts (own and visitors'), comments and replies at
any depth, hidden comments, photos, counts; cheap and deterministic to generate at any size.

    page = FakePage.synthetic(posts=1000, comments=20000, seed=7)   # ~0.2 s
    page.counts()   # the ground truth a harvest must match

It answers ``/{page-id}`` (profile), ``/{page-id}/feed|posts`` (cursor paging, or time paging
with ``time_paging``), ``/{post-id}/comments`` (``filter=stream`` or top level),
``/{comment-id}/comments`` (replies) and ``/{id}`` (a post or comment, or error 100/33 once it is
gone), with only the fields asked for and nested ``comments.…{…}`` expansions. Without
``moderator`` it answers like a token without the Page's MODERATE task: comments come without
``id``, ``from``, ``parent`` and ``is_hidden``.
"""

from __future__ import annotations

import hashlib
import io
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.graph.fakeserver import FieldSpec, GraphRequest, missing_object, missing_permission, paged

READ = ("pages_read_engagement", "pages_read_user_content")
NAMES = ("Ana Ortiz", "Ben Cole", "Chen Wei", "Dana Fox", "Eli Brandt", "Fatima Noor", "Gus Hale", "Hana Sato")
WORDS = ("road", "repair", "council", "meeting", "park", "library", "budget", "snow", "parking", "permit", "trash",
         "pickup", "water", "main", "street", "festival", "closure", "bus", "school", "zoning")


def _graph_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


@dataclass
class FakeComment:
    id: str
    post_id: str
    parent_id: str | None  # None: a top-level comment
    created: datetime
    message: str
    author: tuple[str, str]
    hidden: bool = False
    likes: int = 0
    photo: str | None = None
    replies: int = 0


@dataclass
class FakePost:
    id: str
    created: datetime
    message: str
    author: tuple[str, str]
    visitor: bool = False
    hidden: bool = False
    photo: str | None = None
    shares: int = 0
    reactions: int = 0
    comments: list[FakeComment] = field(default_factory=list)  # chronological: the stream order


class FakePage:
    def __init__(self, page_id: str = "1740000000001", name: str = "City of Springfield"):
        self.page_id, self.name = page_id, name
        self.posts: list[FakePost] = []  # newest first
        self.post_by_id: dict[str, FakePost] = {}
        self.comment_by_id: dict[str, FakeComment] = {}
        self.deleted: set[str] = set()
        self.moderator = True
        self.time_paging = False
        self.permissions: set[str] = {*READ, "pages_show_list"}
        self.fans = 12_000
        self.photos: set[str] = {"profile.jpg", "cover.jpg"}
        self._serial = 0

    # Building ----------------------------------------------------------------------------------
    def _next(self, base: int) -> str:
        self._serial += 1
        return str(base + self._serial * 7)

    def add_post(self, at: datetime, message: str, *, visitor: bool = False, photo: bool = False,
                 author: tuple[str, str] | None = None) -> FakePost:
        number = self._next(10158000000000000)
        post = FakePost(f"{self.page_id}_{number}", at, message,
                        author or ((str(9000 + len(self.posts) % 97), NAMES[len(self.posts) % len(NAMES)])
                                   if visitor else (self.page_id, self.name)), visitor=visitor)
        if photo:
            post.photo = f"fb-{number}.jpg"
            self.photos.add(post.photo)
        self.posts.insert(next((i for i, p in enumerate(self.posts) if p.created <= at), len(self.posts)), post)
        self.post_by_id[post.id] = post
        return post

    def add_comment(self, post: FakePost, at: datetime, message: str, author: tuple[str, str], *,
                    parent: FakeComment | None = None, hidden: bool = False, photo: bool = False) -> FakeComment:
        number = self._next(10159000000000000)
        comment = FakeComment(f"{post.id.split('_')[1]}_{number}", post.id, parent.id if parent else None, at,
                              message, author, hidden=hidden)
        if photo:
            comment.photo = f"fbc-{number}.jpg"
            self.photos.add(comment.photo)
        if parent is not None:
            parent.replies += 1
        post.comments.append(comment)
        if post.comments[-2:-1] and post.comments[-2].created > at:
            post.comments.sort(key=lambda c: c.created)
        self.comment_by_id[comment.id] = comment
        return comment

    @classmethod
    def synthetic(cls, posts: int, comments: int, seed: int = 0, *, now: datetime | None = None,
                  hidden: float = 0.04, replies: float = 0.35, photos: float = 0.2, visitors: float = 0.1,
                  hours_apart: float = 17.0) -> FakePage:
        """A Page with ``posts`` posts and ``comments`` comments and replies: 5% of posts draw most
        of the discussion (hundreds of comments, so their comments page), replies nest to any depth."""
        rng = random.Random(seed)
        page = cls()
        now = (now or datetime.now(UTC)).replace(microsecond=0)
        for index in range(posts):
            at = now - timedelta(hours=hours_apart * (index + 1))
            page.add_post(at, f"{' '.join(rng.choices(WORDS, k=8)).capitalize()} (notice {posts - index})",
                          visitor=rng.random() < visitors, photo=rng.random() < photos)
        chosen = list(reversed(page.posts))
        weights = [20 if rng.random() < 0.05 else 1 for _ in chosen]
        for index, post_index in enumerate(sorted(rng.choices(range(len(chosen)), weights, k=comments))):
            post = chosen[post_index]
            parent = rng.choice(post.comments) if post.comments and rng.random() < replies else None
            start = parent.created if parent else post.created
            at = min(start + timedelta(minutes=1 + rng.random() * 600), now)
            page.add_comment(post, at, f"{' '.join(rng.choices(WORDS, k=6))} #{index}",
                             (str(5000 + rng.randrange(400)), rng.choice(NAMES)), parent=parent,
                             hidden=rng.random() < hidden, photo=rng.random() < 0.01)
        for post in page.posts:
            post.shares, post.reactions = rng.randrange(0, 40), rng.randrange(0, 400)
        return page

    # Changing ----------------------------------------------------------------------------------
    def delete_comment(self, comment_id: str) -> list[str]:
        """A deleted comment takes its replies with it; returns every id that went."""
        comment = self.comment_by_id[comment_id]
        post = self.post_by_id[comment.post_id]
        gone = {comment_id}
        for other in post.comments:  # stream order: a reply comes after its parent
            if other.parent_id in gone:
                gone.add(other.id)
        post.comments = [c for c in post.comments if c.id not in gone]
        if comment.parent_id in self.comment_by_id:
            self.comment_by_id[comment.parent_id].replies -= 1
        for item in gone:
            del self.comment_by_id[item]
        self.deleted |= gone
        return sorted(gone)

    def delete_post(self, post_id: str) -> list[str]:
        post = self.post_by_id.pop(post_id)
        self.posts.remove(post)
        gone = [post_id, *(c.id for c in post.comments)]
        for comment in post.comments:
            del self.comment_by_id[comment.id]
        self.deleted.update(gone)
        return gone

    # Ground truth ------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        comments = [c for p in self.posts for c in p.comments]
        return {"posts": len(self.posts), "visitor_posts": sum(p.visitor for p in self.posts),
                "comments": sum(c.parent_id is None for c in comments),
                "replies": sum(c.parent_id is not None for c in comments),
                "hidden": sum(c.hidden for c in comments), "photos": sum(bool(p.photo) for p in self.posts)
                + sum(bool(c.photo) for c in comments)}

    def truth(self) -> dict[str, str]:
        """Every item that exists: id → its text and hidden flag."""
        items = {p.id: f"{p.message}|{p.hidden}" for p in self.posts}
        items |= {c.id: f"{c.message}|{c.hidden}" for p in self.posts for c in p.comments}
        return items

    def media_file(self, name: str) -> bytes | None:
        """A photo as the CDN serves it: a real JPEG (a small swatch coloured by its name, named in it)."""
        if name.split("?")[0] not in self.photos:
            return None
        from PIL import Image

        seed = hashlib.sha256(name.encode()).digest()
        out = io.BytesIO()
        Image.new("RGB", (64, 48), (seed[0], seed[1], seed[2])).save(out, "JPEG", quality=85, comment=name.encode())
        return out.getvalue()

    def usage_object(self) -> str:
        return self.page_id

    # Answering ---------------------------------------------------------------------------------
    def answer(self, request: GraphRequest) -> tuple[int, Any]:
        path = request.path
        needs = READ if len(path) == 2 else READ[:1]
        for permission in needs:
            if permission not in self.permissions:
                return missing_permission(permission)
        if path == [self.page_id]:
            return 200, self._profile(request)
        if len(path) == 2 and path[0] == self.page_id and path[1] in ("feed", "posts", "published_posts"):
            posts = [p for p in self.posts if path[1] == "feed" or not p.visitor]
            chunk, extra = paged(request, posts, f"{self.page_id}/{path[1]}", default_limit=25,
                                 time_field="created" if self.time_paging else None)
            return 200, {"data": [self._post(p, request.fields, request) for p in chunk], **extra}
        if len(path) == 2 and path[1] == "comments":
            if (post := self.post_by_id.get(path[0])) is not None:
                stream = request.query.get("filter") == "stream"
                return 200, self._comments(post, [c for c in post.comments if stream or c.parent_id is None],
                                           request.fields, request, request.query, path[0])
            if (parent := self.comment_by_id.get(path[0])) is not None:
                post = self.post_by_id[parent.post_id]
                return 200, self._comments(post, [c for c in post.comments if c.parent_id == parent.id],
                                           request.fields, request, request.query, path[0])
            return missing_object(path[0])
        if len(path) == 1 and (post := self.post_by_id.get(path[0])) is not None:
            return 200, self._post(post, request.fields, request)
        if len(path) == 1 and (comment := self.comment_by_id.get(path[0])) is not None:
            return 200, self._comment(comment, request.fields, request)
        return missing_object(path[-1] if path else "")

    def _media_url(self, request: GraphRequest, name: str) -> str:
        return f"{request.media_root}/{name}?_nc_cat=104&ccb=1-5&_nc_sid=8024bb&oh=00_AfB{name[:6]}&oe=6123C4B2"

    def _profile(self, request: GraphRequest) -> dict[str, Any]:
        full = {"id": self.page_id, "name": self.name, "username": "cityofspringfield",
                "about": "Official Page of the City of Springfield.", "category": "Government Organization",
                "description": "News, notices and services from City Hall.",
                "link": f"https://www.facebook.com/{self.page_id}", "website": "https://www.springfield.example.gov",
                "phone": "(555) 010-0100", "emails": ["info@springfield.example.gov"],
                "location": {"city": "Springfield", "street": "100 Main Street", "zip": "00001"},
                "verification_status": "blue_verified",
                "picture": {"data": {"url": self._media_url(request, "profile.jpg"), "width": 50, "height": 50,
                                     "is_silhouette": False}},
                "cover": {"id": "3141592653", "source": self._media_url(request, "cover.jpg")},
                "fan_count": self.fans, "followers_count": self.fans + 850}
        return {k: v for k, v in full.items() if k in request.fields or k == "id"}

    def _post(self, post: FakePost, fields: dict[str, FieldSpec], request: GraphRequest) -> dict[str, Any]:
        number = post.id.split("_")[1]
        out: dict[str, Any] = {"id": post.id}
        values: dict[str, Any] = {
            "created_time": _graph_time(post.created), "message": post.message,
            "from": {"name": post.author[1], "id": post.author[0]},
            "permalink_url": f"https://www.facebook.com/{self.page_id}/posts/{number}/",
            "status_type": "wall_post" if post.visitor else "added_photos" if post.photo else "mobile_status_update",
            "is_hidden": post.hidden, "is_published": True, "message_tags": [],
            "updated_time": _graph_time(max([post.created, *(c.created for c in post.comments[-1:])])),
        }
        if post.shares:
            values["shares"] = {"count": post.shares}
        if post.photo:
            src = self._media_url(request, post.photo)
            values["full_picture"] = src
            values["attachments"] = {"data": [{"media": {"image": {"height": 720, "src": src, "width": 720}},
                                               "media_type": "photo", "type": "photo",
                                               "target": {"id": number, "url": f"https://www.facebook.com/photo/?fbid={number}"},
                                               "url": f"https://www.facebook.com/photo/?fbid={number}"}]}
        for name, spec in fields.items():
            if name in values:
                out[name] = values[name]
            elif name == "reactions":
                out[name] = {"data": [], "summary": {"total_count": post.reactions, "viewer_reaction": "NONE"}}
            elif name == "comments":
                stream = spec.modifiers.get("filter") == "stream"
                listed = [c for c in post.comments if stream or c.parent_id is None]
                query = {"limit": spec.modifiers.get("limit", "25"), "filter": spec.modifiers.get("filter", "toplevel"),
                         "fields": spec.sub_text, "summary": spec.modifiers.get("summary", "false")}
                sub = GraphRequest([post.id, "comments"], query, request.token, request.root, request.media_root)
                out[name] = self._comments(post, listed, spec.sub or {}, sub, query, post.id)
        return out

    def _comments(self, post: FakePost, listed: list[FakeComment], fields: dict[str, FieldSpec],
                  request: GraphRequest, query: dict[str, str], edge: str) -> dict[str, Any]:
        chunk, extra = paged(request, listed, f"{edge}/comments", default_limit=25)
        body: dict[str, Any] = {"data": [self._comment(c, fields, request) for c in chunk], **extra}
        if query.get("summary") in ("true", "1"):
            body["summary"] = {"order": "chronological", "total_count": len(listed), "can_comment": True}
        return body

    def _comment(self, comment: FakeComment, fields: dict[str, FieldSpec], request: GraphRequest) -> dict[str, Any]:
        post_number = comment.post_id.split("_")[1]
        top = comment
        while top.parent_id is not None:
            top = self.comment_by_id[top.parent_id]
        permalink = f"https://www.facebook.com/{self.page_id}/posts/{post_number}/?comment_id={top.id.split('_')[1]}"
        if top is not comment:
            permalink += f"&reply_comment_id={comment.id.split('_')[1]}"
        values: dict[str, Any] = {
            "id": comment.id, "created_time": _graph_time(comment.created), "message": comment.message,
            "from": {"name": comment.author[1], "id": comment.author[0]}, "permalink_url": permalink,
            "comment_count": comment.replies, "like_count": comment.likes, "is_hidden": comment.hidden,
            "message_tags": [],
        }
        if comment.parent_id:
            values["parent"] = {"id": comment.parent_id}
        if comment.photo:
            values["attachment"] = {"type": "photo", "url": f"https://www.facebook.com/photo/?fbid={comment.id}",
                                    "target": {"id": comment.id.split("_")[1]},
                                    "media": {"image": {"src": self._media_url(request, comment.photo), "width": 480,
                                                        "height": 480}}}
        private = () if self.moderator else ("id", "from", "parent", "is_hidden")
        return {k: values[k] for k in fields if k in values and k not in private}


def main() -> None:  # pragma: no cover - a shell entry point for benchmarks and manual poking
    """``python -m connectors.facebook.fakepage --posts 1000 --comments 20000 --token T``: prints the
    base URL and the Page id, then serves until killed; each line "calls" on its standard input is
    answered with the number of API calls answered so far (benchmarks count calls where they land)."""
    import argparse
    import sys
    import threading

    from connectors.graph.fakeserver import FakeGraphServer

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--comments", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--token", required=True)
    args = parser.parse_args()
    page = FakePage.synthetic(posts=args.posts, comments=args.comments, seed=args.seed)
    with FakeGraphServer(page, tokens={args.token}, port=args.port) as server:
        print(server.base_url, page.page_id, flush=True)
        for line in sys.stdin:
            if line.strip() == "calls":
                print(len(server.api_calls()), flush=True)
        threading.Event().wait()  # no more input (or none): serve until killed


if __name__ == "__main__":
    main()
