"""LinkedIn (Rest.li) paging: ``paging.links`` ``rel="next"`` (relative to the API host) when
given, else ``start + count`` while ``total`` says more are left; an empty page ends it."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from connectors.linkedin.parser import millis
from connectors.paging import NewestFirst


def with_start(url: str, start: int) -> str:
    """
    >>> with_start("https://api.linkedin.com/rest/posts?q=author&start=0&count=10", 10)
    'https://api.linkedin.com/rest/posts?q=author&count=10&start=10'
    """
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "start"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("start", str(start))], safe=":(),")))


class OffsetListing(NewestFirst[dict[str, Any]]):
    """Posts (newest first, may stop at a date) or comments (to the end), page by page.

    >>> pages = OffsetListing("https://api.linkedin.com/rest/posts?q=author&count=2", 10)
    >>> pages.advance({"elements": [{"createdAt": 1}, {"createdAt": 2}],
    ...                "paging": {"start": 0, "count": 2, "total": 3}})
    >>> pages.current
    'https://api.linkedin.com/rest/posts?q=author&count=2&start=2'
    >>> pages.advance({"elements": [{"createdAt": 3}], "paging": {"start": 2, "count": 2, "total": 3}})
    >>> pages.finished, pages.reached_end
    (True, True)
    """

    def following(self, page: dict[str, Any]) -> str | None:
        elements, paging = page.get("elements"), page.get("paging")
        if not elements or not isinstance(paging, dict) or self.current is None:
            return None
        for link in paging.get("links") if isinstance(paging.get("links"), list) else []:
            if isinstance(link, dict) and link.get("rel") == "next" and isinstance(link.get("href"), str):
                return urljoin(self.current, link["href"])
        start, count, total = paging.get("start"), paging.get("count"), paging.get("total")
        if isinstance(start, int) and isinstance(total, int) and start + len(elements) < total:
            return with_start(self.current, start + (count if isinstance(count, int) and count else len(elements)))
        return None

    def times(self, page: dict[str, Any]) -> list[datetime]:
        elements = page.get("elements") if isinstance(page.get("elements"), list) else []
        return [t for e in elements if isinstance(e, dict) and (t := millis(e.get("createdAt")))]
