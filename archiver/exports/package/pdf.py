"""The readable part of a package: one PDF/A per document, the item in its thread, every version.

Each document is rendered with WeasyPrint from HTML written here (every platform string is
escaped) into ``data/pdf/DOC000001.pdf``, declared PDF/A-3b with its DejaVu fonts embedded,
and its words into ``data/text/DOC000001.txt`` from the same layout, so the load files' text
matches the page. A deleted or hidden item is never shown as if it were live: it is marked,
with its last words and the two observed times its change lies between.

For a legal production every page carries a Bates number at the bottom right, continuous
across documents in package order. The number is the page counter itself: each document's
first page resets it to where the previous document ended, and a ``@counter-style`` pads it,
so one render per document suffices. ``combined.pdf`` (``combined.py``) is the per-document
files appended page by page, so its pages carry the very same numbers.
"""

from __future__ import annotations

import html
import io
import math
import multiprocessing
import os
import re
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

from archiver.exports.package.combined import CombinedPdf
from archiver.exports.package.parts import CaseDocument, PackageContext, PackagePart, PartSummary

VARIANT = "pdf/a-3b"
MAX_WORKERS = 8  # each worker loads WeasyPrint and its fonts; more rarely pays on a records server
MAX_INDENT = 8  # deeper replies stay at this indent so a long chain keeps a readable width
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

STYLE = """
@page { size: letter; margin: 16mm 16mm 18mm 16mm;
        @bottom-left { font-size: 8pt; color: #444; }
        @bottom-right { font-size: 9pt; font-weight: bold; } }
html { font-family: "DejaVu Sans", sans-serif; font-size: 9pt; line-height: 1.3; }
body { margin: 0; }
header { border-bottom: 1.5pt solid #000; padding-bottom: 3pt; margin-bottom: 6pt; }
header .agency { font-size: 11pt; font-weight: bold; }
h1 { font-size: 12pt; margin: 4pt 0; }
h2 { font-size: 10.5pt; margin: 10pt 0 4pt; border-bottom: 0.5pt solid #888; }
table.facts { border-collapse: collapse; width: 100%; table-layout: fixed; }
table.facts th { text-align: left; width: 28%; vertical-align: top; padding: 1pt 4pt 1pt 0; font-weight: bold; }
table.facts td { padding: 1pt 0; overflow-wrap: break-word; }
.node, .version, .note { white-space: pre-wrap; overflow-wrap: break-word; }
.node { break-inside: avoid; }
.node { border-left: 1pt solid #bbb; padding: 2pt 0 2pt 5pt; margin: 3pt 0; }
.node.focus { border-left: 3pt solid #000; background: #fff4c2; }
.meta { color: #333; font-size: 8pt; }
.mark { font-weight: bold; color: #a00000; }
.version { border: 0.5pt solid #999; padding: 3pt 5pt; margin: 4pt 0; }
.evidence { font-size: 7.5pt; color: #333; }
.note { font-style: italic; }
"""


def when(value: str | None) -> str:
    """An ISO time as the documents print it: '2026-03-01 14:03:12 UTC', or 'unknown'."""
    if not value:
        return "unknown"
    moment = datetime.fromisoformat(value)
    if moment.utcoffset() is None or moment.utcoffset().total_seconds() == 0:  # type: ignore[union-attr]
        return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return moment.isoformat(sep=" ")


def marker(node: dict[str, Any]) -> str:
    """What a thread node's state says, with the two times its change lies between; '' if live."""
    state, began, before = node.get("state"), node.get("state_first_observed_at"), node.get("previous_last_observed_at")
    if state == "deleted":
        return f"[DELETED — last seen {when(before)}; deletion observed {when(began)}]"
    if state == "hidden":
        if before:
            return f"[HIDDEN by the page — last seen visible {when(before)}; hidden observed {when(began)}]"
        return f"[HIDDEN by the page — already hidden when first observed {when(began)}]"
    if state == "unavailable":
        return f"[UNAVAILABLE — last seen {when(before)}; unavailable observed {when(began)}]"
    if state == "edited":
        return f"[EDITED — previous wording last seen {when(before)}; edit observed {when(began)}]"
    return ""


def _clean(value: Any) -> str:
    return CONTROL.sub("\ufffd", "" if value is None else str(value))


class _Layout:
    """Writes the same content twice: as HTML for the PDF and as plain text for the load files."""

    def __init__(self) -> None:
        self.html: list[str] = []
        self.text: list[str] = []

    def raw(self, markup: str) -> None:
        self.html.append(markup)

    def heading(self, tag: str, words: str) -> None:
        self.html.append(f"<{tag}>{html.escape(words)}</{tag}>")
        self.text.extend(["", words.upper() if tag == "h2" else words])

    def facts(self, rows: list[tuple[str, str]]) -> None:
        self.html.append('<table class="facts">')
        for label, value in rows:
            shown = html.escape(value)
            if value.startswith(("https://", "http://")):
                shown = f'<a href="{html.escape(value, quote=True)}">{shown}</a>'
            self.html.append(f"<tr><th>{html.escape(label)}</th><td>{shown}</td></tr>")
            self.text.append(f"{label}: {value}")
        self.html.append("</table>")

    def block(self, css: str, lines: list[tuple[str, str]], indent: int = 0) -> None:
        """A bordered block of (class, words) lines, indented ``indent`` levels."""
        style = f' style="margin-left:{min(indent, MAX_INDENT) * 12}pt"' if indent else ""
        # One element per block, its lines kept apart by pre-wrapped line breaks: WeasyPrint's time
        # goes mostly into styling elements, so fewer elements is faster rendering.
        shown = [html.escape(words) if kind == "text" else f'<span class="{kind}">{html.escape(words)}</span>'
                 for kind, words in lines]
        self.html.append(f'<div class="{css}"{style}>' + "\n".join(shown) + "</div>")
        pad = "    " * indent
        for _kind, words in lines:
            self.text.extend(pad + line for line in words.split("\n"))
        self.text.append("")


def _node_lines(node: dict[str, Any], label: str = "") -> list[tuple[str, str]]:
    meta = f"{label}{_clean(node.get('kind'))} by {_clean(node.get('author')) or 'unknown author'}, " \
           f"posted {when(node.get('posted_at'))} — {_clean(node.get('state'))}"
    lines = [("meta", meta)]
    if marker(node):
        lines.append(("mark", marker(node)))
    lines.append(("text", _clean(node.get("text")) or "(no text)"))
    if node.get("url"):
        lines.append(("meta", _clean(node["url"])))
    return lines


def _thread(layout: _Layout, context: dict[str, Any]) -> None:
    layout.heading("h2", f"Thread in context ({context.get('count', 0)} comment(s) and replies under this item)")
    depth = 0
    for depth, node in enumerate(context.get("above", [])):
        layout.block("node", _node_lines(node, "Above: "), depth)
    depth = len(context.get("above", []))
    layout.block("node focus", _node_lines(context["item"], "THIS ITEM: "), depth)
    stack = [(node, depth + 1) for node in reversed(context.get("replies", []))]
    while stack:  # depth-first, without recursion: a reply chain may be thousands deep
        node, level = stack.pop()
        layout.block("node", _node_lines(node, "Reply: "), level)
        stack.extend((child, level + 1) for child in reversed(node.get("replies", [])))
    if context.get("truncated"):
        layout.block("note", [("note", "The thread is larger than shown here; the package's data files hold it all.")])


def _evidence(label: str, evidence: dict[str, Any] | None) -> tuple[str, str]:
    if not evidence:
        return ("evidence", f"{label}: none recorded")
    return ("evidence", f"{label}: WARC {_clean(evidence.get('warc'))}, record {_clean(evidence.get('record_id'))}, "
                        f"offset {evidence.get('offset')}, captured {when(evidence.get('captured_at'))}, "
                        f"payload SHA-256 {_clean(evidence.get('sha256'))}")


_NO_TEXT = {"deleted": "(no text: gone from the platform; its last words are in the version before)",
            "unavailable": "(no text: not served by the platform; its last words are in the version before)"}


def _versions(layout: _Layout, history: dict[str, Any]) -> None:
    versions = history.get("versions", [])
    layout.heading("h2", f"Versions of this item ({len(versions)})")
    for version in versions:
        first, last, before = (version.get("first_observed_at"), version.get("last_observed_at"),
                               version.get("previous_last_observed_at"))
        change = (f"Changed between {when(before)} (previous version last seen) and {when(first)} (this one first seen)"
                  if before else f"First observed {when(first)}")
        lines = [("meta", f"Version {version.get('seq')} — {_clean(version.get('state'))}"),
                 ("meta", f"Posted {when(history.get('posted_at'))}; first observed (captured) {when(first)}; "
                          f"last observed {when(last)}"),
                 ("meta", change),
                 ("text", _clean(version.get("text")) or _NO_TEXT.get(version.get("state"), "(no text)")),
                 _evidence("First evidence", version.get("first_evidence")),
                 _evidence("Last evidence", version.get("last_evidence"))]
        layout.block("version", lines)
    for media in history.get("media", []):
        captures = media.get("captures", [])
        digest = _clean(captures[0].get("sha256")) if captures else "not captured"
        layout.block("version", [("meta", f"Media {_clean(media.get('url'))}"),
                                 ("evidence", f"{len(captures)} capture(s); first payload SHA-256 {digest}")])


def compose(context: PackageContext, document: CaseDocument, first_page: int | None) -> tuple[str, str]:
    """The HTML and the plain text of one document; ``first_page`` is its first Bates number, if any."""
    history, case = document.history, context.case
    layout = _Layout()
    title = f"{case.get('name')} {document.doc_id}"
    bates = context.bates
    if bates is not None and first_page is not None:
        # The page counter *is* the Bates number: padded by a counter style, reset on the first page.
        page_css = (f'@counter-style bates {{ system: extends decimal; pad: {bates.padding} "0"; }}'
                    f"@page {{ @bottom-right {{ content: {_css_string(bates.prefix)} counter(page, bates); }} }}"
                    f"@page :first {{ counter-reset: page {first_page}; }}")
    else:
        page_css = '@page { @bottom-right { content: "Page " counter(page) " of " counter(pages); } }'
    page_css += f"@page {{ @bottom-left {{ content: {_css_string(title)}; }} }}"
    layout.raw(f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
               f"<style>{page_css}</style></head><body>")
    kind = "Legal production" if case.get("kind") == "production" else "Records request"
    layout.raw(f'<header><div class="agency">{html.escape(context.agency)}</div>'
               f"<div>{html.escape(kind)} {html.escape(_clean(case.get('name')))} — document {document.doc_id}</div>"
               "</header>")
    layout.text.extend([_clean(context.agency), f"{kind} {_clean(case.get('name'))} — document {document.doc_id}"])
    layout.heading("h1", f"{_clean(history.get('platform')).capitalize()} {_clean(history.get('kind'))} "
                         f"by {_clean(history.get('author')) or 'unknown author'}")
    current = _clean(history.get("state"))
    state_mark = marker(document.context.get("item", {}))
    layout.facts([
        ("Account", f"{_clean(history.get('account'))} ({_clean(history.get('platform'))})"),
        ("Kind", _clean(history.get("kind"))), ("Author", _clean(history.get("author")) or "unknown"),
        ("Posted", when(history.get("posted_at"))), ("Platform link", _clean(history.get("url")) or "none"),
        ("Platform id", _clean(history.get("platform_id"))),
        ("Current state", f"{current} {state_mark}".strip()),
        ("First / last observed", f"{when(history.get('first_seen_at'))} / {when(history.get('last_seen_at'))}"),
        ("Exported", f"{when(context.exported_at.isoformat())} by {context.exported_by} "
                     f"with {context.software}"),
    ])
    if document.redactions:
        layout.block("note", [("note", f"Redacted: {len(document.redactions)} passage(s) replaced before export.")])
    _thread(layout, document.context)
    _versions(layout, history)
    layout.raw("</body></html>")
    return "".join(layout.html), "\n".join(layout.text).strip() + "\n"


def _css_string(value: str) -> str:
    """A CSS string literal; anything but letters, digits, space, '-' and '_' is hex-escaped, so a case
    name can neither end the string nor the <style> element it sits in."""
    return '"' + "".join(c if c.isalnum() or c in " -_" else f"\\{ord(c):x} " for c in _clean(value)) + '"'


_RENDERER: tuple[FontConfiguration, CSS] | None = None


def render(markup: str) -> tuple[bytes, int]:
    """One document's HTML as PDF/A bytes, and its page count; fonts and style are set up once per process."""
    global _RENDERER
    if _RENDERER is None:
        fonts = FontConfiguration()
        _RENDERER = (fonts, CSS(string=STYLE, font_config=fonts))
    fonts, style = _RENDERER
    rendered = HTML(string=markup).render(stylesheets=[style], font_config=fonts)
    out = io.BytesIO()
    rendered.write_pdf(out, pdf_variant=VARIANT)
    return out.getvalue(), len(rendered.pages)


def estimate_pages(text: str) -> int:
    """Pages a document's text will fill (wrapped at ~120 characters, ~62 lines a page); right nearly always."""
    lines = sum(max(1, math.ceil(len(line) / 120)) for line in text.split("\n"))
    return max(1, math.ceil(lines / 62))


@dataclass
class _Pending:
    document: CaseDocument
    text: str
    start: int | None  # the first Bates number it was rendered with
    estimate: int
    future: Future[tuple[bytes, int]] | None = None


class PdfPart(PackagePart):
    """Renders in worker processes when the case is large and the machine has cores to spare.

    A document's Bates numbers depend on the pages of every document before it, so a worker
    renders with a start computed from the estimated page counts of the documents still in
    flight; when an estimate proves wrong, the documents after it are rendered again with the
    right start. The page count itself does not depend on the start, so this converges.
    """

    name = "pdf"
    parallel_from: ClassVar[int] = 100  # documents; below this, starting worker processes costs more than it saves
    volume_pages: ClassVar[int] = 2_000  # pages per volume of the combined PDF (see combined.py)

    def __init__(self, context: PackageContext):
        super().__init__(context)
        self.text_folder = context.data_dir / "text"
        self.text_folder.mkdir(parents=True, exist_ok=True)
        self.files: list[str] = []
        self.pages = 0
        self.combined = CombinedPdf(self.folder, str(context.case.get("name")), context.software, self.volume_pages)
        self.next_page = context.bates.start if context.bates else None
        self.pending: deque[_Pending] = deque()
        self.pool: ProcessPoolExecutor | None = None
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        self.workers = min(cpus, MAX_WORKERS)

    def start(self) -> None:
        if self.workers > 1 and int(self.context.case.get("items") or 0) >= self.parallel_from:
            # spawn, not fork: the parent holds database connections and server threads a fork would copy.
            self.pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))

    def estimate(self, text: str) -> int:
        return estimate_pages(text)

    def _guess(self) -> int | None:
        if self.next_page is None:
            return None
        return self.next_page + sum(p.estimate for p in self.pending)

    def add(self, document: CaseDocument) -> None:
        start = self._guess()
        markup, text = compose(self.context, document, start)
        job = _Pending(document, text, start, self.estimate(text))
        if self.pool is None:
            self._settle(job, render(markup))
            return
        job.future = self.pool.submit(render, markup)
        self.pending.append(job)
        while len(self.pending) > 2 * self.workers + 2:
            self._next()

    def _next(self) -> None:
        job = self.pending.popleft()
        assert job.future is not None
        rendered = job.future.result()
        if job.start != self.next_page:  # an estimate before it was wrong: render again with the right start
            rendered = render(compose(self.context, job.document, self.next_page)[0])
        self._settle(job, rendered)
        if rendered[1] != job.estimate and self.next_page is not None:
            start = self.next_page  # resubmit the documents in flight whose start is now known to be wrong
            for later in self.pending:
                if later.start != start and self.pool is not None and later.future is not None:
                    later.future.cancel()
                    later.start = start
                    later.future = self.pool.submit(render, compose(self.context, later.document, start)[0])
                start += later.estimate

    def _settle(self, job: _Pending, rendered: tuple[bytes, int]) -> None:
        """Write a rendered document, in package order: its PDF, its text, its pages in the combined PDF."""
        pdf, pages = rendered
        doc_id = job.document.doc_id
        pdf_path = self.folder / f"{doc_id}.pdf"
        pdf_path.write_bytes(pdf)
        text_path = self.text_folder / f"{doc_id}.txt"
        text_path.write_text(job.text, encoding="utf-8")
        self.combined.add(pdf, pages)
        if self.context.bates is not None and self.next_page is not None:
            self.context.bates_ranges[doc_id] = {
                "first": self.context.bates.label(self.next_page),
                "last": self.context.bates.label(self.next_page + pages - 1), "pages": pages}
            self.next_page += pages
        self.files += [self.relative(pdf_path), self.relative(text_path)]
        self.pages += pages
        self.count += 1

    def finish(self) -> PartSummary:
        try:
            while self.pending:
                self._next()
        finally:
            if self.pool is not None:
                self.pool.shutdown(cancel_futures=True)
        self.files += [self.relative(path) for path in self.combined.close()]
        details: dict[str, Any] = {"pages": self.pages, "variant": VARIANT}
        if self.context.bates is not None and self.count:
            ranges = list(self.context.bates_ranges.values())
            details["bates"] = {"first": ranges[0]["first"], "last": ranges[-1]["last"]}
        return PartSummary(self.name, files=self.files, documents=self.count, details=details)

    def abort(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
