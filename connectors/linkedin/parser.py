"""LinkedIn Community Management API payloads to observations; a pure function of the archived response.

What a response is follows from its path under ``/rest``: ``posts?q=author`` the organization's
posts (kind "post"), ``socialActions/{post}/comments`` its comments (kind "comment", parent = the
post), ``socialActions/{comment}/comments`` replies (kind "reply", parent = ``parentComment``),
``socialMetadata?ids=List(…)`` counts (metrics only: never a version), ``images?ids=List(…)`` the
posts' images (kind "media"; which post each belongs to travels in the request URL's fragment,
archived but never sent), the archiver's record of the comments that went with a deleted post
(``urn:archiver:cascade:…``), and a direct lookup (``posts/{urn}``, ``socialActions/{parent}/comments/{id}``)
one object or, with 404/410, LinkedIn's word that it is gone.

A version is what the author wrote and how it is shown (commentary or message text with its
attributes, media and article references, visibility, lifecycle state); an edit is a new
version. Times of last modification, reaction and comment counts are not content.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from connectors.base import CapturedResponse, Observation, VersionState
from connectors.cascade import CASCADE_PREFIX, cascade_observations
from connectors.rest import body_json

GONE = (404, 410)
DELETED = {"deleted": "LinkedIn answered that the object no longer exists"}
_POST = ("author", "commentary", "content", "visibility", "lifecycleState", "distribution", "reshareContext",
         "isReshareDisabledByAuthor", "contentLandingPage")


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def millis(value: Any) -> datetime | None:
    """Epoch milliseconds → a UTC datetime (None if not a number)."""
    if isinstance(value, dict):
        value = value.get("time")
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value < 1e14:
        return None
    return datetime.fromtimestamp(value / 1000, UTC)


def feed_url(urn: str) -> str:
    """
    >>> feed_url("urn:li:share:6967877436045201408")
    'https://www.linkedin.com/feed/update/urn:li:share:6967877436045201408/'
    """
    return f"https://www.linkedin.com/feed/update/{urn}/"


def post_observation(node: Any) -> Observation | None:
    if not isinstance(node, dict) or not _str(node.get("id")):
        return None
    content = {k: node[k] for k in _POST if k in node}
    edited = node.get("lifecycleStateInfo")
    content["edited_by_author"] = bool(edited.get("isEditedByAuthor")) if isinstance(edited, dict) else False
    return Observation(platform_id=node["id"], kind="post", content=content, text=_str(node.get("commentary")) or "",
                       url=feed_url(node["id"]), author=_str(node.get("author")),
                       posted_at=millis(node.get("publishedAt") or node.get("createdAt")))


def comment_observation(node: Any, target: str) -> Observation | None:
    """A comment on ``target`` (a post: kind "comment"; a comment: kind "reply")."""
    if not isinstance(node, dict):
        return None
    urn = _str(node.get("commentUrn")) or _str(node.get("$URN"))
    if not urn:
        return None
    message = node.get("message") if isinstance(node.get("message"), dict) else {}
    attachments = node.get("content") if isinstance(node.get("content"), list) else []
    parent = _str(node.get("parentComment")) or target
    content = {"actor": _str(node.get("actor")), "message": _str(message.get("text")) or "",
               "attributes": message.get("attributes") if isinstance(message.get("attributes"), list) else [],
               "content": [{k: a[k] for k in ("type", "entity") if k in a} for a in attachments if isinstance(a, dict)],
               "object": _str(node.get("object")), "parent": parent}
    likes = node.get("likesSummary") if isinstance(node.get("likesSummary"), dict) else {}
    replies = node.get("commentsSummary") if isinstance(node.get("commentsSummary"), dict) else {}
    counts = (("likes", likes.get("totalLikes")), ("replies", replies.get("aggregatedTotalComments")))
    metrics = {k: v for k, v in counts if isinstance(v, int)}
    media = tuple(u for a in attachments if isinstance(a, dict) and isinstance(u := a.get("url"), str)
                  and u.startswith(("http://", "https://")))
    return Observation(platform_id=urn, kind="reply" if node.get("parentComment") else "comment", content=content,
                       text=content["message"], parent_id=parent, author=content["actor"],
                       url=f"{feed_url(target)}?commentUrn={urn}" if target.startswith("urn:li:share") else None,
                       posted_at=millis(node.get("created")), media_urls=media, metrics=metrics)


def metadata_observations(results: Any) -> list[Observation]:
    """``socialMetadata`` batch results → each post's reaction and comment counts."""
    found = []
    for urn, meta in results.items() if isinstance(results, dict) else []:
        if not isinstance(meta, dict):
            continue
        metrics: dict[str, int] = {}
        reactions = meta.get("reactionSummaries")
        if isinstance(reactions, dict):
            metrics["reactions"] = sum(r.get("count", 0) for r in reactions.values()
                                       if isinstance(r, dict) and isinstance(r.get("count"), int))
        comments = meta.get("commentSummary")
        if isinstance(comments, dict) and isinstance(comments.get("count"), int):
            metrics["comments"] = comments["count"]
        if metrics:
            found.append(Observation(str(urn), "post", {}, metrics=metrics, metrics_only=True))
    return found


def image_observations(results: Any, owners: dict[str, str]) -> list[Observation]:
    """Images API batch results → one media item per image (its bytes fetched from ``downloadUrl``)."""
    found = []
    for urn, image in results.items() if isinstance(results, dict) else []:
        if not isinstance(image, dict) or not isinstance(image.get("downloadUrl"), str):
            continue
        content = {k: image[k] for k in ("id", "status", "owner", "mediaType") if k in image}
        found.append(Observation(str(urn), "media", content, parent_id=owners.get(str(urn)),
                                 media_urls=(image["downloadUrl"],)))
    return found


def _lookup(response: CapturedResponse, path: list[str], body: Any) -> list[Observation]:
    assert response.lookup is not None
    is_comment = len(path) >= 4 and path[0] == "socialActions"
    if response.status in GONE:
        return [Observation(response.lookup, "comment" if is_comment else "post", DELETED, state=VersionState.DELETED)]
    if response.status != 200:
        return []
    found = comment_observation(body, unquote(path[1])) if is_comment else post_observation(body)
    return [found] if found and found.platform_id == response.lookup else []


def parse(response: CapturedResponse) -> list[Observation]:
    if response.url.startswith(CASCADE_PREFIX):
        return cascade_observations(response)
    parts = urlsplit(response.url)
    path = [p for p in parts.path.split("/") if p]
    if "rest" in path:
        path = path[path.index("rest") + 1:]
    body = body_json(response)
    if response.lookup is not None:
        return _lookup(response, path, body)
    if response.status >= 300 or not isinstance(body, dict) or not path:
        return []
    elements = body.get("elements") if isinstance(body.get("elements"), list) else []
    if path == ["posts"]:
        return [o for node in elements if (o := post_observation(node)) is not None]
    if len(path) == 3 and path[0] == "socialActions" and path[2] == "comments":
        target = unquote(path[1])
        return [o for node in elements if (o := comment_observation(node, target)) is not None]
    if path == ["socialMetadata"]:
        return metadata_observations(body.get("results"))
    if path == ["images"]:
        return image_observations(body.get("results"), dict(parse_qsl(parts.fragment)))
    return []


__all__ = ["GONE", "feed_url", "parse"]
