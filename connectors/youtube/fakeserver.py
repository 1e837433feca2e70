"""A local YouTube Data API v3 for tests, benchmarks and the demo: real HTTP on 127.0.0.1.

Serves a ``FakeChannel`` under ``/youtube/v3/`` — ``channels``, ``playlistItems``, ``videos``,
``commentThreads``, ``comments`` — with ``pageToken``/``nextPageToken`` paging, the error
envelope (``error.errors[].reason``), a daily quota counted per call like Google counts it (every
request, failed ones too, costs its units), and its bad days::

    from connectors.youtube.fakechannel import FakeChannel
    from connectors.youtube.fakeserver import FakeYouTubeServer

    with FakeYouTubeServer(FakeChannel.synthetic(videos=40, comments=600), keys={"KEY"}) as server:
        server.daily_units = 50        # then 403 quotaExceeded until the fake's "midnight"
        server.invalid_keys.add("KEY") # 400 keyInvalid

``units`` says what the archiver spent. The channel owner's OAuth tokens (``owner_tokens``) see
comments held for review (``moderationStatus=heldForReview``) and private videos.
"""

from __future__ import annotations

import argparse
import base64
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl

from connectors.fakejson import Answer, FakeJsonServer
from connectors.youtube.fakechannel import FakeChannel, FakeComment, etag

QUOTA_MESSAGE = ("The request cannot be completed because you have exceeded your <a href=\"/youtube/v3/"
                 "getting-started#quota\">quota</a>.")


def error(status: int, reason: str, message: str, domain: str = "youtube.api") -> tuple[int, dict[str, Any]]:
    return status, {"error": {"code": status, "message": message,
                              "errors": [{"message": message, "domain": domain, "reason": reason}]}}


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"CAoQ{offset:06d}".encode()).decode().rstrip("=")


def _offset(token: str) -> int | None:
    if not token:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        return int(raw[4:]) if raw.startswith("CAoQ") else None
    except (ValueError, UnicodeDecodeError):
        return None


class FakeYouTubeServer(FakeJsonServer):
    def __init__(self, channel: FakeChannel, keys: set[str] | None = None, owner_tokens: set[str] | None = None,
                 port: int = 0):
        super().__init__(port)
        self.channel = channel
        self.keys = keys or set()  # valid API keys; empty: any key
        self.owner_tokens = owner_tokens or set()
        self.invalid_keys: set[str] = set()
        self.expired_tokens: set[str] = set()
        self.daily_units: int | None = None
        self.units = 0  # units spent, every call counted
        self.rate_limited = 0  # the next N calls answer 403 rateLimitExceeded
        self.refresh_grants: set[tuple[str, str, str]] = set()  # (refresh token, client id, client secret)
        self.issued: list[str] = []  # access tokens handed out by /token

    def start(self) -> FakeYouTubeServer:
        super().start()
        self.channel.media_root = f"{self.base_url}/media"
        return self

    def outage_body(self, status: int) -> Any:
        return error(status, "backendError", "Backend Error", "global")[1]

    def answer(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes) -> Answer:
        if path == "/token" and method == "POST":
            return self._token(dict(parse_qsl(body.decode())))
        if path.startswith("/media/"):
            return 200, b"\xff\xd8\xff\xe0fake-jpeg:" + path.encode(), [("Content-Type", "image/jpeg")]
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        key = query.get("key", "")
        with self.lock:
            self.units += 1
            if self.daily_units is not None and self.units > self.daily_units:
                status, payload = error(403, "quotaExceeded", QUOTA_MESSAGE, "youtube.quota")
                return status, payload, []
            if self.rate_limited > 0:
                self.rate_limited -= 1
                status, payload = error(403, "rateLimitExceeded", "The request cannot be completed because you "
                                        "have exceeded your quota per minute.", "youtube.quota")
                return status, payload, []
        if bearer is not None and (bearer in self.expired_tokens or bearer not in self.owner_tokens):
            return 401, {"error": {"code": 401, "message": "Request had invalid authentication credentials. Expected "
                                   "OAuth 2 access token, login cookie or other valid authentication credential.",
                                   "errors": [{"message": "Invalid Credentials", "domain": "global",
                                               "reason": "authError", "location": "Authorization",
                                               "locationType": "header"}], "status": "UNAUTHENTICATED"}}, []
        if bearer is None and (not key or key in self.invalid_keys or (self.keys and key not in self.keys)):
            status, payload = error(400, "keyInvalid", "Bad Request", "usageLimits")
            return status, payload, []
        owner = bearer is not None
        resource = path.rsplit("/", 1)[-1]
        handler = {"channels": self._channels, "playlistItems": self._playlist_items, "videos": self._videos,
                   "commentThreads": self._threads, "comments": self._comments}.get(resource)
        if not path.startswith("/youtube/v3/") or handler is None:
            status, payload = error(404, "notFound", "Not Found", "global")
            return status, payload, []
        status, payload = handler(query, owner)
        return status, payload, [("Vary", "Origin"), ("Server", "scaffolding on HTTPServer2")]

    def _token(self, form: dict[str, str]) -> Answer:
        """Google's token endpoint: a refresh token (with the client's id and secret) for a new access token."""
        if form.get("grant_type") != "refresh_token" or (form.get("refresh_token"), form.get("client_id"),
                                                         form.get("client_secret")) not in self.refresh_grants:
            return 400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}, []
        token = f"ya29.a0{secrets.token_urlsafe(24)}"
        with self.lock:
            self.owner_tokens.add(token)
            self.issued.append(token)
        return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer",
                     "scope": "https://www.googleapis.com/auth/youtube.force-ssl"}, []

    # Resources ----------------------------------------------------------------------------------
    @staticmethod
    def _page(kind: str, items: list[Any], query: dict[str, str], limit: int, default: int = 5) -> tuple[int, Any]:
        size = int(query["maxResults"]) if query.get("maxResults", "").isdigit() else default
        if not 0 <= size <= limit:
            return error(400, "invalidParameter", f"Invalid value for parameter maxResults: {size}")
        start = _offset(query.get("pageToken", ""))
        if start is None:
            return error(400, "invalidPageToken", "The request specifies an invalid page token.")
        chunk = items[start:start + size]
        body: dict[str, Any] = {"kind": kind, "etag": etag(kind, start, len(items))}
        if start + size < len(items):
            body["nextPageToken"] = _token(start + size)
        if start:
            body["prevPageToken"] = _token(max(start - size, 0))
        body["pageInfo"] = {"totalResults": len(items), "resultsPerPage": size}
        return 200, body | {"items": chunk}

    def _channels(self, query: dict[str, str], owner: bool) -> tuple[int, Any]:
        channel = self.channel
        wanted = query.get("id") == channel.channel_id or query.get("forHandle", "").lstrip("@").lower() == \
            channel.handle.lstrip("@").lower() or (owner and query.get("mine") == "true")
        items = [channel.channel_resource(set(query.get("part", "").split(",")))] if wanted else []
        body = {"kind": "youtube#channelListResponse", "etag": etag("channels", wanted),
                "pageInfo": {"totalResults": len(items), "resultsPerPage": 5}}
        return 200, body | ({"items": items} if items else {})

    def _playlist_items(self, query: dict[str, str], owner: bool) -> tuple[int, Any]:
        if query.get("playlistId") != self.channel.uploads:
            return error(404, "playlistNotFound", "The playlist identified with the request's <code>playlistId</code>"
                         " parameter cannot be found.")
        videos = [v for v in self.channel.videos if not v.deleted]
        items = [self.channel.playlist_item(v, n) for n, v in enumerate(videos)
                 if v.id == query.get("videoId", v.id)]  # videoId: only the items of that video
        return self._page("youtube#playlistItemListResponse", items, query, 50)

    def _videos(self, query: dict[str, str], owner: bool) -> tuple[int, Any]:
        ids = [i for i in query.get("id", "").split(",") if i]
        if not 1 <= len(ids) <= 50:
            return error(400, "invalidParameter", "The request specifies too many or too few video ids.")
        parts = set(query.get("part", "").split(","))
        found = {v.id: v for v in self.channel.videos if not v.deleted and (owner or v.privacy != "private")}
        items = [self.channel.video_resource(found[i], parts) for i in ids if i in found]
        return 200, {"kind": "youtube#videoListResponse", "etag": etag("videos", ids),
                     "items": items, "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)}}

    def _threads(self, query: dict[str, str], owner: bool) -> tuple[int, Any]:
        video = next((v for v in self.channel.videos if v.id == query.get("videoId") and not v.deleted
                      and (owner or v.privacy != "private")), None)
        if video is None:
            return error(404, "videoNotFound", "The video identified by the <code><a href=\"/youtube/v3/docs/"
                         "commentThreads/list#videoId\">videoId</a></code> parameter could not be found.")
        if video.comments_disabled:
            return error(403, "commentsDisabled", "The video identified by the <code><a href=\"/youtube/v3/docs/"
                         "commentThreads/list#videoId\">videoId</a></code> parameter has disabled comments.")
        status = query.get("moderationStatus", "published")
        if status != "published" and not owner:
            return error(403, "forbidden", "The request is not properly authorized to retrieve the specified "
                         "comment threads.")
        threads = [t for t in reversed(video.threads) if not t.deleted and t.held == (status == "heldForReview")]
        return self._page("youtube#commentThreadListResponse", [self.channel.thread_resource(t, owner)
                                                                 for t in threads], query, 100, 20)

    def _comments(self, query: dict[str, str], owner: bool) -> tuple[int, Any]:
        if "parentId" in query:
            thread = self.channel.comments.get(query["parentId"])
            replies: list[FakeComment] = [] if thread is None or thread.deleted else \
                [r for r in reversed(thread.replies) if not r.deleted and (owner or not r.held)]
            return self._page("youtube#commentListResponse", [self.channel.comment_resource(r, owner)
                                                              for r in replies], query, 100, 20)
        ids = [i for i in query.get("id", "").split(",") if i]
        found = [self.channel.comments[i] for i in ids if i in self.channel.comments]
        items = [self.channel.comment_resource(c, owner) for c in found if not self.channel.gone(c)
                 and (owner or not c.held)]
        return 200, {"kind": "youtube#commentListResponse", "etag": etag("comments", ids), "items": items}


def main(argv: list[str] | None = None) -> int:
    """Serve a synthetic channel until stopped: prints the base URL and the channel id."""
    parser = argparse.ArgumentParser(description="a local fake YouTube Data API v3")
    parser.add_argument("--videos", type=int, default=500)
    parser.add_argument("--comments", type=int, default=20000)
    parser.add_argument("--key", default="bench-api-key")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    channel = FakeChannel.synthetic(videos=args.videos, comments=args.comments, seed=args.seed)
    with FakeYouTubeServer(channel, keys={args.key}) as server:
        print(server.base_url, channel.channel_id, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    raise SystemExit(main())
