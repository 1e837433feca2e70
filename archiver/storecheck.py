"""Does storage still hold every WARC the index knows as stored? Asked before the index is rebuilt.

``archiver reindex`` rebuilds the index from the WARCs in storage alone, so a missing object
would silently take its items with it, and a wrong bucket or prefix all of them. The WARCs the
index knows as stored are therefore compared with what storage lists first; reindex goes on only
if none is missing (or the operator says to). On a versioned bucket, an object hidden behind a
delete marker is not missing: its newest version is read, and the operator told to restore it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from archiver.index.db import IndexDB
from archiver.index.models import WarcFile
from storage.base import Storage

SHOWN = 3  # keys named in a one-line message


@dataclass
class StoreSurvey:
    known: int  # WARCs the index knows as stored
    missing: list[str] = field(default_factory=list)  # of those, not in storage at all
    hidden: list[str] = field(default_factory=list)  # in storage only behind a delete marker

    @staticmethod
    def names(keys: list[str]) -> str:
        shown = ", ".join(keys[:SHOWN])
        return shown + (f" and {len(keys) - SHOWN} more" if len(keys) > SHOWN else "")


def survey(db: IndexDB, storage: Storage) -> StoreSurvey:
    """Compare the index's stored WARCs with ``storage`` (a ``with_hidden_versions`` view, to see
    what delete markers hide)."""
    listed = {info.key for info in storage.list() if info.key.endswith(".warc.gz")}
    with db.session() as session:
        known = set(session.scalars(select(WarcFile.key).where(WarcFile.state == "stored")))
    return StoreSurvey(len(known), sorted(known - listed), sorted(storage.hidden_versions()))
