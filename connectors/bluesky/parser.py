"""Bluesky AppView payloads to observations; a pure function of the archived response.

What a response is follows from its XRPC method: ``app.bsky.actor.getProfile`` the profile
(keyed by DID, so a handle change is a new version of the same item), ``app.bsky.feed.getAuthorFeed``
the account's posts and reposts (kind "post"), ``app.bsky.feed.getPostThread`` a post with its
replies at any depth (kind "comment" under the thread's root, "reply" deeper; hidden when the
root's threadgate lists it in ``hiddenReplies``), and, as a direct lookup, a post or the AppView's
word that it is gone (``#notFoundPost``, or the ``NotFound`` error).

Items are named by their ``at://`` URI. A version is the post record (text, facets, embeds,
languages, reply references, labels) and the hidden state; like, reply, repost and quote counts
are metrics. The author's handle is the item's author, never content: a handle change does not
make every post a new version.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from connectors.base import CapturedResponse, Observation, VersionState
from connectors.graph.objects import graph_time
from connectors.rest import body_json

JETSTREAM_PREFIX = "urn:archiver:jetstream:bluesky:"  # a Jetstream event as received (archiver serve)
NOT_FOUND = "app.bsky.feed.defs#notFoundPost"
THREAD_VIEW = "app.bsky.feed.defs#threadViewPost"
DELETED = {"deleted": "the AppView answered that the post does not exist (deleted by its author or taken down)"}
POST = "app.bsky.feed.post"
_RECORD = ("text", "facets", "embed", "langs", "reply", "labels", "tags", "createdAt")


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def permalink(uri: str, handle: str | None) -> str | None:
    """
    >>> permalink("at://did:plc:abc/app.bsky.feed.post/3kah", "city.example.gov")
    'https://bsky.app/profile/city.example.gov/post/3kah'
    """
    parts = uri.removeprefix("at://").split("/")
    if len(parts) != 3 or parts[1] != "app.bsky.feed.post":
        return None
    return f"https://bsky.app/profile/{handle or parts[0]}/post/{parts[2]}"


def author_of(author: Any) -> str | None:
    """``Display Name (@handle)``, or the handle alone."""
    handle = _str(author.get("handle")) if isinstance(author, dict) else None
    if handle is None:
        return None
    name = _str(author.get("displayName"))
    return f"{name} (@{handle})" if name else f"@{handle}"


def _embed_media(embed: Any) -> list[str]:
    """Image and external-card URLs of an embed view (recordWithMedia included)."""
    if not isinstance(embed, dict):
        return []
    urls: list[str] = []
    for image in embed.get("images") if isinstance(embed.get("images"), list) else []:
        if isinstance(image, dict) and isinstance(image.get("fullsize"), str):
            urls.append(image["fullsize"])
    external = embed.get("external")
    if isinstance(external, dict) and isinstance(external.get("thumb"), str):
        urls.append(external["thumb"])
    if isinstance(embed.get("thumbnail"), str):  # a video's poster
        urls.append(embed["thumbnail"])
    urls += _embed_media(embed.get("media"))
    return [u for u in urls if u.startswith(("http://", "https://"))]


def _reply_parent(record: dict[str, Any]) -> str | None:
    reply = record.get("reply")
    parent = reply.get("parent") if isinstance(reply, dict) else None
    return _str(parent.get("uri")) if isinstance(parent, dict) else None


def post_observation(view: Any, *, kind: str = "post", parent: str | None = None,
                     hidden: bool = False) -> Observation | None:
    """One postView."""
    if not isinstance(view, dict) or not isinstance(view.get("uri"), str):
        return None
    record = view.get("record") if isinstance(view.get("record"), dict) else {}
    author = view.get("author") if isinstance(view.get("author"), dict) else {}
    content = {k: record[k] for k in _RECORD if k in record} | {"cid": _str(view.get("cid")),
                                                                "author_did": _str(author.get("did"))}
    metrics = {k.removesuffix("Count"): v for k in ("likeCount", "replyCount", "repostCount", "quoteCount")
               if isinstance(v := view.get(k), int) and not isinstance(v, bool)}
    handle = _str(author.get("handle"))
    return Observation(platform_id=view["uri"], kind=kind, content=content, text=_str(record.get("text")) or "",
                       state=VersionState.HIDDEN if hidden else VersionState.VISIBLE,
                       url=permalink(view["uri"], handle),
                       author=author_of(author), posted_at=graph_time(record.get("createdAt")),
                       parent_id=parent or _reply_parent(record), media_urls=tuple(_embed_media(view.get("embed"))),
                       metrics=metrics)


def feed_observation(entry: Any) -> Observation | None:
    """One feedViewPost: the account's post, or its repost of someone's post."""
    if not isinstance(entry, dict):
        return None
    reason = entry.get("reason")
    if isinstance(reason, dict) and reason.get("$type") == "app.bsky.feed.defs#reasonRepost":
        post = entry.get("post")
        if not isinstance(post, dict) or not isinstance(post.get("uri"), str):
            return None
        by = reason.get("by") if isinstance(reason.get("by"), dict) else {}
        repost_id = _str(reason.get("uri")) or f"{post['uri']}#repost-by-{_str(by.get('did'))}"
        return Observation(repost_id, "post", {"repost_of": post["uri"], "cid": _str(post.get("cid"))},
                           text="", author=author_of(by), posted_at=graph_time(reason.get("indexedAt")))
    return post_observation(entry.get("post"))


def thread_observations(node: Any, root: str | None, hidden: set[str], parent: str | None = None,
                        depth: int = 0) -> list[Observation]:
    """A threadViewPost and every reply under it (deleted or blocked replies give nothing)."""
    if not isinstance(node, dict) or node.get("$type", THREAD_VIEW) != THREAD_VIEW or depth > 1000:
        return []
    post = node.get("post")
    uri = post.get("uri") if isinstance(post, dict) else None
    if not isinstance(uri, str):
        return []
    kind = "post" if root is None or uri == root else ("comment" if parent == root else "reply")
    found = [o for o in [post_observation(post, kind=kind, parent=parent, hidden=uri in hidden)] if o]
    replies = node.get("replies") if isinstance(node.get("replies"), list) else []
    for child in replies:
        found += thread_observations(child, root or uri, hidden, uri, depth + 1)
    return found


def hidden_replies(body: dict[str, Any]) -> set[str]:
    """The at-URIs the thread's author hid (the root's threadgate ``hiddenReplies``)."""
    gate = body.get("threadgate")
    if not isinstance(gate, dict):
        thread = body.get("thread")
        post = thread.get("post") if isinstance(thread, dict) else None
        gate = post.get("threadgate") if isinstance(post, dict) else None
    record = gate.get("record") if isinstance(gate, dict) else None
    listed = record.get("hiddenReplies") if isinstance(record, dict) else None
    return {u for u in listed if isinstance(u, str)} if isinstance(listed, list) else set()


def profile_observation(body: Any) -> Observation | None:
    if not isinstance(body, dict) or not isinstance(body.get("did"), str):
        return None
    content = {k: body[k] for k in ("did", "handle", "displayName", "description", "avatar", "banner", "createdAt",
                                    "labels") if k in body}
    metrics = {k.removesuffix("Count"): v for k in ("followersCount", "followsCount", "postsCount")
               if isinstance(v := body.get(k), int)}
    return Observation(body["did"], "profile", content, text=" ".join(
        w for w in (_str(body.get("displayName")), _str(body.get("description"))) if w), author=author_of(body),
        url=f"https://bsky.app/profile/{body['did']}", metrics=metrics,
        media_urls=tuple(u for k in ("avatar", "banner") if isinstance(u := body.get(k), str)
                         and u.startswith(("http://", "https://"))))


def lookup_observations(response: CapturedResponse, body: Any) -> list[Observation]:
    """A post looked up directly: as it is, or gone (only for the very URI asked about)."""
    assert response.lookup is not None
    error = body.get("error") if isinstance(body, dict) else None
    if response.status == 400 and error == "NotFound":
        return [Observation(response.lookup, "post", DELETED, state=VersionState.DELETED)]
    thread = body.get("thread") if isinstance(body, dict) and response.status == 200 else None
    if isinstance(thread, dict) and thread.get("$type") == NOT_FOUND and thread.get("uri") == response.lookup:
        return [Observation(response.lookup, "post", DELETED, state=VersionState.DELETED)]
    if not isinstance(thread, dict) or thread.get("$type", THREAD_VIEW) != THREAD_VIEW:
        return []
    found = post_observation(thread.get("post"))
    return [found] if found and found.platform_id == response.lookup else []


def jetstream_observations(event: Any) -> list[Observation]:
    """What a Jetstream event says by itself: a ``delete`` commit of a post is its author's
    repository saying the record is gone. Creates and updates wait for the next harvest (their
    view — author, counts, embeds — comes from the AppView); identity and account events change
    nothing here (a handle change shows on the profile at the next harvest)."""
    if not isinstance(event, dict) or event.get("kind") != "commit" or not isinstance(event.get("did"), str):
        return []
    commit = event.get("commit")
    if not isinstance(commit, dict) or commit.get("operation") != "delete" or commit.get("collection") != POST:
        return []
    rkey = commit.get("rkey")
    if not isinstance(rkey, str) or not rkey or "/" in rkey:
        return []
    content = {"deleted": "the author's repository deleted the post (Jetstream delete commit)",
               "rev": _str(commit.get("rev")), "time_us": event.get("time_us")}
    return [Observation(f"at://{event['did']}/{POST}/{rkey}", "post", content, state=VersionState.DELETED)]


def parse(response: CapturedResponse) -> list[Observation]:
    if response.url.startswith(JETSTREAM_PREFIX):
        return jetstream_observations(body_json(response))
    parts = urlsplit(response.url)
    method = parts.path.rsplit("/", 1)[-1]
    body = body_json(response)
    if response.lookup is not None:
        return lookup_observations(response, body)
    if response.status >= 300 or not isinstance(body, dict):
        return []
    if method == "app.bsky.actor.getProfile":
        found = profile_observation(body)
        return [found] if found else []
    if method == "app.bsky.feed.getAuthorFeed":
        feed = body.get("feed") if isinstance(body.get("feed"), list) else []
        return [o for entry in feed if (o := feed_observation(entry)) is not None]
    if method == "app.bsky.feed.getPostThread":
        root = (parse_qs(parts.query).get("uri") or [None])[0]
        return thread_observations(body.get("thread"), None, hidden_replies(body)) if root else []
    return []


__all__ = ["parse", "permalink"]
