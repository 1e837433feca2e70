"""Bluesky paging: the opaque ``cursor`` of the response, sent back as ``cursor=``; the last page
has none (and an empty page ends the feed whatever it says)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from connectors.graph.objects import graph_time
from connectors.paging import NewestFirst


def with_cursor(url: str, cursor: str) -> str:
    """
    >>> with_cursor("https://x/xrpc/app.bsky.feed.getAuthorFeed?actor=did:plc:a&cursor=old", "new")
    'https://x/xrpc/app.bsky.feed.getAuthorFeed?actor=did%3Aplc%3Aa&cursor=new'
    """
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "cursor"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("cursor", cursor)])))


class FeedListing(NewestFirst[dict[str, Any]]):
    """An author feed, page by page (``sortAt``: the earlier of creation and indexing).

    >>> pages = FeedListing("https://x/xrpc/app.bsky.feed.getAuthorFeed?actor=did:plc:a", 10)
    >>> pages.advance({"feed": [{"post": {"indexedAt": "2026-07-03T10:00:00.000Z"}}], "cursor": "2026-07-03T10"})
    >>> pages.current
    'https://x/xrpc/app.bsky.feed.getAuthorFeed?actor=did%3Aplc%3Aa&cursor=2026-07-03T10'
    >>> pages.advance({"feed": [{"post": {"indexedAt": "2026-07-02T10:00:00.000Z"}}]})
    >>> pages.finished, pages.reached_end
    (True, True)
    """

    def following(self, page: dict[str, Any]) -> str | None:
        cursor = page.get("cursor")
        if not page.get("feed") or not isinstance(cursor, str) or not cursor or self.current is None:
            return None
        return with_cursor(self.current, cursor)

    def times(self, page: dict[str, Any]) -> list[datetime]:
        found = []
        for entry in page.get("feed") if isinstance(page.get("feed"), list) else []:
            post = entry.get("post") if isinstance(entry, dict) else None
            record = post.get("record") if isinstance(post, dict) else None
            stamps = [graph_time(post.get("indexedAt")) if isinstance(post, dict) else None,
                      graph_time(record.get("createdAt")) if isinstance(record, dict) else None]
            if known := [s for s in stamps if s is not None]:
                found.append(min(known))
        return found
