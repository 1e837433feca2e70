"""Facebook Graph payloads to observations; a pure function of the archived response.

What a response is follows from its URL: ``/{page-id}`` the Page's profile, ``/{page-id}/feed``
posts (each with the first page of its comments), ``/{post-id}/comments`` more comments, a
direct lookup ``/{id}`` one post or comment (or the platform saying it does not exist), and two
records the archiver writes itself: ``urn:archiver:webhook:meta:…`` (a signed webhook delivery
as received) and ``urn:archiver:cascade:…`` (the comments that went with a deleted post).

Content is what a version is made of: text, author, attachments (media named without their
expiring signatures), hidden state. Reaction, share, like and comment counts and the post's
``updated_time`` (which moves with every new comment) are metrics: kept as latest observed,
never a new version.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from connectors.base import CapturedResponse, Observation, VersionState
from connectors.graph.errors import GraphError
from connectors.graph.objects import (
    WEBHOOK_PREFIX,
    edge_count,
    edge_path,
    graph_time,
    request_fields,
    response_json,
    stable_media_url,
)

COMMENT_FIELDS = ("id,created_time,message,from{id,name},permalink_url,parent{id},is_hidden,like_count,"
                  "comment_count,attachment{type,url,target{id},media{image{src}}},message_tags")
POST_FIELDS = ("id,created_time,message,story,from{id,name},permalink_url,status_type,is_hidden,is_published,"
               "message_tags,attachments{type,media_type,title,description,url,target{id,url},media{image{src}},"
               "subattachments},full_picture,shares,reactions.summary(total_count).limit(0),updated_time")
PROFILE_FIELDS = ("id,name,username,about,description,category,link,website,phone,emails,location,"
                  "verification_status,picture{url},cover{source},fan_count,followers_count")
CASCADE_PREFIX = "urn:archiver:cascade:"
DELETED = {"deleted": "the platform confirmed the object no longer exists"}
DERIVED_ID = ("derived from permalink_url: the API gave no comment id (the token lacks the Page's "
              "MODERATE task); replies deeper than one level are filed under their top-level comment")


def comments_field(limit: int) -> str:
    """The field expansion that brings a post's first page of comments and replies, flat, with it."""
    return f"comments.filter(stream).order(chronological).limit({limit}).summary(true){{{COMMENT_FIELDS}}}"


def _attachment(node: Any) -> dict[str, Any] | None:
    if not isinstance(node, dict):
        return None
    media = node.get("media") if isinstance(node.get("media"), dict) else {}
    image = media.get("image") if isinstance(media.get("image"), dict) else {}
    result = {k: node.get(k) for k in ("type", "media_type", "title", "description", "url") if node.get(k)}
    if isinstance(node.get("target"), dict):
        result["target"] = {k: v for k, v in node["target"].items() if k in ("id", "url")}
    if image.get("src"):
        result["image"] = stable_media_url(image["src"])
    if isinstance(node.get("subattachments"), dict):
        result["subattachments"] = [a for a in map(_attachment, node["subattachments"].get("data") or []) if a]
    return result


def _media_urls(*nodes: Any) -> list[str]:
    urls: list[str] = []
    for node in nodes:
        if isinstance(node, str):
            urls.append(node)
        elif isinstance(node, dict):
            image = (node.get("media") or {}).get("image") or {}
            if image.get("src"):
                urls.append(image["src"])
            for sub in (node.get("subattachments") or {}).get("data") or []:
                urls += _media_urls(sub)
    return list(dict.fromkeys(u for u in urls if u.startswith(("http://", "https://"))))


def _from(node: Any) -> dict[str, Any] | None:
    return {k: node[k] for k in ("id", "name") if k in node} if isinstance(node, dict) else None


def post_observations(post: dict[str, Any]) -> list[Observation]:
    """A post and the comments that came embedded with it."""
    attachments = [a for a in map(_attachment, (post.get("attachments") or {}).get("data") or []) if a]
    author = _from(post.get("from"))
    content = {
        "message": post.get("message"), "story": post.get("story"), "from": author,
        "created_time": post.get("created_time"), "status_type": post.get("status_type"),
        "permalink_url": post.get("permalink_url"), "message_tags": post.get("message_tags") or [],
        "attachments": attachments, "full_picture": stable_media_url(post.get("full_picture")),
        "is_published": post.get("is_published"),
    }
    metrics = {"reactions": edge_count(post.get("reactions")), "shares": edge_count(post.get("shares")) or 0,
               "comments": edge_count(post.get("comments")), "updated_time": post.get("updated_time")}
    words = [post.get("message"), post.get("story"), *(a.get("title") for a in attachments),
             *(a.get("description") for a in attachments)]
    observations = [Observation(
        platform_id=str(post["id"]), kind="post", content=content, text=" ".join(w for w in words if w),
        state=VersionState.HIDDEN if post.get("is_hidden") else VersionState.VISIBLE,
        url=post.get("permalink_url"), author=(author or {}).get("name"),
        posted_at=graph_time(post.get("created_time")),
        media_urls=tuple(_media_urls(post.get("full_picture"), *((post.get("attachments") or {}).get("data") or []))),
        metrics={k: v for k, v in metrics.items() if v is not None},
    )]
    for comment in (post.get("comments") or {}).get("data") or []:
        if isinstance(comment, dict) and (found := comment_observation(comment, str(post["id"]))):
            observations.append(found)
    return observations


def _derived_ids(permalink: Any, post_id: str) -> tuple[str, str] | None:
    """(id, parent id) from ``…/posts/N/?comment_id=X&reply_comment_id=Y``: Graph comment ids are
    "{post number}_{comment number}"."""
    if not isinstance(permalink, str) or "_" not in post_id:
        return None
    query = parse_qs(urlsplit(permalink).query)
    top = (query.get("comment_id") or [None])[0]
    reply = (query.get("reply_comment_id") or [None])[0]
    if not top:
        return None
    number = post_id.split("_", 1)[1]
    return (f"{number}_{reply}", f"{number}_{top}") if reply else (f"{number}_{top}", post_id)


def comment_observation(comment: dict[str, Any], post_id: str | None) -> Observation | None:
    parent = comment.get("parent") if isinstance(comment.get("parent"), dict) else None
    content: dict[str, Any] = {
        "message": comment.get("message"), "from": _from(comment.get("from")),
        "created_time": comment.get("created_time"), "permalink_url": comment.get("permalink_url"),
        "attachment": _attachment(comment.get("attachment")), "message_tags": comment.get("message_tags") or [],
    }
    parent_id: str | None
    if comment.get("id"):
        platform_id, parent_id = str(comment["id"]), str(parent["id"]) if parent and parent.get("id") else post_id
    elif post_id and (derived := _derived_ids(comment.get("permalink_url"), post_id)):
        (platform_id, parent_id), content["id_source"] = derived, DERIVED_ID
    else:
        return None  # nothing to name it by; the bytes stay in the WARC
    metrics = {"likes": comment.get("like_count"), "replies": comment.get("comment_count")}
    return Observation(
        platform_id=platform_id, kind="comment" if parent_id in (post_id, None) else "reply", content=content,
        text=comment.get("message") or "", parent_id=parent_id,
        state=VersionState.HIDDEN if comment.get("is_hidden") else VersionState.VISIBLE,
        url=comment.get("permalink_url"), author=(content["from"] or {}).get("name"),
        posted_at=graph_time(comment.get("created_time")), media_urls=tuple(_media_urls(comment.get("attachment"))),
        metrics={k: v for k, v in metrics.items() if v is not None},
    )


def profile_observation(page: dict[str, Any]) -> Observation:
    picture = ((page.get("picture") or {}).get("data") or {}).get("url")
    cover = (page.get("cover") or {}).get("source")
    content = {k: page.get(k) for k in ("id", "name", "username", "about", "description", "category", "link",
                                         "website", "phone", "emails", "location", "verification_status")}
    content |= {"picture": stable_media_url(picture), "cover": stable_media_url(cover)}
    metrics = {k: page[k] for k in ("fan_count", "followers_count") if isinstance(page.get(k), int)}
    return Observation(platform_id=str(page["id"]), kind="profile", content=content,
                       text=" ".join(str(page[k]) for k in ("name", "about", "description") if page.get(k)),
                       url=page.get("link"), author=page.get("name"), metrics=metrics,
                       media_urls=tuple(u for u in (picture, cover) if u))


def lookup_observations(response: CapturedResponse) -> list[Observation]:
    """A direct lookup of one post or comment: the object as it is now, or the platform's word
    that it does not exist (Graph error 100/33). Any other answer says nothing about the item."""
    assert response.lookup is not None
    fields = request_fields(response.url)
    error = GraphError.of(response)
    if error is not None:
        if error.kind != "missing":
            return []
        kind = "comment" if "parent" in fields else "post"
        return [Observation(platform_id=response.lookup, kind=kind, content=DELETED, state=VersionState.DELETED)]
    body = response_json(response)
    if not isinstance(body, dict) or (not body.get("id") and "parent" not in fields):
        return []
    if "parent" in fields:
        found = comment_observation(body, _post_of_comment(body))
        return [found] if found else []
    return post_observations(body)


def _post_of_comment(comment: dict[str, Any]) -> str | None:
    permalink = comment.get("permalink_url") or ""
    parts = [p for p in urlsplit(permalink).path.split("/") if p]
    if "posts" in parts and parts.index("posts") + 1 < len(parts) and parts[0].isdigit():
        return f"{parts[0]}_{parts[parts.index('posts') + 1]}"
    return None


def cascade_observations(response: CapturedResponse) -> list[Observation]:
    record = response_json(response)
    if not isinstance(record, dict):
        return []
    reason = {"deleted": str(record.get("reason", "parent post deleted")), "parent": record.get("parent")}
    return [Observation(platform_id=str(child), kind="comment", content=reason, state=VersionState.DELETED)
            for child in record.get("children") or []]


def webhook_observations(response: CapturedResponse) -> list[Observation]:
    """What a signed Page webhook says by itself: removals are the platform's own word that an
    object is gone; hide/unhide change a comment's state (its content comes from the re-fetch)."""
    payload = response_json(response)
    if not isinstance(payload, dict) or payload.get("object") != "page":
        return []
    observations = []
    for change in _changes(payload):
        verb, item = change.get("verb"), change.get("item")
        target = change.get("comment_id") if item == "comment" else change.get("post_id")
        if not target or verb not in ("remove", "hide", "unhide"):
            continue
        kind = "comment" if item == "comment" else "post"
        if verb == "remove":
            observations.append(Observation(str(target), kind, DELETED, state=VersionState.DELETED))
        else:
            state = VersionState.HIDDEN if verb == "hide" else VersionState.VISIBLE
            observations.append(Observation(str(target), kind, {}, state=state, state_only=True))
    return observations


def _changes(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [change["value"] for entry in payload.get("entry") or [] if isinstance(entry, dict)
            for change in entry.get("changes") or []
            if isinstance(change, dict) and change.get("field") == "feed" and isinstance(change.get("value"), dict)]


def parse(response: CapturedResponse) -> list[Observation]:
    if response.url.startswith(WEBHOOK_PREFIX):
        return webhook_observations(response)
    if response.url.startswith(CASCADE_PREFIX):
        return cascade_observations(response)
    if response.lookup is not None:
        return lookup_observations(response)
    body = response_json(response)
    if not isinstance(body, dict) or GraphError.of(response) is not None:
        return []
    path = edge_path(response.url)
    if len(path) == 2 and path[1] in ("feed", "posts", "published_posts", "visitor_posts"):
        return [o for post in body.get("data") or [] if isinstance(post, dict) and post.get("id")
                for o in post_observations(post)]
    if len(path) == 2 and path[1] == "comments":
        return [o for c in body.get("data") or [] if isinstance(c, dict)
                and (o := comment_observation(c, path[0])) is not None]
    if len(path) == 1 and body.get("id") and "_" not in str(body["id"]):
        return [profile_observation(body)]
    return []


__all__ = ["COMMENT_FIELDS", "POST_FIELDS", "PROFILE_FIELDS", "comments_field", "parse"]
