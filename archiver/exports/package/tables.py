"""The index of a package as tables and lines: CSV and XLSX (one row per item and version), JSONL.

Rows are written as documents pass, so a package of any size streams; the XLSX workbook is
written in openpyxl's write-only mode for the same reason. A comment starting with "=" is
shown, never run as a formula: XLSX cells are typed as text, CSV cells follow the OWASP rule
(``archiver.exports.cells``).
"""

from __future__ import annotations

import json
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from archiver.exports.cells import SafeCsvWriter
from archiver.exports.package.parts import CaseDocument, PackagePart, PartSummary

COLUMNS = ["doc_id", "item_id", "account", "platform", "platform_id", "kind", "parent_id", "url", "author",
           "posted_at", "item_state", "version", "version_state", "first_captured_at", "last_captured_at",
           "previous_last_captured_at", "text", "content_hash", "evidence_warc", "evidence_record_id",
           "evidence_offset", "evidence_sha256"]
XLSX_CELL_MAX = 32_767


def rows(document: CaseDocument) -> list[list[Any]]:
    """One row per version of the document's item, in COLUMNS order."""
    history = document.history
    found = []
    for version in history["versions"]:
        evidence = version.get("first_evidence") or {}
        found.append([document.doc_id, history["id"], history["account"], history["platform"],
                      history["platform_id"], history["kind"], history["parent_id"], history["url"],
                      history["author"], history["posted_at"], history["state"], version["seq"], version["state"],
                      version["first_observed_at"], version["last_observed_at"],
                      version["previous_last_observed_at"], version["text"], version["content_hash"],
                      evidence.get("warc"), evidence.get("record_id"), evidence.get("offset"),
                      evidence.get("sha256")])
    return found


class CsvPart(PackagePart):
    name = "csv"

    def start(self) -> None:
        self.path = self.folder / "items.csv"
        self.handle: IO[str] = self.path.open("w", encoding="utf-8-sig", newline="")
        self.writer = SafeCsvWriter(self.handle)
        self.writer.writerow(COLUMNS)
        self.lines = 0

    def add(self, document: CaseDocument) -> None:
        found = rows(document)
        self.writer.writerows(["" if value is None else value for value in row] for row in found)
        self.lines += len(found)
        self.count += 1

    def finish(self) -> PartSummary:
        self.handle.close()
        return PartSummary(self.name, [self.relative(self.path)], self.count, {"rows": self.lines})


def _cell_text(value: Any) -> str:
    text = "" if value is None else str(value)
    text = ILLEGAL_CHARACTERS_RE.sub("\ufffd", text)
    if len(text) > XLSX_CELL_MAX:  # Excel's limit; the CSV and JSONL keep the whole text
        text = text[: XLSX_CELL_MAX - 40] + " …[cut: see items.csv / items.jsonl]"
    return text


class XlsxPart(PackagePart):
    name = "xlsx"

    def start(self) -> None:
        self.path = self.folder / "items.xlsx"
        self.book = Workbook(write_only=True)
        self.sheet = self.book.create_sheet("items")
        self.sheet.freeze_panes = "A2"
        self.sheet.append(COLUMNS)
        self.lines = 0

    def _row(self, values: list[Any]) -> list[WriteOnlyCell]:
        cells = []
        for value in values:
            cell = WriteOnlyCell(self.sheet, value=value if isinstance(value, int) else _cell_text(value))
            if not isinstance(value, int):
                cell.data_type = "s"  # never a formula, whatever the text starts with
            cells.append(cell)
        return cells

    def add(self, document: CaseDocument) -> None:
        for row in rows(document):
            self.sheet.append(self._row(row))
            self.lines += 1
        self.count += 1

    def finish(self) -> PartSummary:
        self.book.save(self.path)
        return PartSummary(self.name, [self.relative(self.path)], self.count, {"rows": self.lines})


class JsonLinesPart(PackagePart):
    """Normalized items, one per line: the item's history (versions, evidence, media) and its thread."""

    name = "jsonl"

    def start(self) -> None:
        self.path = self.folder / "items.jsonl"
        self.handle: IO[str] = self.path.open("w", encoding="utf-8")

    def add(self, document: CaseDocument) -> None:
        line = {"doc_id": document.doc_id, **document.history, "context": document.context}
        self.handle.write(json.dumps(line, ensure_ascii=False, sort_keys=True, default=str) + "\n")
        self.count += 1

    def finish(self) -> PartSummary:
        self.handle.close()
        return PartSummary(self.name, [self.relative(self.path)], self.count)
