"""YouTube Data API v3 payloads to observations; a pure function of the archived response.

What a response is follows from its resource (``channels``, ``playlistItems``, ``videos``,
``commentThreads``, ``comments``) and its lookup mark. A video's content is its snippet, status
and content details; ``statistics`` are metrics. A comment's content is its text (both forms),
author and ``updatedAt``, so an edit is a new version; likes and reply counts are metrics;
``moderationStatus`` heldForReview/likelySpam (seen only with the owner's token) is hidden.
A private video is unavailable, never deleted. In lookups (ids missing from a complete listing)
only the id's absence from ``items`` (or ``notFound``) records a deletion. The archiver's own
``urn:archiver:cascade:youtube:VIDEO`` record lists the comments gone with a deleted video.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from connectors.base import CapturedResponse, Observation, VersionState
from connectors.jsonfields import counts, dicts, each, flag, mapping, text, texts, timestamp

CASCADE_PREFIX = "urn:archiver:cascade:youtube:"
VIDEO_PARTS = "snippet,contentDetails,statistics,status"
DELETED = {"deleted": "YouTube returned no item for this id in a direct lookup"}
HIDDEN_STATUSES = ("heldForReview", "likelySpam", "rejected")
_SNIPPET = ("publishedAt", "channelId", "title", "description", "channelTitle", "categoryId",
            "liveBroadcastContent", "defaultLanguage", "defaultAudioLanguage")
_STATUS = ("uploadStatus", "privacyStatus", "license", "embeddable", "madeForKids", "publishAt")
_DETAILS = ("duration", "definition", "caption", "licensedContent", "dimension", "projection")


def resource(url: str) -> str:
    return urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]


def best_thumbnail(snippet: dict[str, Any]) -> str | None:
    thumbnails = mapping(snippet, "thumbnails")
    for size in ("maxres", "standard", "high", "medium", "default"):
        if url := text(mapping(thumbnails, size), "url"):
            return url
    return None


def _scalars(node: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: node[k] for k in keys if isinstance(node.get(k), str | int | bool | float)}


def video_observation(video: dict[str, Any]) -> list[Observation]:
    video_id = text(video, "id")
    if video_id is None:
        return []
    snippet, status = mapping(video, "snippet"), mapping(video, "status")
    thumbnail = best_thumbnail(snippet)
    content = {**_scalars(snippet, _SNIPPET), "tags": texts(snippet, "tags"), "thumbnail": thumbnail,
               "status": _scalars(status, _STATUS), "details": _scalars(mapping(video, "contentDetails"), _DETAILS)}
    private = text(status, "privacyStatus") == "private"
    words = [text(snippet, "title"), text(snippet, "description"), *texts(snippet, "tags")]
    return [Observation(video_id, "post", content, text=" ".join(w for w in words if w),
                        state=VersionState.UNAVAILABLE if private else VersionState.VISIBLE,
                        url=f"https://www.youtube.com/watch?v={video_id}", author=text(snippet, "channelTitle"),
                        posted_at=timestamp(text(snippet, "publishedAt")),
                        media_urls=(thumbnail,) if thumbnail else (), metrics=counts(mapping(video, "statistics")))]


def comment_observation(comment: dict[str, Any], video_id: str | None, thread: dict[str, Any] | None = None,
                        ) -> list[Observation]:
    """A top-level comment (with its thread's counts) or a reply (``parentId`` set)."""
    comment_id = text(comment, "id")
    snippet = mapping(comment, "snippet")
    if comment_id is None or not snippet:
        return []
    parent = text(snippet, "parentId")
    author = mapping(snippet, "authorChannelId")
    content = {"textOriginal": text(snippet, "textOriginal"), "textDisplay": text(snippet, "textDisplay"),
               "authorDisplayName": text(snippet, "authorDisplayName"), "authorChannelId": text(author, "value"),
               "authorChannelUrl": text(snippet, "authorChannelUrl"), "publishedAt": text(snippet, "publishedAt"),
               "updatedAt": text(snippet, "updatedAt")}
    if thread is not None:
        content["isPublic"] = flag(mapping(thread, "snippet"), "isPublic")
    metrics = counts({"likes": snippet.get("likeCount")})
    if thread is not None:
        metrics |= counts({"replies": mapping(thread, "snippet").get("totalReplyCount")})
    hidden = text(snippet, "moderationStatus") in HIDDEN_STATUSES
    video = text(snippet, "videoId") or video_id
    return [Observation(
        comment_id, "reply" if parent else "comment", content,
        text=text(snippet, "textOriginal") or text(snippet, "textDisplay") or "",
        state=VersionState.HIDDEN if hidden else VersionState.VISIBLE,
        url=f"https://www.youtube.com/watch?v={video}&lc={comment_id}" if video else None,
        author=text(snippet, "authorDisplayName"), posted_at=timestamp(text(snippet, "publishedAt")),
        parent_id=parent or video, metrics=metrics)]


def thread_observations(thread: dict[str, Any]) -> list[Observation]:
    snippet = mapping(thread, "snippet")
    video_id = text(snippet, "videoId")
    found = comment_observation(mapping(snippet, "topLevelComment"), video_id, thread)
    return found + list(each(dicts(mapping(thread, "replies"), "comments"),
                             lambda reply: comment_observation(reply, video_id)))


def channel_observation(channel: dict[str, Any]) -> list[Observation]:
    channel_id = text(channel, "id")
    if channel_id is None:
        return []
    snippet = mapping(channel, "snippet")
    picture = best_thumbnail(snippet)
    content = {**_scalars(snippet, ("title", "description", "customUrl", "publishedAt", "country")),
               "uploads": text(mapping(mapping(channel, "contentDetails"), "relatedPlaylists"), "uploads"),
               "thumbnail": picture}
    metrics = counts(mapping(channel, "statistics"))
    return [Observation(channel_id, "profile", content, text=" ".join(filter(None, (text(snippet, "title"),
                                                                                    text(snippet, "description")))),
                        url=f"https://www.youtube.com/channel/{channel_id}", author=text(snippet, "title"),
                        metrics=metrics, media_urls=(picture,) if picture else ())]


def playlist_observations(item: dict[str, Any]) -> list[Observation]:
    """The uploads listing says one thing by itself: a video became private (unavailable)."""
    video_id = text(mapping(item, "contentDetails"), "videoId") or \
        text(mapping(mapping(item, "snippet"), "resourceId"), "videoId")
    if video_id and text(mapping(item, "status"), "privacyStatus") == "private":
        return [Observation(video_id, "post", {}, state=VersionState.UNAVAILABLE, state_only=True)]
    return []


def lookup_observations(response: CapturedResponse, body: Any) -> list[Observation]:
    asked = [i for i in (response.lookup or "").split(",") if i]
    kind = "post" if resource(response.url) == "videos" else "comment"
    not_found = response.status == 404 and isinstance(body, dict) and \
        any(text(e, "reason") in ("videoNotFound", "commentNotFound", "notFound")
            for e in dicts(mapping(body, "error"), "errors"))
    if not_found and len(asked) == 1:
        return [Observation(asked[0], kind, DELETED, state=VersionState.DELETED)]
    if response.status != 200 or not isinstance(body, dict) or not isinstance(body.get("items"), list):
        return []
    present: dict[str, VersionState] = {}
    for node in dicts(body, "items"):
        node_id = text(node, "id")
        if node_id:
            private = text(mapping(node, "status"), "privacyStatus") == "private"
            present[node_id] = VersionState.UNAVAILABLE if private else VersionState.VISIBLE
    return [Observation(i, kind, {}, state=present[i], state_only=True) if i in present
            else Observation(i, kind, DELETED, state=VersionState.DELETED) for i in asked]


def cascade_observations(body: Any) -> list[Observation]:
    if not isinstance(body, dict):
        return []
    reason = {"deleted": "deleted with the video or comment thread it belonged to", "parent": text(body, "parent")}
    return [Observation(child, "comment", reason, state=VersionState.DELETED) for child in texts(body, "children")]


def parse(response: CapturedResponse) -> list[Observation]:
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError, RecursionError):
        return []
    if response.url.startswith(CASCADE_PREFIX):
        return cascade_observations(body)
    if response.lookup is not None:
        return lookup_observations(response, body)
    if not 200 <= response.status < 300 or not isinstance(body, dict):
        return []
    handlers = {"channels": channel_observation, "videos": video_observation, "commentThreads": thread_observations,
                "playlistItems": playlist_observations,
                "comments": lambda c: comment_observation(c, None)}
    handler = handlers.get(resource(response.url))
    return list(each(dicts(body, "items"), handler)) if handler else []


__all__ = ["CASCADE_PREFIX", "VIDEO_PARTS", "parse"]
