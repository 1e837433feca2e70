"""Instagram Graph payloads to observations; a pure function of the archived response.

``/{ig-user-id}`` is the profile, ``/{ig-user-id}/media`` media (kind "post"; carousel children
kind "media" under it; each with its first comments, each comment with its first replies),
``/{media-id}/comments`` and ``/{comment-id}/replies`` more of a thread, a direct lookup one media
object or comment (or error 100/33: it is gone). Like and comment counts are metrics.
"""

from __future__ import annotations

from typing import Any

from connectors.base import CapturedResponse, Observation, VersionState
from connectors.graph.errors import GraphError
from connectors.graph.objects import (
    WEBHOOK_PREFIX,
    edge_path,
    graph_time,
    request_fields,
    response_json,
    stable_media_url,
)

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


def _media(node: dict[str, Any], parent: str | None = None) -> Observation:
    children = [c for c in (node.get("children") or {}).get("data") or [] if isinstance(c, dict) and c.get("id")]
    content = {k: node.get(k) for k in ("caption", "media_type", "media_product_type", "permalink", "shortcode",
                                         "timestamp", "username")}
    content |= {"media_url": stable_media_url(node.get("media_url")),
                "thumbnail_url": stable_media_url(node.get("thumbnail_url")),
                "children": [c["id"] for c in children]}
    metrics = {k: node[k] for k in ("like_count", "comments_count") if isinstance(node.get(k), int)}
    return Observation(platform_id=str(node["id"]), kind="media" if parent else "post", content=content,
                       text=node.get("caption") or "", url=node.get("permalink"), author=node.get("username"),
                       posted_at=graph_time(node.get("timestamp")), parent_id=parent, metrics=metrics,
                       media_urls=tuple(u for u in (node.get("media_url"), node.get("thumbnail_url")) if u))


def comment_observations(node: dict[str, Any], parent: str | None, reply: bool = False) -> list[Observation]:
    """A comment (with the replies embedded in it) or a reply; ``parent`` is its media or comment."""
    if not node.get("id"):
        return []
    author = node.get("from") if isinstance(node.get("from"), dict) else None
    content = {"text": node.get("text"), "username": node.get("username"), "from": author,
               "timestamp": node.get("timestamp")}
    parent_id = str(node.get("parent_id") or parent) if (node.get("parent_id") or parent) else None
    found = [Observation(
        platform_id=str(node["id"]), kind="reply" if reply or node.get("parent_id") else "comment", content=content,
        text=node.get("text") or "", author=node.get("username"), posted_at=graph_time(node.get("timestamp")),
        parent_id=parent_id, state=VersionState.HIDDEN if node.get("hidden") else VersionState.VISIBLE,
        metrics={"likes": node["like_count"]} if isinstance(node.get("like_count"), int) else {},
    )]
    for child in (node.get("replies") or {}).get("data") or []:
        if isinstance(child, dict):
            found += comment_observations(child, str(node["id"]), reply=True)
    return found


def media_observations(node: dict[str, Any]) -> list[Observation]:
    found = [_media(node)]
    found += [_media(c, str(node["id"])) for c in (node.get("children") or {}).get("data") or []
              if isinstance(c, dict) and c.get("id")]
    for comment in (node.get("comments") or {}).get("data") or []:
        if isinstance(comment, dict):
            found += comment_observations(comment, str(node["id"]))
    return found


def _lookup(response: CapturedResponse) -> list[Observation]:
    assert response.lookup is not None
    comment = "text" in request_fields(response.url)
    error = GraphError.of(response)
    if error is not None:
        if error.kind != "missing":
            return []
        return [Observation(response.lookup, "comment" if comment else "post", DELETED, state=VersionState.DELETED)]
    body = response_json(response)
    if not isinstance(body, dict) or not body.get("id"):
        return []
    return comment_observations(body, None) if comment else media_observations(body)


def parse(response: CapturedResponse) -> list[Observation]:
    if response.url.startswith(WEBHOOK_PREFIX):
        return []  # Instagram sends no hide or delete events: a delivery only names what to re-fetch
    if response.url.startswith(CASCADE_PREFIX):
        record = response_json(response)
        if not isinstance(record, dict):
            return []
        reason = {"deleted": str(record.get("reason")), "parent": record.get("parent")}
        return [Observation(str(child), "comment", reason, state=VersionState.DELETED)
                for child in record.get("children") or []]
    if response.lookup is not None:
        return _lookup(response)
    body = response_json(response)
    if not isinstance(body, dict) or GraphError.of(response) is not None:
        return []
    path, data = edge_path(response.url), [d for d in body.get("data") or [] if isinstance(d, dict)]
    if len(path) == 2 and path[1] == "media":
        return [o for node in data if node.get("id") for o in media_observations(node)]
    if len(path) == 2 and path[1] == "comments":
        return [o for node in data for o in comment_observations(node, path[0])]
    if len(path) == 2 and path[1] == "replies":
        return [o for node in data for o in comment_observations(node, path[0], reply=True)]
    if len(path) == 1 and body.get("id") and body.get("username") and "media_type" not in body:
        metrics = {k: body[k] for k in ("followers_count", "follows_count", "media_count")
                   if isinstance(body.get(k), int)}
        content = {k: body.get(k) for k in ("id", "username", "name", "biography", "website")}
        content["profile_picture_url"] = stable_media_url(body.get("profile_picture_url"))
        picture = body.get("profile_picture_url")
        return [Observation(str(body["id"]), "profile", content, text=" ".join(
            str(body[k]) for k in ("name", "biography") if body.get(k)), author=body.get("username"),
            url=f"https://www.instagram.com/{body['username']}/", metrics=metrics,
            media_urls=(picture,) if picture else ())]
    return []
