"""YouTube paging: ``nextPageToken`` is handed back as ``pageToken`` until a page has none (the
last page carries only ``prevPageToken``); a page without items ends the listing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connectors.base import Paginator
from connectors.jsonfields import dicts, mapping, text, timestamp


class PageTokenPaginator(Paginator[str, dict[str, Any]]):
    """A listing from its first page (``current`` is "" there) to its last.

    >>> pages = PageTokenPaginator(max_pages=10)
    >>> pages.advance({"nextPageToken": "CAoQAA", "items": [{"contentDetails":
    ...                {"videoPublishedAt": "2019-11-21T22:17:43Z"}}]})
    >>> pages.current
    'CAoQAA'
    >>> pages.advance({"prevPageToken": "CAoQAQ", "items": [{"id": "x"}]})
    >>> pages.finished, pages.oldest.isoformat()
    (True, '2019-11-21T22:17:43+00:00')
    """

    def __init__(self, max_pages: int):
        super().__init__("", max_pages)
        self.oldest: datetime | None = None  # the oldest video a playlist page listed

    def next_value(self, page: dict[str, Any]) -> str | None:
        items = dicts(page, "items")
        times = [t for item in items if (t := timestamp(text(mapping(item, "contentDetails"), "videoPublishedAt")))]
        if times:
            self.oldest = min([*times, self.oldest] if self.oldest else times)
        following = text(page, "nextPageToken")
        return following if items and following else None
