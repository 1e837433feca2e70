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

from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

from connectors.base import CapturedResponse, Observation, VersionState
from connectors.graph.errors import GraphError
from connectors.graph.objects import WEBHOOK_PREFIX, edge_count, edge_path, graph_body, request_fields, stable_media_url
from connectors.untrusted import Fields, Malformed, clean, each, isolated

COMMENT_FIELDS = ("id,created_time,message,from{id,name},permalink_url,parent{id},is_hidden,like_count,"
                  "comment_count,attachment{type,url,target{id},media{image{src}}},message_tags")
POST_FIELDS = ("id,created_time,message,story,from{id,name},permalink_url,status_type,is_hidden,is_published,"
               "message_tags,attachments{type,media_type,title,description,url,target{id,url},media{image{src}},"
               "subattachments},full_picture,shares,reactions.summary(total_count).limit(0),updated_time")
PROFILE_FIELDS = ("id,name,username,about,description,category,link,website,phone,emails,location,"
                  "verification_status,picture{url},cover{source},fan_count,followers_count")
CASCADE_PREFIX = "urn:archiver:cascade:"
DELETED = {"deleted": "the platform confirmed the object no longer exists"}
MAX_SUBATTACHMENTS = 8  # an album of albums nests once; deeper is not a real attachment
DERIVED_ID = ("derived from permalink_url: the API gave no comment id (the token lacks the Page's "
              "MODERATE task); replies deeper than one level are filed under their top-level comment")


def comments_field(limit: int) -> str:
    """The field expansion that brings a post's first page of comments and replies, flat, with it."""
    return f"comments.filter(stream).order(chronological).limit({limit}).summary(true){{{COMMENT_FIELDS}}}"


def _attachment(node: Fields, depth: int = 0) -> tuple[dict[str, Any], list[str]]:
    """An attachment as content (media named without expiring signatures), and its media URLs."""
    if depth > MAX_SUBATTACHMENTS:
        raise Malformed(node.path, f"attachments nested at most {MAX_SUBATTACHMENTS} deep", node.raw)
    src = node.mapping("media").mapping("image").text("src")
    result: dict[str, Any] = {k: v for k in ("type", "media_type", "title", "description", "url")
                              if (v := node.text(k))}
    if node.has("target"):
        target = node.mapping("target")
        result["target"] = {k: target.value(k) for k in ("id", "url") if k in target.raw}
    urls = [src] if src else []
    if src:
        result["image"] = stable_media_url(src)
    if node.has("subattachments"):
        result["subattachments"] = []
        for sub in _attachments(node.mapping("subattachments"), depth + 1):
            result["subattachments"] += [sub[0]] if sub[0] else []
            urls += sub[1]
    return result, urls


def _attachments(edge: Fields, depth: int = 0) -> list[tuple[dict[str, Any], list[str]]]:
    return [_attachment(Fields(node, f"{edge.path}.data[{index}]"), depth)
            for index, node in enumerate(edge.array("data"))]


def _web(urls: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(u for u in urls if u.startswith(("http://", "https://"))))


def _from(node: Fields) -> dict[str, Any] | None:
    if not node.has("from"):
        return None
    author = node.mapping("from")
    found = {"id": author.identifier("id", required=False), "name": author.text("name")}
    return {k: v for k, v in found.items() if k in author.raw}


def _post(node: Fields) -> list[Observation]:
    """A post's own content (its embedded comments are read apart, see ``post_observations``)."""
    attachments = _attachments(node.mapping("attachments"))
    author = _from(node)
    message, story, picture = node.text("message"), node.text("story"), node.text("full_picture")
    content = {
        "message": message, "story": story, "from": author,
        "created_time": node.text("created_time"), "status_type": node.text("status_type"),
        "permalink_url": node.text("permalink_url"), "message_tags": node.value("message_tags") or [],
        "attachments": [a for a, _ in attachments if a], "full_picture": stable_media_url(picture),
        "is_published": node.flag("is_published") if node.has("is_published") else None,
    }
    updated = node.raw.get("updated_time")
    metrics = {"reactions": edge_count(node.raw.get("reactions")), "shares": edge_count(node.raw.get("shares")) or 0,
               "comments": edge_count(node.raw.get("comments")),
               "updated_time": clean(updated) if isinstance(updated, str) else None}
    words = [message, story, *(a.get("title") for a, _ in attachments), *(a.get("description") for a, _ in attachments)]
    return [Observation(
        platform_id=node.identifier(), kind="post", content=content, text=" ".join(w for w in words if w),
        state=VersionState.HIDDEN if node.flag("is_hidden") else VersionState.VISIBLE,
        url=content["permalink_url"], author=(author or {}).get("name"), posted_at=node.timestamp("created_time"),
        media_urls=_web([picture or "", *(url for _, urls in attachments for url in urls)]),
        metrics={k: v for k, v in metrics.items() if v is not None},
    )]


def post_observations(post: Any, where: str = "") -> list[Observation]:
    """A post and the comments that came embedded with it, each read on its own."""
    found = isolated(_post, post, kind="post", where=where)
    post_id = found[0].platform_id
    if not post_id:
        return found  # nothing to hang its comments on; the problem names the record
    return found + isolated(lambda node: each(lambda c: [comment_observation(c, post_id)],
                                              node.mapping("comments").array("data"), kind="comment",
                                              where=f"{where}.comments.data".lstrip("."), parent_id=post_id),
                            post, kind="post", where=where)


def _derived_ids(permalink: str | None, post_id: str) -> tuple[str, str] | None:
    """(id, parent id) from ``…/posts/N/?comment_id=X&reply_comment_id=Y``: Graph comment ids are
    "{post number}_{comment number}"."""
    if not permalink or "_" not in post_id:
        return None
    try:
        query = parse_qs(urlsplit(permalink).query)
    except ValueError:
        return None
    top = (query.get("comment_id") or [None])[0]
    reply = (query.get("reply_comment_id") or [None])[0]
    if not top:
        return None
    number = post_id.split("_", 1)[1]
    return (f"{number}_{reply}", f"{number}_{top}") if reply else (f"{number}_{top}", post_id)


def comment_observation(node: Fields, post_id: str | None) -> Observation:
    attachment = _attachment(node.mapping("attachment")) if node.has("attachment") else None
    author = _from(node)
    permalink, message = node.text("permalink_url"), node.text("message")
    content: dict[str, Any] = {
        "message": message, "from": author, "created_time": node.text("created_time"), "permalink_url": permalink,
        "attachment": attachment[0] if attachment else None, "message_tags": node.value("message_tags") or [],
    }
    parent_id: str | None
    if (platform_id := node.identifier(required=False)) is not None:
        parent_id = node.mapping("parent").identifier(required=False) or post_id
    elif post_id and (derived := _derived_ids(permalink, post_id)):
        (platform_id, parent_id), content["id_source"] = derived, DERIVED_ID
    else:  # nothing to name it by: a problem of the record; the bytes stay in the WARC
        raise Malformed(node.path if node.path != "payload" else "comment", "an id or a permalink_url with "
                        "comment_id", node.raw.get("id"), missing="id" not in node.raw)
    metrics = {"likes": node.count("like_count"), "replies": node.count("comment_count")}
    return Observation(
        platform_id=platform_id, kind="comment" if parent_id in (post_id, None) else "reply", content=content,
        text=message or "", parent_id=parent_id,
        state=VersionState.HIDDEN if node.flag("is_hidden") else VersionState.VISIBLE,
        url=permalink, author=(author or {}).get("name"), posted_at=node.timestamp("created_time"),
        media_urls=_web(attachment[1] if attachment else []),
        metrics={k: v for k, v in metrics.items() if v is not None},
    )


def profile_observation(page: Fields) -> Observation:
    picture = page.mapping("picture").mapping("data").text("url")
    cover = page.mapping("cover").text("source")
    content: dict[str, Any] = {k: page.text(k) for k in ("name", "username", "about", "description", "category",
                                                         "link", "website", "phone", "verification_status")}
    content |= {"id": page.identifier(), "emails": page.value("emails"), "location": page.value("location"),
                "picture": stable_media_url(picture), "cover": stable_media_url(cover)}
    metrics = {k: v for k in ("fan_count", "followers_count") if (v := page.count(k)) is not None}
    return Observation(platform_id=content["id"], kind="profile", content=content,
                       text=" ".join(content[k] for k in ("name", "about", "description") if content[k]),
                       url=content["link"], author=content["name"], metrics=metrics,
                       media_urls=tuple(u for u in (picture, cover) if u))


def lookup_observations(response: CapturedResponse) -> list[Observation]:
    """A direct lookup of one post or comment: the object as it is now, or the platform's word
    that it does not exist (Graph error 100/33). Any other answer says nothing about the item,
    and an answer that cannot be read is a problem of that item, never its deletion."""
    assert response.lookup is not None
    fields = request_fields(response.url)
    error = GraphError.of(response)
    if error is not None:
        if error.kind != "missing":
            return []
        kind = "comment" if "parent" in fields else "post"
        return [Observation(platform_id=response.lookup, kind=kind, content=DELETED, state=VersionState.DELETED)]
    body = graph_body(response)
    if body is None or (not body.has("id") and "parent" not in fields):
        return []
    if "parent" in fields:
        found = isolated(lambda node: [comment_observation(node, _post_of_comment(node.text("permalink_url")))],
                         body.raw, kind="comment")
    else:
        found = post_observations(body.raw)
    return [replace(o, platform_id=response.lookup) if o.problem and not o.platform_id else o for o in found]


def _post_of_comment(permalink: str | None) -> str | None:
    try:
        parts = [p for p in urlsplit(permalink or "").path.split("/") if p]
    except ValueError:
        return None
    if "posts" in parts and parts.index("posts") + 1 < len(parts) and parts[0].isdigit():
        return f"{parts[0]}_{parts[parts.index('posts') + 1]}"
    return None


def cascade_observations(response: CapturedResponse) -> list[Observation]:
    record = graph_body(response)
    if record is None:
        return []
    reason = {"deleted": record.text("reason") or "parent post deleted", "parent": record.value("parent")}
    children = [Fields({"id": child}, f"children[{index}]").identifier()
                for index, child in enumerate(record.array("children"))]
    return [Observation(platform_id=child, kind="comment", content=reason, state=VersionState.DELETED)
            for child in children]


def _webhook_change(change: Fields) -> list[Observation]:
    if change.text("field") != "feed" or not change.has("value"):
        return []
    value = change.mapping("value")
    verb, item = value.text("verb"), value.text("item")
    target = value.identifier("comment_id" if item == "comment" else "post_id", required=False)
    if not target or verb not in ("remove", "hide", "unhide"):
        return []
    kind = "comment" if item == "comment" else "post"
    if verb == "remove":
        return [Observation(target, kind, DELETED, state=VersionState.DELETED)]
    state = VersionState.HIDDEN if verb == "hide" else VersionState.VISIBLE
    return [Observation(target, kind, {}, state=state, state_only=True)]


def webhook_observations(response: CapturedResponse) -> list[Observation]:
    """What a signed Page webhook says by itself: removals are the platform's own word that an
    object is gone; hide/unhide change a comment's state (its content comes from the re-fetch)."""
    payload = graph_body(response)
    if payload is None or payload.raw.get("object") != "page":
        return []
    return [found for entry in payload.objects("entry")
            for found in each(_webhook_change, entry.array("changes"), kind="post", where=f"{entry.path}.changes")]


def parse(response: CapturedResponse) -> list[Observation]:
    if response.url.startswith(WEBHOOK_PREFIX):
        return webhook_observations(response)
    if response.url.startswith(CASCADE_PREFIX):
        return cascade_observations(response)
    if response.lookup is not None:
        return lookup_observations(response)
    if GraphError.of(response) is not None:
        return []
    body = graph_body(response)
    if body is None:
        return []
    path = edge_path(response.url)
    if len(path) == 2 and path[1] in ("feed", "posts", "published_posts", "visitor_posts"):
        return [o for index, post in enumerate(body.array("data")) for o in post_observations(post, f"data[{index}]")]
    if len(path) == 2 and path[1] == "comments":
        return each(lambda node: [comment_observation(node, path[0])], body.array("data"), kind="comment",
                    where="data", parent_id=path[0])
    if len(path) == 1 and body.has("id") and "_" not in str(body.raw["id"]):
        return isolated(lambda node: [profile_observation(node)], body.raw, kind="profile")
    return []


__all__ = ["COMMENT_FIELDS", "POST_FIELDS", "PROFILE_FIELDS", "comments_field", "parse"]
