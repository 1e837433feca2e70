"""RFC 5005 feed paging: follow ``<link rel="next">`` until a page has none."""

from __future__ import annotations

from urllib.parse import urljoin

from connectors.base import Paginator
from connectors.rss.parser import FeedPage


class FeedPaginator(Paginator[str, FeedPage]):
    """Next-page URLs of a paged feed, resolved against the page they came from.

    >>> pages = FeedPaginator("http://127.0.0.1/feed.xml", max_pages=10)
    >>> pages.advance(FeedPage(next_url="feed.xml?page=2"))
    >>> pages.current
    'http://127.0.0.1/feed.xml?page=2'
    >>> pages.advance(FeedPage())
    >>> pages.finished
    True
    """

    def next_value(self, page: FeedPage) -> str | None:
        if not page.next_url or self.current is None:
            return None
        return urljoin(self.current, page.next_url)
