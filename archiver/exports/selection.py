"""Which items an export covers, and the export's own description."""

from __future__ import annotations

import platform
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver import __version__
from archiver.index.models import Item
from archiver.items import item_histories
from archiver.search import SearchQuery, matching_ids

CHUNK = 500


@dataclass(frozen=True)
class ExportRequest:
    query: SearchQuery
    requested_by: str
    created_at: datetime

    def describe(self) -> dict[str, Any]:
        return {
            "software": f"gov-social-archiver/{__version__}",
            "python": platform.python_version(),
            "host": socket.gethostname(),
            "exported_at": self.created_at.astimezone(UTC).isoformat(),
            "exported_by": self.requested_by,
            "query": self.query.describe(),
        }


def matching_item_ids(session: Session, query: SearchQuery) -> list[int]:
    """Every item the query matches (no paging), in search order."""
    return matching_ids(session, query)


def histories(session: Session, item_ids: list[int]) -> Iterator[dict[str, Any]]:
    """Item histories a chunk at a time, so memory stays flat however many items there are."""
    for start in range(0, len(item_ids), CHUNK):
        chunk = item_ids[start:start + CHUNK]
        items = {item.id: item for item in session.scalars(select(Item).where(Item.id.in_(chunk)))}
        yield from item_histories(session, [items[item_id] for item_id in chunk])
        session.expunge_all()
