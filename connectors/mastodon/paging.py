"""Mastodon paging: the ``Link`` header's ``rel="next"`` URL, followed as given; the last page has
none (and an empty page ends the listing whatever its headers say)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import requests.utils

from connectors.base import Headers
from connectors.graph.objects import graph_time
from connectors.paging import NewestFirst


def next_link(headers: Headers) -> str | None:
    """
    >>> next_link(Headers([("Link", '<https://i/api/v1/a?max_id=9>; rel="next", <https://i/p>; rel="prev"')]))
    'https://i/api/v1/a?max_id=9'
    """
    for link in requests.utils.parse_header_links(headers.get("link", "")):
        if link.get("rel") == "next" and link.get("url"):
            return str(link["url"])
    return None


class LinkListing(NewestFirst[tuple[Headers, list[Any]]]):
    """An account's statuses, page by page, from ``Link`` headers.

    >>> from datetime import UTC
    >>> pages = LinkListing("https://i/api/v1/accounts/1/statuses", 10, datetime(2026, 7, 1, tzinfo=UTC))
    >>> link = Headers([("Link", '<https://i/api/v1/accounts/1/statuses?max_id=5>; rel="next"')])
    >>> pages.advance((link, [{"id": "7", "created_at": "2026-07-03T10:00:00.000Z"}]))
    >>> pages.current
    'https://i/api/v1/accounts/1/statuses?max_id=5'
    >>> pages.advance((link, [{"id": "5", "created_at": "2026-06-03T10:00:00.000Z"}]))
    >>> pages.finished, pages.reached_end
    (True, False)
    """

    def following(self, page: tuple[Headers, list[Any]]) -> str | None:
        headers, items = page
        return next_link(headers) if items else None

    def times(self, page: tuple[Headers, list[Any]]) -> list[datetime]:
        return [t for item in page[1] if isinstance(item, dict) and (t := graph_time(item.get("created_at")))]
