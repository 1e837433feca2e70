"""How a harvest ended, as its WARC says: the harvest summary record, written and read in one place.

The summary (a ``metadata`` record, ``urn:archiver:harvest:UID``, the last of the harvest's last
WARC) is the harvest's outcome: status, whether the listing was complete, the cursor it earned,
error and cause, pages and observations, what the listing covered, and when it finished. The
live harvest records exactly that in the index; start-up recovery, finishing a harvest whose
process died after writing it, takes the same facts from it; ``reindex`` rebuilding harvests it
does not know takes them too. So ``coverage`` says the same whichever way the index was built.

A harvest killed before its summary is ``interrupted``: recovery notes when in the ``recovered``
record it appends to the half-written file, and reindex reads that time back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, BinaryIO

from sqlalchemy.orm import Session
from warcio.archiveiterator import ArchiveIterator

from archiver.index.models import Account, Harvest

INCOMPLETE = "the listing was not covered completely; cursor not advanced"
RECOVERED = "the process stopped before the harvest finished; recovered on start"


def outcome(error: str | None, cause: str | None, complete: bool, targeted: bool,
            interrupted: bool) -> tuple[str, str | None, str | None]:
    """(status, error, cause) of a harvest that got this far."""
    if interrupted:
        return "interrupted", error, cause
    if error is not None:
        return "failed", error, cause
    if complete or targeted:
        return "succeeded", None, cause
    return "partial", INCOMPLETE, "listing"


def apply(session: Session, harvest: Harvest, summary: dict[str, Any], written_at: datetime, *,
          move_cursor: bool = True) -> None:
    """Give ``harvest`` the outcome its summary records (and its account the cursor it earned,
    unless ``move_cursor`` is false: a later harvest already moved it)."""
    complete = bool(summary.get("complete"))
    coverage = summary.get("coverage") or {}
    status = summary.get("status")
    if status is None:  # written before summaries said it
        status = ("interrupted" if summary.get("cause") == "stopped" else "succeeded"
                  if complete or (coverage.get("targeted") and not summary.get("error"))
                  else "failed" if summary.get("error") else "partial")
    harvest.status, harvest.error, harvest.complete = str(status), summary.get("error"), complete
    harvest.pages = int(summary.get("pages") or 0)
    harvest.observations = int(summary.get("observations") or harvest.observations or 0)
    harvest.cause, harvest.coverage = summary.get("cause"), coverage
    finished = summary.get("finished_at")
    harvest.finished_at = datetime.fromisoformat(finished) if finished else written_at
    if complete:
        harvest.cursor_after = summary.get("cursor") or {}
        account = session.get(Account, harvest.account_id)
        if account is not None and move_cursor:
            account.cursor = harvest.cursor_after


def started_of(uid: str) -> datetime | None:
    """When a harvest began, from its uid (``archiver.capture.spool.new_harvest_uid``).

    >>> started_of("20261123T064524123456Z-339cd0").isoformat()
    '2026-11-23T06:45:24.123456+00:00'
    """
    try:
        return datetime.strptime(uid.split("-", 1)[0], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def parse(data: bytes) -> dict[str, Any] | None:
    """A metadata record's JSON if it is a harvest summary or a recovery note."""
    try:
        found = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return found if isinstance(found, dict) and found.get("event") in ("harvest-summary", "recovered") else None


def read(streams: Iterable[BinaryIO]) -> tuple[dict[str, Any] | None, datetime | None]:
    """(the harvest summary, when recovery cut the harvest short) found in a harvest's WARCs."""
    found: dict[str, Any] | None = None
    recovered: datetime | None = None
    for stream in streams:
        for record in ArchiveIterator(stream, check_digests=False):
            if record.rec_type != "metadata":
                continue
            note = parse(record.content_stream().read())
            if note is None:
                continue
            if note["event"] == "harvest-summary":
                found = note
            elif isinstance(note.get("recovered_at"), str):
                recovered = datetime.fromisoformat(note["recovered_at"].replace("Z", "+00:00"))
    return found, recovered
