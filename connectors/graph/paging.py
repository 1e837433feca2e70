"""Graph paging: ``paging.next`` followed exactly as given, whether it carries a cursor
(``after=…``) or a time (``until=…&__paging_token=…``); the last page has no ``next`` (some have
no ``paging`` at all). The next URL comes from the archived (redacted) body: the client puts the
credentials back, it never takes them from a response."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connectors.base import Paginator
from connectors.graph.objects import graph_time


class EdgePaginator(Paginator[str, dict[str, Any]]):
    """One edge (a post's comments, a comment's replies) from a URL to its last page.

    >>> pages = EdgePaginator("https://graph.example/v26.0/1_2/comments?filter=stream", max_pages=10)
    >>> pages.advance({"data": [{"id": "2_3"}], "paging": {"cursors": {"after": "QVFI"},
    ...                "next": "https://graph.example/v26.0/1_2/comments?filter=stream&after=QVFI"}})
    >>> pages.current
    'https://graph.example/v26.0/1_2/comments?filter=stream&after=QVFI'
    >>> pages.advance({"data": [{"id": "2_4"}]})  # the last page: no paging at all
    >>> pages.finished
    True
    """

    def next_value(self, page: dict[str, Any]) -> str | None:
        if not page.get("data"):  # an empty page ends the edge, whatever its paging says
            return None
        paging = page.get("paging")
        following = paging.get("next") if isinstance(paging, dict) else None
        return following if isinstance(following, str) and following else None


class ListingPaginator(EdgePaginator):
    """A newest-first listing (a Page's feed, an Instagram account's media) that may stop early:
    once a page reaches back before ``stop_before``, what is older was listed by earlier harvests.

    >>> from datetime import UTC, datetime
    >>> pages = ListingPaginator("https://graph.example/v26.0/1/feed", max_pages=10,
    ...                          stop_before=datetime(2026, 7, 1, tzinfo=UTC))
    >>> pages.advance({"data": [{"created_time": "2026-07-04T19:50:58+0000"}],
    ...                "paging": {"next": "https://graph.example/v26.0/1/feed?until=1624385168&__paging_token=x"}})
    >>> pages.current, pages.reached_end
    ('https://graph.example/v26.0/1/feed?until=1624385168&__paging_token=x', False)
    >>> pages.advance({"data": [{"created_time": "2026-06-22T18:06:08+0000"}], "paging": {"next": "https://…/p3"}})
    >>> pages.finished, pages.reached_end, pages.oldest.isoformat()
    (True, False, '2026-06-22T18:06:08+00:00')
    """

    def __init__(self, start: str, max_pages: int, stop_before: datetime | None = None,
                 time_field: str = "created_time"):
        super().__init__(start, max_pages)
        self.stop_before = stop_before
        self.time_field = time_field
        self.oldest: datetime | None = None  # the oldest item listed so far
        self.reached_end = False  # the listing ran out (everything the platform has was listed)

    def next_value(self, page: dict[str, Any]) -> str | None:
        times = [t for item in page.get("data") or [] if isinstance(item, dict)
                 and (t := graph_time(item.get(self.time_field))) is not None]
        if times:
            self.oldest = min([*times, self.oldest] if self.oldest else times)
        following = super().next_value(page)
        if following is None:
            self.reached_end = True
            return None
        if self.stop_before is not None and self.oldest is not None and self.oldest < self.stop_before:
            return None
        return following
