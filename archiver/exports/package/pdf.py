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
import logging
import math
import multiprocessing
import os
import re
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from archiver.exports.package.combined import CombinedPdf
from archiver.exports.package.images import CapturedImage, captured_images
from archiver.exports.package.parts import CaseDocument, PackageContext, PackagePart, PartSummary
from archiver.exports.package.render import VARIANT, image_share, render, subsets_fonts_slowly, warm

LOG = logging.getLogger(__name__)
MAX_WORKERS = 8  # each worker loads WeasyPrint and its fonts; more rarely pays on a records server
LINES_PER_PAGE, CHARACTERS_PER_LINE = 62, 120  # of STYLE's page, roughly: for estimating page counts
MAX_INDENT = 8  # deeper replies stay at this indent so a long chain keeps a readable width
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


PLATFORM_NAMES = {"youtube": "YouTube", "x": "X"}


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


def _media(layout: _Layout, history: dict[str, Any], images: list[CapturedImage]) -> None:
    """Each medium with its capture count and hash, and the image itself as captured (see images.py)."""
    for media, image in zip(history.get("media", []), images, strict=True):
        captures = media.get("captures", [])
        digest = _clean(image.sha256) if image.sha256 else "not captured"
        layout.block("version", [("meta", f"Media {_clean(media.get('url'))}"),
                                 ("evidence", f"{len(captures)} capture(s); first payload SHA-256 {digest}; "
                                              f"{image.note}")])
        if image.data_uri:
            layout.raw(f'<div class="medium"><img src="{html.escape(image.data_uri, quote=True)}" '
                       f'alt="captured image, SHA-256 {html.escape(digest)}"></div>')


def compose(context: PackageContext, document: CaseDocument, first_page: int | None,
            images: list[CapturedImage] | None = None) -> tuple[str, str]:
    """The HTML and the plain text of one document; ``first_page`` is its first Bates number, if any;
    ``images`` the item's media as ``captured_images`` gives them (read from storage when not given)."""
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
    platform = _clean(history.get("platform"))
    layout.heading("h1", f"{PLATFORM_NAMES.get(platform, platform.capitalize())} {_clean(history.get('kind'))} "
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
    _media(layout, history, captured_images(context, history) if images is None else images)
    layout.raw("</body></html>")
    return "".join(layout.html), "\n".join(layout.text).strip() + "\n"


def _css_string(value: str) -> str:
    """A CSS string literal; anything but letters, digits, space, '-' and '_' is hex-escaped, so a case
    name can neither end the string nor the <style> element it sits in."""
    return '"' + "".join(c if c.isalnum() or c in " -_" else f"\\{ord(c):x} " for c in _clean(value)) + '"'


def estimate_pages(text: str, images: Sequence[CapturedImage] = ()) -> int:
    """Pages a document will fill: its text wrapped at ~120 characters, ~62 lines a page, then each image
    shown (they come last) as tall as it is drawn, on a new page when it does not fit; right nearly always."""
    lines = sum(max(1, math.ceil(len(line) / CHARACTERS_PER_LINE)) for line in text.split("\n"))
    for image in images:
        if image.size:
            tall = min(LINES_PER_PAGE, math.ceil(image_share(*image.size) * LINES_PER_PAGE))
            if lines % LINES_PER_PAGE + tall > LINES_PER_PAGE:  # an image is never split between pages
                lines += -lines % LINES_PER_PAGE
            lines += tall
    return max(1, math.ceil(lines / LINES_PER_PAGE))


@dataclass
class _Pending:
    document: CaseDocument
    markup: str
    text: str
    start: int | None  # the first Bates number it was rendered with
    estimate: int
    images: list[CapturedImage]
    future: Future[tuple[bytes, int]]


def _finished(rendered: tuple[bytes, int]) -> Future[tuple[bytes, int]]:
    future: Future[tuple[bytes, int]] = Future()
    future.set_result(rendered)
    return future


class PdfPart(PackagePart):
    """Renders in worker processes too when the case is large and the machine has more than one core.

    A document's Bates numbers depend on the pages of every document before it, so a worker
    renders with a start computed from the estimated page counts of the documents still in
    flight; when an estimate proves wrong, the documents after it are rendered again with the
    right start. The page count itself does not depend on the start, so this converges.

    The parent process is a renderer too: while the next document in order is still being
    rendered, it renders a queued one itself instead of waiting (so it works while the workers
    start, and there is one worker fewer than cores). Workers import ``render.py`` alone.
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
        self.workers = min(cpus - 1, MAX_WORKERS)  # the parent renders too

    def start(self) -> None:
        if subsets_fonts_slowly():
            LOG.warning("PDF export subsets fonts without HarfBuzz's subsetter, at about 5x the CPU; "
                        "install libharfbuzz-subset0 (HarfBuzz 4.1 or later)")
        if self.workers >= 1 and int(self.context.case.get("items") or 0) >= self.parallel_from:
            # spawn, not fork: the parent holds database connections and server threads a fork would copy.
            self.pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=warm)

    def estimate(self, text: str, images: list[CapturedImage]) -> int:
        return estimate_pages(text, images)

    def _guess(self) -> int | None:
        if self.next_page is None:
            return None
        return self.next_page + sum(p.estimate for p in self.pending)

    def add(self, document: CaseDocument) -> None:
        start = self._guess()
        images = captured_images(self.context, document.history)
        markup, text = compose(self.context, document, start, images)
        if self.pool is None:
            self._settle(document, text, render(markup))
            return
        job = _Pending(document, markup, text, start, self.estimate(text, images), images,
                       self.pool.submit(render, markup))
        self.pending.append(job)
        while len(self.pending) > 2 * self.workers + 6:  # enough queued that this process rarely has none to take
            self._next()

    def _next(self) -> None:
        job = self.pending[0]
        while not job.future.done() and self._render_queued_here():
            pass
        rendered = job.future.result()
        self.pending.popleft()
        if job.start != self.next_page:  # an estimate before it was wrong: render again with the right start
            rendered = render(compose(self.context, job.document, self.next_page, job.images)[0])
        self._settle(job.document, job.text, rendered)
        if rendered[1] != job.estimate and self.next_page is not None and self.pool is not None:
            start = self.next_page  # resubmit the documents in flight whose start is now known to be wrong
            for later in self.pending:
                if later.start != start:
                    later.future.cancel()
                    later.start, later.markup = start, compose(self.context, later.document, start, later.images)[0]
                    later.future = self.pool.submit(render, later.markup)
                start += later.estimate

    def _render_queued_here(self) -> bool:
        """Render, in this process, the first document no worker has taken yet; False if there is none."""
        for job in self.pending:
            if job.future.cancel():
                job.future = _finished(render(job.markup))
                return True
        return False

    def _settle(self, document: CaseDocument, text: str, rendered: tuple[bytes, int]) -> None:
        """Write a rendered document, in package order: its PDF, its text, its pages in the combined PDF."""
        pdf, pages = rendered
        doc_id = document.doc_id
        pdf_path = self.folder / f"{doc_id}.pdf"
        pdf_path.write_bytes(pdf)
        text_path = self.text_folder / f"{doc_id}.txt"
        text_path.write_text(text, encoding="utf-8")
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
