"""Which items an export covers, the export's own description, and where it may be written.

An export never overwrites anything: it goes into a new or empty folder (``new_folder``), and
its manifest is created, never replaced (``write_manifest``), so an earlier export's record of
what it holds stays as it was written.
"""

from __future__ import annotations

import json
import platform
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
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


class ExportTargetError(Exception):
    """The export's destination is taken; the message says which and what to do."""


def new_folder(out: Path, *also: Path, create: bool = True) -> None:
    """Refuse ``out`` unless it is a new or empty folder (and none of ``also`` exists); then create it."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportTargetError(f"{out} already exists and is not an empty folder; give a new --out "
                                "(an export never writes over an earlier one)")
    for taken in also:
        if taken.exists():
            raise ExportTargetError(f"{taken} already exists; give a new --out (an export never writes over an "
                                    "earlier one)")
    if create:
        out.mkdir(parents=True, exist_ok=True)


def write_manifest(path: Path, data: Any) -> None:
    """Create the export's manifest; an existing one is never replaced (FileExistsError)."""
    with path.open("x", encoding="utf-8") as handle:
        handle.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


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
