"""PDFs rendered partly in worker processes and partly in the package's own process are the same
PDF/A files as those rendered in order in one process: fonts embedded in every file, the same words
on the same pages, the same Bates numbers. And page estimates count the images a document shows."""

from __future__ import annotations

import base64
import io
import multiprocessing
import re
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pypdf import PdfReader

from archiver.exports.package.images import CapturedImage
from archiver.exports.package.parts import BatesOptions, CaseDocument, PackageContext, PartSummary
from archiver.exports.package.pdf import PdfPart, compose, estimate_pages
from archiver.exports.package.render import render, warm
from case_helpers import main_street_case
from conftest import Workspace
from part_helpers import busy_thread, write_parts


def _held_back(release: Any) -> None:
    """A worker's initializer that waits for the test's word before the worker takes any document."""
    release.wait(120)
    warm()


class HeldBackWorkerPart(PdfPart):
    """The part with one worker that cannot start until nothing is left for this process to take:
    the documents queued behind the first two (those the pool has handed to its worker) are
    rendered here, the first two by the worker."""

    parallel_from = 1

    def start(self) -> None:
        spawn = multiprocessing.get_context("spawn")
        self.release = spawn.Event()
        self.workers, self.rendered_here = 1, 0
        self.pool = ProcessPoolExecutor(1, mp_context=spawn, initializer=_held_back, initargs=(self.release,))

    def _render_queued_here(self) -> bool:
        took = super()._render_queued_here()
        self.rendered_here += took
        if not took:
            self.release.set()
        return took

    def finish(self) -> PartSummary:
        summary = super().finish()
        summary.details["rendered_here"] = self.rendered_here
        return summary


def _fonts_embedded(reader: PdfReader) -> bool:
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            descriptor = font.get_object()["/DescendantFonts"][0].get_object()["/FontDescriptor"]
            if "/FontFile2" not in descriptor and "/FontFile" not in descriptor:
                return False
    return True


def _pdfa(reader: PdfReader) -> bool:
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data()
    return (b'pdfaid:part="3"' in xmp and b'pdfaid:conformance="B"' in xmp
            and "/OutputIntents" in reader.trailer["/Root"] and len(reader.trailer["/ID"]) == 2)


def _words(reader: PdfReader) -> list[str]:
    return [re.sub(r"Exported .*", "", page.extract_text()) for page in reader.pages]  # the export times differ


def test_documents_rendered_here_and_in_a_worker_are_the_pdfs_of_one_process(workspace: Workspace,
                                                                            tmp_path: Path) -> None:
    with main_street_case(workspace) as case:
        busy_thread(case, comments=12)  # the post's document runs over two pages
        serial, _ = write_parts(workspace, case.case, tmp_path / "serial", [PdfPart], BatesOptions("W", 7, 5))
        mixed, [summary] = write_parts(workspace, case.case, tmp_path / "mixed", [HeldBackWorkerPart],
                                       BatesOptions("W", 7, 5))
    assert mixed.bates_ranges == serial.bates_ranges and summary.documents == 5
    assert max(r["pages"] for r in serial.bates_ranges.values()) > 1
    # The pool hands the worker the first document or two (before it even starts); the rest are rendered here.
    assert 3 <= summary.details["rendered_here"] <= 5
    names = [f"DOC{n:06d}.pdf" for n in range(1, 6)] + ["combined.pdf"]
    for name in names:
        one, other = (PdfReader(root / "pdf" / name) for root in (tmp_path / "serial", tmp_path / "mixed"))
        assert _words(one) == _words(other), name
        assert _fonts_embedded(other) and _pdfa(other), name
    for number in range(1, 6):  # the text files say what the PDFs say, whoever rendered them
        text = f"text/DOC{number:06d}.txt"
        assert ((tmp_path / "serial" / text).read_text().split("Exported")[0]
                == (tmp_path / "mixed" / text).read_text().split("Exported")[0])


def _photo(width: int, height: int) -> CapturedImage:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (40, 90, 160)).save(out, "PNG")
    uri = "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")
    return CapturedImage("https://cdn.example/photo.png", "0" * 64, uri, "captured; shown from the WARC",
                         (width, height))


def test_page_estimates_count_the_images_a_document_shows(tmp_path: Path) -> None:
    node = {"kind": "post", "state": "visible", "author": "City", "posted_at": None, "text": "Road work.",
            "replies": []}
    context = PackageContext(session=None, storage=None, data_dir=tmp_path, agency="City",  # type: ignore[arg-type]
                             case={"name": "PRR-1"}, exported_at=datetime.now(UTC), exported_by="clerk",
                             software="gov-social-archiver/0.1.0", bates=BatesOptions("E", 1, 4))
    for photos in ([], [_photo(64, 48)], [_photo(1200, 1600)], [_photo(1200, 1600), _photo(3000, 2000)],
                   [_photo(900, 3000), _photo(400, 300), _photo(2400, 1800)]):
        history = {"account": "city", "platform": "facebook", "kind": "post", "state": "visible", "versions": [],
                   "media": [{"url": photo.url, "captures": [{"sha256": photo.sha256}]} for photo in photos]}
        document = CaseDocument(1, "DOC000001", history, {"above": [], "item": node, "replies": [], "count": 0})
        markup, text = compose(context, document, 1, photos)
        assert estimate_pages(text, photos) == render(markup)[1], [photo.size for photo in photos]


def test_a_missing_harfbuzz_subsetter_is_named_once_a_production(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    context = PackageContext(session=None, storage=None, data_dir=tmp_path, agency="City",  # type: ignore[arg-type]
                             case={"name": "PRR-1", "items": 1}, exported_at=datetime.now(UTC), exported_by="clerk",
                             software="gov-social-archiver/0.1.0")
    PdfPart(context).start()
    assert "libharfbuzz-subset0" not in caplog.text  # this machine has it (.ci/run installs it)
    from weasyprint.text import ffi

    monkeypatch.setattr(ffi, "harfbuzz_subset", None)  # as WeasyPrint finds a system without it
    PdfPart(context).start()
    assert "install libharfbuzz-subset0" in caplog.text
