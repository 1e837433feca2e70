"""What every part of a package shares: the context it is written in, and the part interface.

A package is written in one pass over the case's documents: the builder hands each
``CaseDocument`` to every selected part in turn (``add``), then asks each for its summary
(``finish``). Parts write into their own folder under the bag's ``data/`` and keep no more
than one document in memory, so a package of any size streams.

Example of a part (the JSON Lines part is this, plus a digest)::

    class LinesPart(PackagePart):
        name = "jsonl"

        def start(self) -> None:
            self.handle = (self.folder / "items.jsonl").open("w", encoding="utf-8")

        def add(self, document: CaseDocument) -> None:
            self.handle.write(json.dumps(document.history) + "\\n")

        def finish(self) -> PartSummary:
            self.handle.close()
            return PartSummary(self.name, files=["jsonl/items.jsonl"], documents=self.count)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy.orm import Session

from storage.base import Storage


@dataclass(frozen=True)
class BatesOptions:
    """Bates numbering: ``PREFIX`` + the page number zero-padded to ``padding`` digits, from ``start``."""

    prefix: str = "ARCH"
    start: int = 1
    padding: int = 6

    def label(self, number: int) -> str:
        """>>> BatesOptions("CITY", 1, 6).label(42)
        'CITY000042'
        """
        return f"{self.prefix}{number:0{self.padding}d}"


@dataclass
class PackageContext:
    """Everything a part may need besides the documents themselves."""

    session: Session
    storage: Storage
    data_dir: Path  # the bag's data/ folder
    agency: str
    case: dict[str, Any]  # archiver.cases.register.summary()
    exported_at: datetime
    exported_by: str
    software: str  # "gov-social-archiver/0.1.0"
    redacting: bool = False
    bates: BatesOptions | None = None  # set for a legal production
    # Shared between parts: the PDF part fills in each document's Bates range and page count
    # (doc_id → {"first": "CITY000001", "last": "CITY000004", "pages": 4}) for the load files.
    bates_ranges: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class PartSummary:
    name: str
    files: list[str]  # paths relative to data/
    documents: int = 0
    details: dict[str, Any] = field(default_factory=dict)  # e.g. records, pages, source WARCs


@dataclass
class CaseDocument:
    """One item of the case, ready to write: its history, its context, and what was redacted.

    ``history`` is ``archiver.items.item_history`` (versions with evidence, media); ``context``
    is the thread it belongs to (see ``documents.context``). When the package is redacted, both
    are already redacted and ``redactions`` says what was replaced where.
    """

    number: int  # 1-based position in the package
    doc_id: str  # "DOC000001": file names and load-file ids
    history: dict[str, Any]
    context: dict[str, Any]
    redactions: list[dict[str, Any]] = field(default_factory=list)


class PackagePart(ABC):
    """One selectable part of a package (pdf, csv, xlsx, jsonl, native, wacz)."""

    name: ClassVar[str]

    def __init__(self, context: PackageContext):
        self.context = context
        self.folder = context.data_dir / self.name
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def start(self) -> None:  # noqa: B027 - most parts need no set-up
        """Open what the part writes into; called once before the first document."""

    @abstractmethod
    def add(self, document: CaseDocument) -> None:
        """Write one document; keep nothing of it afterwards beyond counters and digests."""

    @abstractmethod
    def finish(self) -> PartSummary:
        """Close files and say what was written."""

    def abort(self) -> None:  # noqa: B027 - most parts hold nothing that outlives the process
        """The package failed: release what the part holds (files are removed by the builder)."""

    def relative(self, path: Path) -> str:
        return path.relative_to(self.context.data_dir).as_posix()
