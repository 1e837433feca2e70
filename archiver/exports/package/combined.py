"""The combined PDF of a package: every document's pages in package order, as one PDF/A file.

Pages are appended one by one from the rendered per-document files, so they carry the very
same Bates numbers. pypdf holds a file's pages until it is written, so past ``volume_pages``
pages the combined PDF is cut into volumes (``combined-001.pdf``, …) and memory stays bounded
however large the case; a document is never split between volumes.
"""

from __future__ import annotations

import html
import io
from pathlib import Path

from pypdf import PdfReader, PdfWriter
from pypdf.generic import NameObject, StreamObject


class CombinedPdf:
    def __init__(self, folder: Path, case_name: str, software: str, volume_pages: int):
        self.folder, self.case_name, self.volume_pages = folder, case_name, volume_pages
        self.producer = f"{software} (WeasyPrint, pypdf)"
        self.writer = PdfWriter()
        self.volume, self.used = 1, 0  # the volume being filled, and its pages so far
        self.written: list[Path] = []

    def add(self, pdf: bytes, pages: int) -> None:
        """Append one rendered document, starting a new volume first if it would overflow this one."""
        reader = PdfReader(io.BytesIO(pdf))
        if self.used and self.used + pages > self.volume_pages:
            self._write(self.folder / f"combined-{self.volume:03d}.pdf")
            self.writer, self.volume, self.used = PdfWriter(), self.volume + 1, 0
        if not self.used:  # PDF/A's output intent (sRGB profile) is the same in every file: take the first's
            intents = reader.trailer["/Root"]["/OutputIntents"]
            self.writer.root_object[NameObject("/OutputIntents")] = intents.clone(self.writer)
        for page in reader.pages:  # page by page: a fraction of the work of PdfWriter.append (no outlines here)
            self.writer.add_page(page)
        self.used += pages

    def close(self) -> list[Path]:
        """Write the last volume (``combined.pdf`` when there is only one); the files written, in order."""
        if self.used:
            self._write(self.folder / ("combined.pdf" if self.volume == 1 else f"combined-{self.volume:03d}.pdf"))
        else:
            self.writer.close()
        return self.written

    def _write(self, path: Path) -> None:
        volume = "all documents" if path.name == "combined.pdf" else f"documents, volume {self.volume}"
        self._declare_pdfa(f"{self.case_name} — {volume}")
        with path.open("wb") as handle:
            self.writer.write(handle)
        self.writer.close()
        self.written.append(path)

    def _declare_pdfa(self, title: str) -> None:
        """Give the merged file what PDF/A asks of a catalogue: the first file's output intent, XMP, matching info."""
        self.writer.add_metadata({"/Producer": self.producer, "/Title": title})
        stream = StreamObject()
        stream.set_data(_xmp(self.producer, title).encode("utf-8"))
        stream[NameObject("/Type")] = NameObject("/Metadata")
        stream[NameObject("/Subtype")] = NameObject("/XML")
        self.writer.root_object[NameObject("/Metadata")] = self.writer._add_object(stream)
        self.writer.generate_file_identifiers()  # PDF/A wants the trailer's /ID, which pypdf writes only when asked


def _xmp(producer: str, title: str) -> str:
    return ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n<x:xmpmeta xmlns:x="adobe:ns:meta/">'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:pdf="http://ns.adobe.com/pdf/1.3/" '
            'xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">'
            '<rdf:Description rdf:about="" pdfaid:part="3" pdfaid:conformance="B"/>'
            f'<rdf:Description rdf:about="" pdf:Producer="{html.escape(producer, quote=True)}"/>'
            '<rdf:Description rdf:about=""><dc:title><rdf:Alt>'
            f'<rdf:li xml:lang="x-default">{html.escape(title)}</rdf:li></rdf:Alt></dc:title></rdf:Description>'
            '</rdf:RDF></x:xmpmeta>\n<?xpacket end="r"?>')
