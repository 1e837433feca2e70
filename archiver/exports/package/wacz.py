"""The WACZ part: the case's evidence as a web archive that replays in pywb or ReplayWeb.page.

As documents pass, the part keeps only where their records lie — (WARC key, offset, length)
of every version's first and last evidence, the request behind each, each media capture and,
for a revisit, the record holding its payload — a set of small tuples, so a case of ten
thousand items costs a few megabytes. ``finish`` writes ``data/wacz/<case>.wacz`` with the
shared writer, and says which stored WARCs the records came from and their SHA-256 as the
index knows them, for the custody record.
"""

from __future__ import annotations

import re
from typing import Any

from archiver.exports.package.parts import CaseDocument, PackagePart, PartSummary
from archiver.exports.wacz import Span, evidence_spans, revisit_originals, write_wacz
from archiver.items import history_evidence, source_warcs

TITLE_WORDS = 80  # characters of the item's text in a page title


def safe_name(name: str) -> str:
    """A case name as a file name: 'PRR 2026/114' → 'PRR_2026_114'.

    >>> safe_name("PRR-2026-114")
    'PRR-2026-114'
    """
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "case"


def page_title(history: dict[str, Any]) -> str:
    """'post city-fb:123_456: Main Street project: construction…' — what a page of this item shows."""
    text = next((v["text"] for v in reversed(history.get("versions", [])) if v.get("text")), "")
    text = " ".join(text.split())
    if len(text) > TITLE_WORDS:
        text = text[:TITLE_WORDS - 1] + "…"
    label = f"{history.get('kind', 'item')} {history.get('id') or history.get('platform_id', '')}".strip()
    return f"{label}: {text}" if text else label

class WaczPart(PackagePart):
    name = "wacz"

    def start(self) -> None:
        self.spans: set[Span] = set()
        self.titles: dict[Span, str] = {}
        self.revisits: set[str] = set()

    def add(self, document: CaseDocument) -> None:
        self.count += 1
        title = page_title(document.history)
        for evidence in history_evidence(document.history):
            spans = evidence_spans(evidence)
            self.spans.update(spans)
            self.titles.setdefault(spans[0], title)  # a listing shows many items: the first names it
            if evidence["record_type"] == "revisit":
                self.revisits.add(evidence["record_id"])

    def finish(self) -> PartSummary:
        # A revisit holds no payload; replay needs the record that does, and the request for it.
        for original in revisit_originals(self.context.session, self.revisits).values():
            self.spans.update(evidence_spans(original))
        case = self.context.case
        out = self.folder / f"{safe_name(case['name'])}.wacz"
        description = {"agency": self.context.agency, "case": case["name"], "kind": case.get("kind"),
                       "items": self.count, "exported_at": self.context.exported_at.isoformat(),
                       "exported_by": self.context.exported_by, "redacted_package": self.context.redacting}
        package = write_wacz(self.context.storage, self.spans, out, software=self.context.software,
                             title=f"{self.context.agency}: records of {case['name']}", description=description,
                             titles=self.titles)
        keys = {key for key, _, _ in self.spans}
        return PartSummary(self.name, files=[self.relative(out)], documents=self.count, details={
            "records": package.records, "sha256": package.sha256, "bytes": package.size,
            "source_warcs": source_warcs(self.context.session, keys),
            # Replay shows what was captured: a redacted package still holds the records as kept.
            "redacted": False})
