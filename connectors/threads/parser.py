"""Threads API payloads to observations; a pure function of the archived response.

What a response is follows from its URL (after the version, ``v1.0``): ``/{user-id}`` the
profile, ``/{user-id}/threads`` the account's threads (kind "post"; carousel children kind
"media" under them), ``/{media-id}/conversation`` and ``/{media-id}/replies`` replies at any
depth (kind "comment" when it answers the post itself, "reply" deeper; parent = ``replied_to``),
``/{media-id}/insights`` counts (metrics only: never a version), a direct lookup ``/{id}`` one
object or the platform's word that it does not exist (Graph error 100/33), and the archiver's
own cascade record (``urn:archiver:cascade:…``: the replies that went with a deleted thread).

Every field is untrusted: each object is parsed by its own function that checks types and
gives up on that object alone (``None``), never on the response.
"""

from __future__ import annotations

from typing import Any

from connectors.base import CapturedResponse, Observation, VersionState
from connectors.cascade import CASCADE_PREFIX, cascade_observations
from connectors.graph.errors import GraphError
from connectors.graph.objects import (
    edge_path,
    graph_time,
    request_fields,
    response_json,
    stable_media_url,
)

CHILD_FIELDS = "id,media_type,media_url,thumbnail_url,permalink,timestamp,alt_text"
MEDIA_FIELDS = ("id,media_product_type,media_type,media_url,permalink,username,text,timestamp,shortcode,"
                f"thumbnail_url,children{{{CHILD_FIELDS}}},is_quote_post,quoted_post,reposted_post,has_replies,"
                "alt_text,link_attachment_url,topic_tag")
POST_FIELDS = f"{MEDIA_FIELDS},owner"
REPLY_FIELDS = f"{MEDIA_FIELDS},root_post,replied_to,is_reply,hide_status,reply_audience"
PROFILE_FIELDS = "id,username,name,threads_profile_picture_url,threads_biography"
INSIGHT_METRICS = "views,likes,replies,reposts,quotes,shares"
DELETED = {"deleted": "the platform confirmed the object no longer exists"}
# hide_status values that mean the account hid the reply (hiding a top-level reply hides its subtree)
HIDDEN_STATUSES = frozenset({"HIDDEN", "COVERED"})
_CONTENT = ("text", "media_type", "media_product_type", "permalink", "shortcode", "timestamp", "username", "alt_text",
            "link_attachment_url", "topic_tag", "is_quote_post", "reply_audience")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _ref(value: Any) -> str | None:
    """``{"id": "123"}`` (or a bare id) → "123"."""
    if isinstance(value, dict):
        value = value.get("id")
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) and str(value) else None


def _id(node: Any) -> str | None:
    return _ref(node) if isinstance(node, dict) else None


def _handle(node: dict[str, Any]) -> str | None:
    """The author as Threads shows them: ``@username``."""
    return f"@{node['username']}" if isinstance(node.get("username"), str) and node["username"] else None


def _media_urls(node: dict[str, Any]) -> tuple[str, ...]:
    urls = [node.get(k) for k in ("media_url", "thumbnail_url", "gif_url")]
    return tuple(u for u in urls if isinstance(u, str) and u.startswith(("http://", "https://")))


def _content(node: dict[str, Any]) -> dict[str, Any]:
    content: dict[str, Any] = {k: v for k in _CONTENT if isinstance(v := node.get(k), str | bool | int)}
    for key in ("media_url", "thumbnail_url"):
        if isinstance(node.get(key), str):
            # Meta's CDN signs and expires media URLs: the content names the file without that
            content[key] = stable_media_url(node[key])
    for key in ("quoted_post", "reposted_post", "owner"):
        if (ref := _ref(node.get(key))) is not None:
            content[key] = ref
    return content


def child_observation(node: Any, parent: str) -> Observation | None:
    """One carousel child: kind "media" under its thread."""
    if (child_id := _id(node)) is None:
        return None
    return Observation(platform_id=child_id, kind="media", content=_content(node), parent_id=parent,
                       url=_text(node.get("permalink")), posted_at=graph_time(node.get("timestamp")),
                       media_urls=_media_urls(node))


def post_observations(node: Any) -> list[Observation]:
    """A thread the account posted (or reposted: ``media_type`` REPOST_FACADE), with its children."""
    if (post_id := _id(node)) is None:
        return []
    children_edge = node.get("children")
    children = children_edge.get("data") if isinstance(children_edge, dict) else None
    children = children if isinstance(children, list) else []
    content = _content(node) | {"children": [c for c in map(_id, children) if c]}
    found = [Observation(platform_id=post_id, kind="post", content=content, text=_text(node.get("text")) or "",
                         url=_text(node.get("permalink")), author=_handle(node),
                         posted_at=graph_time(node.get("timestamp")), media_urls=_media_urls(node))]
    found += [o for c in children if (o := child_observation(c, post_id)) is not None]
    return found


def reply_observation(node: Any, post_id: str | None = None) -> Observation | None:
    """A reply at any depth; hidden when the account hid it (or the top-level reply above it)."""
    if (reply_id := _id(node)) is None:
        return None
    root = _ref(node.get("root_post")) or post_id
    parent = _ref(node.get("replied_to")) or root
    content = _content(node) | {"root_post": root, "replied_to": parent, "hide_status": _text(node.get("hide_status"))}
    hidden = _text(node.get("hide_status")) in HIDDEN_STATUSES
    return Observation(platform_id=reply_id, kind="comment" if parent == root else "reply", content=content,
                       text=_text(node.get("text")) or "", parent_id=parent,
                       state=VersionState.HIDDEN if hidden else VersionState.VISIBLE,
                       url=_text(node.get("permalink")), author=_handle(node),
                       posted_at=graph_time(node.get("timestamp")), media_urls=_media_urls(node))


def profile_observation(node: Any) -> Observation | None:
    if (user_id := _id(node)) is None or not isinstance(node.get("username"), str):
        return None
    content = {k: node.get(k) for k in ("id", "username", "name", "threads_biography") if isinstance(node.get(k), str)}
    picture = _text(node.get("threads_profile_picture_url"))
    if picture:
        content["threads_profile_picture_url"] = stable_media_url(picture)
    return Observation(platform_id=user_id, kind="profile", content=content,
                       text=" ".join(v for k in ("name", "threads_biography") if (v := _text(node.get(k)))),
                       author=_handle(node), url=f"https://www.threads.net/@{node['username']}",
                       media_urls=(picture,) if picture and picture.startswith(("http://", "https://")) else ())


def insights_observation(body: dict[str, Any], media_id: str) -> Observation | None:
    """``{"data": [{"name": "likes", "values": [{"value": 100}]}, …]}`` → the thread's metrics."""
    metrics: dict[str, int] = {}
    for entry in body.get("data") if isinstance(body.get("data"), list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        values = entry.get("values")
        if isinstance(values, list) and values and isinstance(values[0], dict) \
                and isinstance(values[0].get("value"), int) and not isinstance(values[0]["value"], bool):
            metrics[entry["name"]] = values[0]["value"]
        elif isinstance(entry.get("total_value"), dict) and isinstance(entry["total_value"].get("value"), int):
            metrics[entry["name"]] = entry["total_value"]["value"]
    if not metrics:
        return None
    return Observation(platform_id=media_id, kind="post", content={}, metrics=metrics, metrics_only=True)


def lookup_observations(response: CapturedResponse) -> list[Observation]:
    """One thread or reply as it is now, or the platform's word that it does not exist."""
    assert response.lookup is not None
    is_reply = "replied_to" in request_fields(response.url)
    error = GraphError.of(response)
    if error is not None:
        if error.kind != "missing":
            return []
        return [Observation(response.lookup, "comment" if is_reply else "post", DELETED, state=VersionState.DELETED)]
    body = response_json(response)
    if not isinstance(body, dict) or _id(body) != response.lookup:
        return []
    if is_reply or body.get("is_reply") is True:
        found = reply_observation(body)
        return [found] if found else []
    return post_observations(body)


def parse(response: CapturedResponse) -> list[Observation]:
    if response.url.startswith(CASCADE_PREFIX):
        return cascade_observations(response)
    if response.lookup is not None:
        return lookup_observations(response)
    body = response_json(response)
    if not isinstance(body, dict) or GraphError.of(response) is not None:
        return []
    path = edge_path(response.url)
    data = body.get("data") if isinstance(body.get("data"), list) else []
    if len(path) == 2 and path[1] == "threads":
        return [o for node in data for o in post_observations(node)]
    if len(path) == 2 and path[1] in ("conversation", "replies"):
        return [o for node in data if (o := reply_observation(node, path[0])) is not None]
    if len(path) == 2 and path[1] == "insights":
        found = insights_observation(body, path[0])
        return [found] if found else []
    if len(path) == 1:
        found = profile_observation(body)
        return [found] if found else []
    return []


__all__ = ["INSIGHT_METRICS", "POST_FIELDS", "PROFILE_FIELDS", "REPLY_FIELDS", "parse"]
