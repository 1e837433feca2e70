"""Instagram Graph payloads to observations; a pure function of the archived response.

``/{ig-user-id}`` is the profile, ``/{ig-user-id}/media`` media (kind "post"; carousel children
kind "media" under it; each with its first comments, each comment with its first replies),
``/{media-id}/comments`` and ``/{comment-id}/replies`` more of a thread, a direct lookup one media
object or comment (or error 100/33: it is gone). Like and comment counts are metrics.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from connectors.base import CapturedResponse, Observation, VersionState
from connectors.graph.errors import GraphError
from connectors.graph.objects import WEBHOOK_PREFIX, edge_path, graph_body, request_fields, stable_media_url
from connectors.untrusted import Fields, Malformed, clean, each, isolated

COMMENT_FIELDS = "id,text,timestamp,username,from{id,username},hidden,like_count,parent_id"
CHILD_FIELDS = "id,media_type,media_url,thumbnail_url,permalink,timestamp"
MEDIA_FIELDS = ("id,caption,media_type,media_product_type,media_url,thumbnail_url,permalink,shortcode,timestamp,"
                f"username,comments_count,like_count,children{{{CHILD_FIELDS}}}")
PROFILE_FIELDS = ("id,username,name,biography,website,profile_picture_url,followers_count,follows_count,"
                  "media_count")
CASCADE_PREFIX = "urn:archiver:cascade:"
DELETED = {"deleted": "the platform confirmed the object no longer exists"}


def replies_field(limit: int) -> str:
    return f"replies.limit({limit}){{{COMMENT_FIELDS}}}"


def comments_field(limit: int) -> str:
    """A media object's first comments, each with its first replies, in the same call."""
    return f"comments.limit({limit}){{{COMMENT_FIELDS},{replies_field(limit)}}}"


def _readable_ids(edge: Fields) -> list[str]:
    """Ids of the objects in an edge that have one (the others are problems of their own)."""
    ids = []
    for node in edge.objects("data"):
        try:
            ids.append(node.identifier())
        except Malformed:
            continue
    return ids


def _media(node: Fields, parent: str | None = None) -> list[Observation]:
    content: dict[str, Any] = {k: node.text(k) for k in ("caption", "media_type", "media_product_type", "permalink",
                                                         "shortcode", "timestamp", "username")}
    media_url, thumbnail = node.text("media_url"), node.text("thumbnail_url")
    content |= {"media_url": stable_media_url(media_url), "thumbnail_url": stable_media_url(thumbnail),
                "children": _readable_ids(node.mapping("children"))}
    metrics = {k: v for k in ("like_count", "comments_count") if (v := node.count(k)) is not None}
    return [Observation(platform_id=node.identifier(), kind="media" if parent else "post", content=content,
                        text=content["caption"] or "", url=content["permalink"], author=content["username"],
                        posted_at=node.timestamp("timestamp"), parent_id=parent, metrics=metrics,
                        media_urls=tuple(u for u in (media_url, thumbnail) if u))]


def _comment(node: Fields, parent: str | None, reply: bool) -> list[Observation]:
    """A comment or reply itself (its embedded replies are read apart)."""
    text, username = node.text("text"), node.text("username")
    author = clean(node.mapping("from").raw) if node.has("from") else None
    content = {"text": text, "username": username, "from": author, "timestamp": node.text("timestamp")}
    own_parent = node.identifier("parent_id", required=False)
    likes = node.count("like_count")
    return [Observation(
        platform_id=node.identifier(), kind="reply" if reply or own_parent else "comment", content=content,
        text=text or "", author=username, posted_at=node.timestamp("timestamp"), parent_id=own_parent or parent,
        state=VersionState.HIDDEN if node.flag("hidden") else VersionState.VISIBLE,
        metrics={"likes": likes} if likes is not None else {},
    )]


def comment_observations(node: Any, parent: str | None, reply: bool = False, where: str = "") -> list[Observation]:
    """A comment (with the replies embedded in it) or a reply; ``parent`` is its media or comment."""
    kind = "reply" if reply else "comment"
    found = isolated(lambda n: _comment(n, parent, reply), node, kind=kind, where=where, parent_id=parent)
    comment_id = found[0].platform_id
    if not comment_id:
        return found
    return found + isolated(lambda n: each(lambda r: _comment(r, comment_id, True), n.mapping("replies").array("data"),
                                           kind="reply", where=f"{where}.replies.data".lstrip("."),
                                           parent_id=comment_id),
                            node, kind=kind, where=where)


def media_observations(node: Any, where: str = "") -> list[Observation]:
    found = isolated(_media, node, kind="post", where=where)
    media_id = found[0].platform_id
    if not media_id:
        return found

    def embedded(media: Fields) -> list[Observation]:
        children = each(lambda child: _media(child, media_id), media.mapping("children").array("data"), kind="media",
                        where=f"{where}.children.data".lstrip("."), parent_id=media_id)
        comments = media.mapping("comments")
        return children + [o for index, comment in enumerate(comments.array("data"))
                           for o in comment_observations(comment, media_id, where=f"{comments.path}.data[{index}]")]

    return found + isolated(embedded, node, kind="post", where=where)


def _lookup(response: CapturedResponse) -> list[Observation]:
    assert response.lookup is not None
    comment = "text" in request_fields(response.url)
    error = GraphError.of(response)
    if error is not None:
        if error.kind != "missing":
            return []
        return [Observation(response.lookup, "comment" if comment else "post", DELETED, state=VersionState.DELETED)]
    body = graph_body(response)
    if body is None or not body.has("id"):
        return []
    found = comment_observations(body.raw, None) if comment else media_observations(body.raw)
    return [replace(o, platform_id=response.lookup) if o.problem and not o.platform_id else o for o in found]


def _profile(body: Fields) -> list[Observation]:
    metrics = {k: v for k in ("followers_count", "follows_count", "media_count") if (v := body.count(k)) is not None}
    content: dict[str, Any] = {"id": body.identifier(), **{k: body.text(k) for k in ("username", "name", "biography",
                                                                                     "website")}}
    picture = body.text("profile_picture_url")
    content["profile_picture_url"] = stable_media_url(picture)
    return [Observation(content["id"], "profile", content, text=" ".join(
        content[k] for k in ("name", "biography") if content[k]), author=content["username"],
        url=f"https://www.instagram.com/{content['username']}/", metrics=metrics,
        media_urls=(picture,) if picture else ())]


def parse(response: CapturedResponse) -> list[Observation]:
    if response.url.startswith(WEBHOOK_PREFIX):
        return []  # Instagram sends no hide or delete events: a delivery only names what to re-fetch
    if response.url.startswith(CASCADE_PREFIX):
        record = graph_body(response)
        if record is None:
            return []
        reason = {"deleted": record.text("reason"), "parent": record.value("parent")}
        return [Observation(Fields({"id": child}, f"children[{index}]").identifier(), "comment", reason,
                            state=VersionState.DELETED) for index, child in enumerate(record.array("children"))]
    if response.lookup is not None:
        return _lookup(response)
    if GraphError.of(response) is not None:
        return []
    body = graph_body(response)
    if body is None:
        return []
    path, data = edge_path(response.url), body.array("data")
    if len(path) == 2 and path[1] == "media":
        return [o for index, node in enumerate(data) for o in media_observations(node, f"data[{index}]")]
    if len(path) == 2 and path[1] in ("comments", "replies"):
        return [o for index, node in enumerate(data)
                for o in comment_observations(node, path[0], path[1] == "replies", f"data[{index}]")]
    if len(path) == 1 and body.has("id") and body.has("username") and "media_type" not in body.raw:
        return isolated(_profile, body.raw, kind="profile")
    return []
