"""Fetching the media an item links to (images, enclosures, video) into the same WARC.

Platform media URLs often expire within hours (signed CDN links), so media are fetched during
the harvest that found them. Bytes already archived for the same account and month are
written as ``revisit`` records; a file larger than ``media_max_bytes`` (once decoded) is kept as
far as it was received up to the cap, its record marked truncated, and the harvest's notes say so.
Bodies stream through the spool, so a long video never sits in memory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from archiver.capture.session import FetchFailed, RecordingSession, RevisitLookup, size_text

log = logging.getLogger(__name__)


class MediaCapture:
    """Fetches each media URL once per account.

    ``already_archived(url)`` says whether an earlier harvest stored a good copy of the URL;
    ``revisit`` finds an earlier record with identical bytes.
    """

    def __init__(
        self,
        session: RecordingSession,
        *,
        max_bytes: int,
        already_archived: Callable[[str], bool],
        revisit: RevisitLookup,
    ):
        self.session = session
        self.max_bytes = max_bytes
        self.already_archived = already_archived
        self.revisit = revisit
        self._done: set[str] = set()
        self.fetched = 0
        self.failed: list[str] = []
        self.truncated: list[str] = []

    def fetch(self, urls: Iterable[str]) -> None:
        for url in urls:
            if url in self._done or not url.startswith(("http://", "https://")):
                continue
            self._done.add(url)
            if self.already_archived(url):
                continue
            try:
                exchange = self.session.get(url, max_bytes=self.max_bytes, revisit=self.revisit)
            except FetchFailed as exc:
                # The attempt is in the WARC; the item's own record is not affected.
                self.failed.append(str(exc))
                log.warning("media not captured: %s", exc)
                continue
            self.fetched += 1
            if exchange.truncated:
                self.truncated.append(f"{exchange.response.url}: larger than {size_text(self.max_bytes)} once decoded "
                                      f"([capture] media_max_bytes); kept as far as received, marked truncated "
                                      f"in {exchange.evidence.warc_name}")
            if exchange.response.status >= 400:
                self.failed.append(f"{exchange.response.url} answered HTTP {exchange.response.status}")
