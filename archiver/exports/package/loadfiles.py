"""Load files for e-discovery review tools: a Concordance DAT and an Opticon OPT image cross-reference.

Choices, as review tools (Concordance, Relativity, Everlaw, Reveal) read them by default:

- ``production.dat`` is UTF-8 with a byte-order mark, CRLF line ends, the standard Concordance
  delimiters: every field wrapped in þ (U+00FE, "ASCII 254") and separated by DC4 (U+0014,
  "ASCII 020", which Concordance displays as ¶). A line break inside a value becomes ®
  (U+00AE, "ASCII 174"), Concordance's newline stand-in, so one record is always one line.
- ``production.opt`` has one line per page, ``BATES,VOLUME,PATH,Y|,,,PAGECOUNT``: Y and the
  page count on a document's first page only. PATH is the document's multi-page PDF.
- Paths in both files are relative to the bag's ``data/`` folder (the volume root) and use
  backslashes, the Windows form the review tools were built around and still expect.

ITEMID is the item's stable name, ``ACCOUNT:PLATFORM-ID`` (it survives a rebuild of the index).

This part runs with the PDF part in the same pass and reads the Bates range the PDF part
recorded for each document (``context.bates_ranges``). The PDF part may still be rendering a
document when this part's ``add`` sees it, so the load files are written in ``finish``, which
must come after the PDF part's ``finish`` (parts finish in list order). Rows wait in a
temporary file meanwhile, so memory stays flat, and the natives column is right whichever
order the native part runs in. Without Bates numbering (a records request, not a production)
BEGBATES/ENDBATES are the document id, and the OPT keys pages as ``DOC000001.0001``.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

from archiver.exports.package.parts import CaseDocument, PackagePart, PartSummary

SEPARATOR = "\x14"  # DC4, shown as ¶
QUOTE = "\u00fe"  # þ
NEWLINE = "\u00ae"  # ® stands for a line break inside a value
FIELDS = ["BEGBATES", "ENDBATES", "PGCOUNT", "DOCID", "ITEMID", "ACCOUNT", "PLATFORM", "KIND", "STATE", "AUTHOR",
          "POSTED", "FIRSTCAPTURED", "URL", "SHA256", "NATIVEPATH", "TEXTPATH", "PDFPATH"]
VOLUME = "VOL001"


def windows(path: str) -> str:
    """A data/-relative path as the load files write it: 'pdf\\DOC000001.pdf'."""
    return path.replace("/", "\\")


def dat_line(values: list[str]) -> str:
    """One DAT record: þvalueþ¶þvalueþ…, with the delimiters and line breaks taken out of values."""
    def clean(value: str) -> str:
        value = value.replace("\r\n", "\n").replace("\r", "\n").replace("\n", NEWLINE)
        return value.replace(QUOTE, "").replace(SEPARATOR, " ")
    return SEPARATOR.join(f"{QUOTE}{clean(value)}{QUOTE}" for value in values) + "\r\n"


def _latest_sha256(history: dict[str, Any]) -> str:
    versions = history.get("versions") or []
    if not versions:
        return ""
    evidence = versions[-1].get("last_evidence") or versions[-1].get("first_evidence") or {}
    return str(evidence.get("sha256") or "")


class LoadFilesPart(PackagePart):
    name = "loadfiles"

    def start(self) -> None:
        # Outside the bag, so a failed export leaves no stray file in data/.
        self.spool = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - closed in finish
        self.pages = 0

    def add(self, document: CaseDocument) -> None:
        """Note the document's fields; pages and Bates numbers are known once the PDF part has finished."""
        history = document.history
        versions = history.get("versions") or [{}]
        row = ["", "", "", document.doc_id, history.get("id"), history.get("account"), history.get("platform"),
               history.get("kind"), history.get("state"), history.get("author"), history.get("posted_at"),
               versions[0].get("first_observed_at"), history.get("url"), _latest_sha256(history), "",
               windows(f"text/{document.doc_id}.txt"), windows(f"pdf/{document.doc_id}.pdf")]
        self.spool.write(json.dumps(["" if v is None else str(v) for v in row]) + "\n")
        self.count += 1

    def _pages(self, doc_id: str) -> tuple[int, str, str, list[str]]:
        """Page count, first and last Bates label, and every page's key for the OPT file."""
        bates = self.context.bates
        found = self.context.bates_ranges.get(doc_id)
        if bates is not None and found is not None:
            start = int(found["first"][len(bates.prefix):])
            pages = int(found["pages"])
            return pages, found["first"], found["last"], [bates.label(start + n) for n in range(pages)]
        if bates is not None:
            raise RuntimeError(f"no Bates range for {doc_id}: the PDF part must run before the load files")
        from pypdf import PdfReader  # only a request without Bates numbers needs to count pages itself

        pages = len(PdfReader(self.context.data_dir / "pdf" / f"{doc_id}.pdf").pages)
        return pages, doc_id, doc_id, [f"{doc_id}.{n + 1:04d}" for n in range(pages)]

    def _natives(self) -> dict[str, str]:
        """Document id → its natives listing (data/native/DOC000001/records.json), if the package has a native part.

        A social media item's natives are several API payloads (listing, lookups, media); the
        listing names each payload file under native/records/ with its WARC provenance.
        """
        folder = self.context.data_dir / "native"
        found: dict[str, str] = {}
        if folder.is_dir():
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.name.startswith("DOC") and entry.is_dir():
                        found[entry.name] = windows(f"native/{entry.name}/records.json")
        return found

    def finish(self) -> PartSummary:
        natives = self._natives()
        dat, opt = self.folder / "production.dat", self.folder / "production.opt"
        self.spool.seek(0)
        with (dat.open("w", encoding="utf-8-sig", newline="") as dat_out,
              opt.open("w", encoding="utf-8", newline="") as opt_out, self.spool):
            dat_out.write(dat_line(FIELDS))
            for line in self.spool:
                row = json.loads(line)
                doc_id = row[FIELDS.index("DOCID")]
                if not (self.context.data_dir / "pdf" / f"{doc_id}.pdf").is_file():
                    raise RuntimeError(f"the load files need the PDF part in the same package, finished before them; "
                                       f"pdf/{doc_id}.pdf was not written")
                pages, first, last, keys = self._pages(doc_id)
                row[:3] = [first, last, str(pages)]
                row[FIELDS.index("NATIVEPATH")] = natives.get(doc_id, "")
                dat_out.write(dat_line(row))
                pdf_path = row[FIELDS.index("PDFPATH")]
                for number, key in enumerate(keys):
                    head = number == 0
                    opt_out.write(f"{key},{VOLUME},{pdf_path},{'Y' if head else ''},,,{pages if head else ''}\r\n")
                self.pages += pages
        return PartSummary(self.name, files=[self.relative(dat), self.relative(opt)],
                           documents=self.count, details={"pages": self.pages, "volume": VOLUME})
