"""One archived HTTP response as a parser sees it, live or read back from a WARC.

It lives in ``capture`` (not ``connectors``) because the recording session builds it: the
session, reindex and every connector share it without importing each other.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class Headers(Mapping[str, str]):
    """Case-insensitive, order-keeping response headers (first value wins on lookup)."""

    def __init__(self, items: list[tuple[str, str]]):
        self.items_list = list(items)
        self._lookup: dict[str, str] = {}
        for name, value in self.items_list:
            self._lookup.setdefault(name.lower(), value)

    def __getitem__(self, name: str) -> str:
        return self._lookup[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._lookup)

    def __len__(self) -> int:
        return len(self._lookup)


@dataclass(frozen=True)
class CapturedResponse:
    """One archived response as parsers see it, live or read back from a WARC.

    ``url`` and ``body`` are the redacted forms that the WARC holds, with transfer and content
    encodings removed, so a live parse and a reindex parse see exactly the same input.
    """

    url: str
    status: int
    headers: Headers
    body: bytes
    captured_at: datetime
    # Set when this exchange was a direct lookup of one item (to confirm it is gone or changed):
    # the item's platform id. Parsers read lookups whatever their status, since a 404 there is evidence.
    lookup: str | None = None

    @property
    def parseable(self) -> bool:
        """Whether a parser sees this response: successes, and every direct lookup."""
        return self.lookup is not None or 200 <= self.status < 300

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def json(self) -> Any:
        return json.loads(self.body)
