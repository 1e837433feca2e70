"""Newest-first listings that may stop early (Mastodon's statuses, Bluesky's author feed, LinkedIn's
posts): once a page reaches back before ``stop_before``, what is older was listed by earlier
harvests. A subclass says where the next page is and when each listed item was posted.

    >>> from datetime import UTC
    >>> class Example(NewestFirst[dict]):
    ...     def following(self, page): return page.get("next")
    ...     def times(self, page): return [datetime.fromisoformat(t) for t in page["times"]]
    >>> pages = Example("p1", 10, stop_before=datetime(2026, 7, 1, tzinfo=UTC))
    >>> pages.advance({"times": ["2026-07-04T00:00:00+00:00"], "next": "p2"})
    >>> pages.advance({"times": ["2026-06-20T00:00:00+00:00"], "next": "p3"})
    >>> pages.finished, pages.reached_end, pages.oldest.day
    (True, False, 20)
"""

from __future__ import annotations

from abc import abstractmethod
from datetime import datetime
from typing import TypeVar

from connectors.base import Paginator

P = TypeVar("P")


class NewestFirst(Paginator[str, P]):
    def __init__(self, start: str, max_pages: int, stop_before: datetime | None = None):
        super().__init__(start, max_pages)
        self.stop_before = stop_before
        self.oldest: datetime | None = None  # the oldest item listed so far
        self.reached_end = False  # the listing ran out: everything the platform has was listed

    @abstractmethod
    def following(self, page: P) -> str | None:
        """The next page's URL as the page gives it (None on the last page)."""

    @abstractmethod
    def times(self, page: P) -> list[datetime]:
        """When the page's items were posted."""

    def next_value(self, page: P) -> str | None:
        times = self.times(page)
        if times:
            self.oldest = min([*times, self.oldest] if self.oldest else times)
        following = self.following(page)
        if following is None:
            self.reached_end = True
            return None
        if self.stop_before is not None and self.oldest is not None and self.oldest < self.stop_before:
            return None
        return following
