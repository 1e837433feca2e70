"""The PDF part: each item readable in its thread, deleted and hidden ones marked with both times, Bates numbers."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pypdfium2
from pypdf import PdfReader

from archiver.exports.package.images import CapturedImage
from archiver.exports.package.parts import BatesOptions, CaseDocument, PackageContext
from archiver.exports.package.pdf import PdfPart
from archiver.index.models import Item, Version
from case_helpers import main_street_case
from conftest import Workspace
from graph_helpers import TOKEN
from part_helpers import busy_thread, write_parts


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _flat(text: str) -> str:
    """Extracted text with line wrapping undone, so phrases can be searched whole."""
    return re.sub(r"\s+", " ", text)


def _text(path: Path) -> str:
    return _flat(" ".join(page.extract_text() for page in PdfReader(path).pages))


def _document_of(data: Path, words: str) -> str:
    """The id of the document whose title line names ``words`` (the text files start with the same header)."""
    for path in sorted((data / "text").glob("DOC*.txt")):
        if words in path.read_text(encoding="utf-8").splitlines()[3]:
            return path.stem
    raise AssertionError(f"no document titled {words!r}")


def test_each_item_is_a_pdf_in_its_thread_with_states_times_and_bates(workspace: Workspace, tmp_path: Path) -> None:
    data = tmp_path / "bag" / "data"
    with main_street_case(workspace) as case:
        busy_thread(case)  # the post's document runs over several pages: Bates numbers must carry on
        context, [summary] = write_parts(workspace, case.case, data, [PdfPart], BatesOptions("CITY", 41, 6))
        index = workspace.index()
        with index.session() as session:
            deleted = session.query(Item).filter_by(platform_id=case.deleted_id).one()
            last_live, gone = session.query(Version).filter_by(item_id=deleted.id).order_by(Version.seq).all()
            deletion = (_utc(last_live.last_observed_at), _utc(gone.first_observed_at))
        index.dispose()

    assert summary.documents == 5 and "pdf/combined.pdf" in summary.files
    assert all((data / name).is_file() for name in summary.files)

    # The deleted comment: marked deleted, its last words kept, between the last time seen and the deletion seen.
    doc = _document_of(data, "comment by Ben Carter")
    words = _text(data / "pdf" / f"{doc}.pdf")
    assert f"[DELETED — last seen {deletion[0]}; deletion observed {deletion[1]}]" in words
    assert "This Main Street plan is a waste of money" in words and "(no text: gone from the platform" in words
    assert "Main Street project: construction starts Monday" in words  # the post it answered is shown above it
    assert f"Changed between {deletion[0]}" in words and gone.first_evidence_id is not None
    assert re.search(r"payload SHA-256 [0-9a-f]{64}", words) and "WARC facebook/city-fb/" in words

    links = {a.get_object()["/A"]["/URI"] for a in PdfReader(data / "pdf" / f"{doc}.pdf").pages[0]["/Annots"]}
    assert links == {f"https://www.facebook.com/{case.page.page_id}/posts/{case.post_id.split('_')[1]}/"
                     f"?comment_id={case.deleted_id.split('_')[1]}"}  # the platform link is clickable (a line or two)

    # The post: its whole thread, the hidden comment marked as hidden, the deleted one as deleted.
    post = _text(data / "pdf" / f"{_document_of(data, 'post by City of Springfield')}.pdf")
    assert "THIS ITEM: post by City of Springfield" in post
    assert "[HIDDEN by the page" in post and "Main Street contractor is a crook" in post
    assert "[DELETED — last seen" in post and "Yes, a lane stays open for bikes." in post
    assert "City of Testing" in post and "PRR-2026-114" in post

    # Bates: every page, bottom right, continuous across documents; the combined PDF carries the same numbers.
    expected, labels = 41, []
    for number in range(1, 6):
        doc_id = f"DOC{number:06d}"
        pages = PdfReader(data / "pdf" / f"{doc_id}.pdf").pages
        found = [re.findall(r"CITY\d{6}", page.extract_text())[-1] for page in pages]
        assert found == [f"CITY{n:06d}" for n in range(expected, expected + len(pages))]
        assert context.bates_ranges[doc_id] == {"first": found[0], "last": found[-1], "pages": len(pages)}
        labels += found
        expected += len(pages)
    assert max(r["pages"] for r in context.bates_ranges.values()) >= 3
    combined = PdfReader(data / "pdf" / "combined.pdf")
    assert [re.findall(r"CITY\d{6}", page.extract_text())[-1] for page in combined.pages] == labels
    assert summary.details["bates"] == {"first": "CITY000041", "last": labels[-1]}

    # The label sits at the bottom right of every page: the text in that corner is the label, and only it.
    rendered = pypdfium2.PdfDocument(str(data / "pdf" / "combined.pdf"))
    for number, label in enumerate(labels):
        page = rendered[number]
        width, _height = page.get_size()
        corner = page.get_textpage().get_text_bounded(left=width / 2, bottom=0, right=width, top=45)
        assert corner.strip() == label
    rendered.close()

    # PDF/A declared, in the per-document files and in the combined one; fonts embedded.
    for path in (data / "pdf" / "DOC000001.pdf", data / "pdf" / "combined.pdf"):
        reader = PdfReader(path)
        xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data()
        assert b'pdfaid:part="3"' in xmp and b'pdfaid:conformance="B"' in xmp
        assert "/OutputIntents" in reader.trailer["/Root"] and len(reader.trailer["/ID"]) == 2
        fonts = reader.pages[0]["/Resources"]["/Font"]
        assert all("/FontFile2" in f.get_object()["/DescendantFonts"][0].get_object()["/FontDescriptor"]
                   or "/FontFile" in f.get_object()["/DescendantFonts"][0].get_object()["/FontDescriptor"]
                   for f in fonts.values())

    # Page 1 rendered is not blank: dark ink on a white page, in the header and in the thread.
    first = pypdfium2.PdfDocument(str(data / "pdf" / "DOC000001.pdf"))
    image = first[0].render(scale=1).to_pil().convert("L")
    first.close()
    dark = sum(image.histogram()[:128])
    assert 2_000 < dark < image.width * image.height // 4

    # The text file says what the PDF says.
    text = (data / "text" / f"{doc}.txt").read_text(encoding="utf-8")
    assert f"[DELETED — last seen {deletion[0]}; deletion observed {deletion[1]}]" in text

    # No secret in any byte written, nor in any page's words.
    for path in data.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes()
    assert TOKEN not in _text(data / "pdf" / "combined.pdf")


def test_a_request_without_bates_numbers_pages_each_document(workspace: Workspace, tmp_path: Path) -> None:
    data = tmp_path / "data"
    with main_street_case(workspace) as case:
        context, [summary] = write_parts(workspace, case.case, data, [PdfPart])
    assert context.bates_ranges == {} and "bates" not in summary.details
    first = PdfReader(data / "pdf" / "DOC000001.pdf").pages[0].extract_text()
    assert "Page 1 of 1" in first and "CITY0" not in first and "PRR-2026-114 DOC000001" in first


class ParallelPdfPart(PdfPart):
    """The part as it runs on a large case, here on a small one; it guesses every document is one page
    long, so the documents rendered after a longer one must be rendered again with the right numbers."""

    parallel_from = 1

    def estimate(self, text: str, images: list[CapturedImage]) -> int:
        return 1


def test_rendering_in_worker_processes_numbers_pages_as_in_order(workspace: Workspace, tmp_path: Path) -> None:
    with main_street_case(workspace) as case:
        busy_thread(case)
        serial, _ = write_parts(workspace, case.case, tmp_path / "serial", [PdfPart], BatesOptions("P", 1, 4))
        parallel, [summary] = write_parts(workspace, case.case, tmp_path / "parallel", [ParallelPdfPart],
                                          BatesOptions("P", 1, 4))
    assert parallel.bates_ranges == serial.bates_ranges and max(r["pages"] for r in serial.bates_ranges.values()) > 1
    for name in [f"DOC{n:06d}.pdf" for n in range(1, 6)] + ["combined.pdf"]:
        pages = [[re.sub(r"Exported .*", "", page.extract_text()) for page in PdfReader(root / "pdf" / name).pages]
                 for root in (tmp_path / "serial", tmp_path / "parallel")]  # the export times differ
        assert pages[0] == pages[1]
    assert summary.details["pages"] == sum(r["pages"] for r in serial.bates_ranges.values())


def test_platform_text_is_shown_as_written_never_as_markup(tmp_path: Path) -> None:
    hostile = 'Nice <b>bold</b> </style><img src="file:///etc/passwd"> & "quotes"'
    node = {"id": 1, "kind": "comment", "state": "visible", "author": "<i>Mallory</i>", "posted_at": None,
            "url": "javascript:alert(1)", "text": hostile, "focus": True, "replies": []}
    history = {"account": "city-fb", "platform": "facebook", "kind": "comment", "state": "visible",
               "author": "<i>Mallory</i>", "url": "javascript:alert(1)", "versions": [], "media": []}
    context = PackageContext(session=None, storage=None, data_dir=tmp_path, agency="City </style> & Co",  # type: ignore[arg-type]
                             case={"name": 'PRR "9" </style>'}, exported_at=datetime.now(UTC), exported_by="clerk",
                             software="gov-social-archiver/0.1.0", bates=BatesOptions('X"</style>', 1, 3))
    part = PdfPart(context)
    part.add(CaseDocument(1, "DOC000001", history, {"above": [], "item": node, "replies": [], "count": 0}))
    part.finish()
    words = _text(tmp_path / "pdf" / "DOC000001.pdf")
    assert _flat(hostile) in words and "<i>Mallory</i>" in words and "City </style> & Co" in words
    assert 'X"</style>001' in words and 'PRR "9" </style> DOC000001' in words
    assert "/Annots" not in PdfReader(tmp_path / "pdf" / "DOC000001.pdf").pages[0]  # no javascript: link made


class _SmallVolumes(PdfPart):
    volume_pages = 2


def test_a_large_combined_pdf_is_cut_into_volumes_with_every_page_in_order(workspace: Workspace,
                                                                           tmp_path: Path) -> None:
    data = tmp_path / "bag" / "data"
    with main_street_case(workspace) as case:
        _, [summary] = write_parts(workspace, case.case, data, [_SmallVolumes], BatesOptions("VOL", 1, 4))
    volumes = sorted((data / "pdf").glob("combined-*.pdf"))
    assert len(volumes) >= 2 and not (data / "pdf" / "combined.pdf").exists()
    assert [f"pdf/{v.name}" for v in volumes] == [f for f in summary.files if "combined" in f]
    labels = [re.findall(r"VOL\d{4}", page.extract_text())[-1] for v in volumes for page in PdfReader(v).pages]
    assert labels == [f"VOL{n:04d}" for n in range(1, summary.details["pages"] + 1)]
    # A volume closes before a document that would take it past its size; a document is never split.
    sizes = {f"DOC{n:06d}": len(PdfReader(data / "pdf" / f"DOC{n:06d}.pdf").pages) for n in range(1, 6)}
    assert all(len(PdfReader(v).pages) <= max(2, *sizes.values()) for v in volumes)
