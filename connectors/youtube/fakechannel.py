"""What a fake YouTube channel holds (videos, comment threads and replies, held and private
items) and how Data API v3 renders each resource; the ground truth for tests is ``truth()``.

Shapes follow ``tests/fixtures/youtube/`` (python-youtube test data): ``youtube#commentThread``
with ``snippet.topLevelComment`` and up to five embedded ``replies.comments``, reply ids
``<thread id>.<suffix>``, ``statistics`` counts as strings, timestamps with and without
milliseconds.
"""

from __future__ import annotations

import base64
import hashlib
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

EMBEDDED_REPLIES = 5  # a thread carries at most this many replies; comments.list has the rest


def yt_time(at: datetime, millis: bool = True) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + (".000Z" if millis else "Z")


def etag(*parts: Any) -> str:
    return base64.urlsafe_b64encode(hashlib.sha1(repr(parts).encode()).digest()).decode()[:27]


@dataclass
class FakeComment:
    id: str
    video_id: str
    author: str
    text: str
    published: datetime
    updated: datetime
    parent_id: str | None = None  # replies: the thread (top-level comment) id
    likes: int = 0
    held: bool = False  # held for review: only the owner sees it, with moderationStatus
    deleted: bool = False
    replies: list[FakeComment] = field(default_factory=list)


@dataclass
class FakeVideo:
    id: str
    title: str
    description: str
    published: datetime
    privacy: str = "public"  # public | unlisted | private
    deleted: bool = False
    comments_disabled: bool = False
    views: int = 0
    threads: list[FakeComment] = field(default_factory=list)


class FakeChannel:
    def __init__(self, channel_id: str = "UC_x5XG1OV2P6uZZ5FSM9Ttw", title: str = "City of Springfield",
                 handle: str = "@cityofspringfield"):
        self.channel_id = channel_id
        self.title = title
        self.handle = handle
        self.videos: list[FakeVideo] = []  # newest first, as the uploads playlist lists them
        self.comments: dict[str, FakeComment] = {}
        self.media_root = "http://127.0.0.1/media"
        self._serial = 0

    @property
    def uploads(self) -> str:
        return "UU" + self.channel_id[2:]

    def _id(self, length: int) -> str:
        self._serial += 1
        raw = hashlib.sha256(f"{self.channel_id}:{self._serial}".encode()).digest()
        return base64.urlsafe_b64encode(raw).decode()[:length]

    # Building ---------------------------------------------------------------------------------
    def add_video(self, at: datetime, title: str, description: str = "") -> FakeVideo:
        video = FakeVideo(self._id(11), title, description or f"{title} — recorded by the city clerk's office.", at)
        self.videos.insert(0, video)
        self.videos.sort(key=lambda v: v.published, reverse=True)
        return video

    def add_comment(self, video: FakeVideo, at: datetime, text: str, author: str,
                    thread: FakeComment | None = None) -> FakeComment:
        if thread is None:
            comment = FakeComment("Ug" + self._id(24), video.id, author, text, at, at)
            video.threads.append(comment)
        else:
            comment = FakeComment(f"{thread.id}.{self._id(22)}", video.id, author, text, at, at, parent_id=thread.id)
            thread.replies.append(comment)
        self.comments[comment.id] = comment
        return comment

    def edit(self, comment: FakeComment, text: str, at: datetime) -> None:
        comment.text, comment.updated = text, at

    @classmethod
    def synthetic(cls, videos: int = 20, comments: int = 300, seed: int = 0, days: float = 700.0,
                  now: datetime | None = None) -> FakeChannel:
        """``videos`` over ``days``; ``comments`` threads and replies (long threads beyond the five a
        thread embeds), a few held for review, edited, or on private videos."""
        rng = random.Random(seed)
        now = (now or datetime.now(UTC)).replace(microsecond=0)
        channel = cls()
        step = timedelta(days=days) / max(videos, 1)
        for n in range(videos):
            video = channel.add_video(now - timedelta(days=days) + step * n, f"City Council meeting {n}")
            video.views = rng.randrange(10, 5000)
            video.privacy = "private" if rng.random() < 0.01 else "unlisted" if rng.random() < 0.02 else "public"
        public = [v for v in channel.videos if v.privacy != "private"]
        for n in range(comments):
            video = public[int(len(public) * rng.random() ** 2)]  # recent videos draw most
            at = min(video.published + timedelta(minutes=rng.randrange(1, 20000)), now - timedelta(seconds=1))
            if video.threads and rng.random() < 0.45:
                thread = rng.choice(video.threads[-20:])
                comment = channel.add_comment(video, max(at, thread.published), f"reply {n}", f"Resident {n % 70}",
                                              thread)
            else:
                comment = channel.add_comment(video, at, f"comment {n} on meeting", f"Resident {n % 70}")
            comment.likes = rng.randrange(20)
            comment.held = rng.random() < 0.01
            if rng.random() < 0.02:
                channel.edit(comment, comment.text + " (edited)", min(comment.published + timedelta(hours=1), now))
        return channel

    # Ground truth -----------------------------------------------------------------------------
    def gone(self, comment: FakeComment) -> bool:
        """Deleted, or under a deleted thread or video (they go with it)."""
        thread = self.comments.get(comment.parent_id) if comment.parent_id else None
        return comment.deleted or (thread is not None and thread.deleted) or self.video(comment.video_id).deleted

    def live_comments(self, include_held: bool = True) -> list[FakeComment]:
        """What exists; without ``include_held``, what the public sees (not held, nor under a held thread)."""
        return [c for c in self.comments.values() if not self.gone(c)
                and (include_held or not (c.held or (c.parent_id and self.comments[c.parent_id].held)))]

    def video(self, video_id: str) -> FakeVideo:
        return next(v for v in self.videos if v.id == video_id)

    def truth(self) -> dict[str, str]:
        found = {v.id: v.title + (" [private]" if v.privacy == "private" else "") for v in self.videos
                 if not v.deleted}
        found |= {c.id: c.text + (" [held]" if c.held else "") for c in self.live_comments()}
        return found

    # Rendering --------------------------------------------------------------------------------
    def thumbnails(self, video: FakeVideo) -> dict[str, Any]:
        return {size: {"url": f"{self.media_root}/vi/{video.id}/{name}.jpg", "width": w, "height": h}
                for size, name, w, h in (("default", "default", 120, 90), ("medium", "mqdefault", 320, 180),
                                         ("high", "hqdefault", 480, 360))}

    def playlist_item(self, video: FakeVideo, position: int) -> dict[str, Any]:
        private = video.privacy == "private"
        snippet = {"publishedAt": yt_time(video.published), "channelId": self.channel_id,
                   "title": "Private video" if private else video.title,
                   "description": "This video is private." if private else video.description,
                   "thumbnails": {} if private else self.thumbnails(video), "channelTitle": self.title,
                   "playlistId": self.uploads, "position": position,
                   "resourceId": {"kind": "youtube#video", "videoId": video.id}}
        return {"kind": "youtube#playlistItem", "etag": etag(video.id, video.title, video.privacy),
                "id": base64.b64encode(f"{self.uploads}.{video.id}".encode()).decode(), "snippet": snippet,
                "contentDetails": {"videoId": video.id, "videoPublishedAt": yt_time(video.published, False)},
                "status": {"privacyStatus": video.privacy}}

    def video_resource(self, video: FakeVideo, parts: set[str]) -> dict[str, Any]:
        node: dict[str, Any] = {"kind": "youtube#video", "etag": etag(video.id, video.title, video.views),
                                "id": video.id}
        if "snippet" in parts:
            node["snippet"] = {"publishedAt": yt_time(video.published), "channelId": self.channel_id,
                               "title": video.title, "description": video.description,
                               "thumbnails": self.thumbnails(video), "channelTitle": self.title,
                               "tags": ["city council", "public meeting"], "categoryId": "25",
                               "liveBroadcastContent": "none", "defaultLanguage": "en"}
        if "contentDetails" in parts:
            node["contentDetails"] = {"duration": "PT1H2M10S", "dimension": "2d", "definition": "hd",
                                      "caption": "true", "licensedContent": False, "projection": "rectangular"}
        if "status" in parts:
            node["status"] = {"uploadStatus": "processed", "privacyStatus": video.privacy, "license": "youtube",
                              "embeddable": True, "publicStatsViewable": True, "madeForKids": False}
        if "statistics" in parts:
            count = sum(1 + len(t.replies) for t in video.threads if not t.deleted and not t.held)
            node["statistics"] = {"viewCount": str(video.views), "likeCount": str(video.views // 20),
                                  "favoriteCount": "0", "commentCount": str(count)}
        return node

    def comment_resource(self, comment: FakeComment, owner: bool) -> dict[str, Any]:
        snippet: dict[str, Any] = {
            "authorDisplayName": comment.author,
            "authorProfileImageUrl": f"{self.media_root}/avatar/{etag(comment.author)}.jpg",
            "authorChannelUrl": f"http://www.youtube.com/channel/UC{etag(comment.author)[:22]}",
            "authorChannelId": {"value": f"UC{etag(comment.author)[:22]}"},
            "textDisplay": comment.text, "textOriginal": comment.text, "canRate": True, "viewerRating": "none",
            "likeCount": comment.likes, "publishedAt": yt_time(comment.published),
            "updatedAt": yt_time(comment.updated),
        }
        if comment.parent_id:
            snippet["parentId"] = comment.parent_id
        else:
            snippet["videoId"] = comment.video_id
        if owner:
            snippet["moderationStatus"] = "heldForReview" if comment.held else "published"
        return {"kind": "youtube#comment", "etag": etag(comment.id, comment.text), "id": comment.id,
                "snippet": snippet}

    def thread_resource(self, thread: FakeComment, owner: bool) -> dict[str, Any]:
        replies = [r for r in thread.replies if not r.deleted and (owner or not r.held)]
        node: dict[str, Any] = {
            "kind": "youtube#commentThread", "etag": etag(thread.id, len(replies)), "id": thread.id,
            "snippet": {"channelId": self.channel_id, "videoId": thread.video_id,
                        "topLevelComment": self.comment_resource(thread, owner), "canReply": True,
                        "totalReplyCount": len(replies), "isPublic": True},
        }
        if replies:
            node["replies"] = {"comments": [self.comment_resource(r, owner) for r in replies[-EMBEDDED_REPLIES:]]}
        return node

    def channel_resource(self, parts: set[str]) -> dict[str, Any]:
        node: dict[str, Any] = {"kind": "youtube#channel", "etag": etag(self.channel_id, len(self.videos)),
                                "id": self.channel_id}
        if "snippet" in parts:
            node["snippet"] = {"title": self.title, "description": f"Official channel of the {self.title}.",
                               "customUrl": self.handle, "publishedAt": "2007-08-23T00:34:43Z",
                               "thumbnails": {"default": {"url": f"{self.media_root}/channel.jpg", "width": 88,
                                                          "height": 88}},
                               "localized": {"title": self.title}, "country": "US"}
        if "contentDetails" in parts:
            node["contentDetails"] = {"relatedPlaylists": {"likes": "", "uploads": self.uploads}}
        if "statistics" in parts:
            node["statistics"] = {"viewCount": str(sum(v.views for v in self.videos)), "subscriberCount": "12400",
                                  "hiddenSubscriberCount": False,
                                  "videoCount": str(sum(1 for v in self.videos if not v.deleted))}
        return node
