"""X v2 paging: ``meta.next_token`` is handed back (as ``pagination_token`` on timelines,
``next_token`` on search) until a page has none; a page without posts ends the listing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connectors.base import Paginator
from connectors.jsonfields import dicts, mapping, text, timestamp

FIRST = ""  # the first page: no token


class TokenPaginator(Paginator[str, dict[str, Any]]):
    """A newest-first listing, page by page; stops early once it reaches back before
    ``stop_before`` (what is older was listed by earlier harvests).

    >>> pages = TokenPaginator(max_pages=10)
    >>> pages.advance({"data": [{"id": "2", "created_at": "2026-05-02T10:00:00.000Z"}],
    ...                "meta": {"result_count": 1, "next_token": "7140dibdnow9c7b1"}})
    >>> pages.current
    '7140dibdnow9c7b1'
    >>> pages.advance({"data": [{"id": "1", "created_at": "2026-05-01T10:00:00.000Z"}], "meta": {"result_count": 1}})
    >>> pages.finished, pages.reached_end, pages.listed, pages.oldest.isoformat()
    (True, True, 2, '2026-05-01T10:00:00+00:00')
    """

    def __init__(self, max_pages: int, stop_before: datetime | None = None):
        super().__init__(FIRST, max_pages)
        self.stop_before = stop_before
        self.oldest: datetime | None = None
        self.newest: datetime | None = None
        self.listed = 0
        self.reached_end = False

    def next_value(self, page: dict[str, Any]) -> str | None:
        posts = dicts(page, "data")
        self.listed += len(posts)
        times = [t for post in posts if (t := timestamp(text(post, "created_at"))) is not None]
        if times:
            self.oldest = min([*times, self.oldest] if self.oldest else times)
            self.newest = max([*times, self.newest] if self.newest else times)
        following = text(mapping(page, "meta"), "next_token")
        if not posts or not following:
            self.reached_end = True
            return None
        if self.stop_before is not None and self.oldest is not None and self.oldest < self.stop_before:
            return None
        return following
