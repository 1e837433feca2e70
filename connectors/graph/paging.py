"""Graph paging: ``paging.next`` followed exactly as given, whether it carries a cursor
(``after=…``) or a time (``until=…&__paging_token=…``); the last page has no ``next`` (some have
no ``paging`` at all). The next URL comes from the archived (redacted) body: the client puts the
credentials back, it never takes them from a response."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connectors.base import Paginator
from connectors.graph.objects import graph_time
from connectors.paging import NewestFirst
from connectors.untrusted import Fields


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
        return next_page(page)


def next_page(page: dict[str, Any]) -> str | None:
    """``paging.next`` as given; an empty page ends the edge, whatever its paging says. Paging that
    cannot be read raises ``Malformed`` (``Paginator.advance`` makes it a "listing" error)."""
    body = Fields(page)
    if not body.array("data"):
        return None
    return body.mapping("paging").text("next") or None


class ListingPaginator(NewestFirst[dict[str, Any]]):
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
        super().__init__(start, max_pages, stop_before)
        self.time_field = time_field

    def following(self, page: dict[str, Any]) -> str | None:
        return next_page(page)

    def times(self, page: dict[str, Any]) -> list[datetime]:
        return [t for item in Fields(page).objects("data") if (t := graph_time(item.raw.get(self.time_field)))]
