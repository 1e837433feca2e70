"""Load files: the DAT and OPT a review tool imports parse, agree with the PDFs' Bates numbers, and point at files."""

from __future__ import annotations

import re
from pathlib import Path

from pypdf import PdfReader

from archiver.exports.package.loadfiles import FIELDS, LoadFilesPart, dat_line
from archiver.exports.package.parts import BatesOptions
from archiver.exports.package.pdf import PdfPart
from case_helpers import main_street_case
from conftest import Workspace
from graph_helpers import TOKEN
from part_helpers import busy_thread, write_parts


def parse_dat(path: Path) -> list[dict[str, str]]:
    """A Concordance DAT as a review tool reads it: BOM, CRLF records, þ-quoted fields split on DC4."""
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "no UTF-8 byte-order mark"
    lines = raw[3:].decode("utf-8").split("\r\n")
    assert lines[-1] == ""
    rows = []
    for line in lines[:-1]:
        fields = line.split("\x14")
        assert all(f.startswith("\u00fe") and f.endswith("\u00fe") and len(f) >= 2 for f in fields), line
        rows.append([f[1:-1] for f in fields])
    header, *records = rows
    assert all(len(record) == len(header) for record in records)
    return [dict(zip(header, record, strict=True)) for record in records]


def parse_opt(path: Path) -> list[list[str]]:
    lines = path.read_bytes().decode("utf-8").split("\r\n")
    assert lines[-1] == ""
    rows = [line.split(",") for line in lines[:-1]]
    assert all(len(row) == 7 for row in rows)
    return rows


def _local(data: Path, path: str) -> Path:
    return data / path.replace("\\", "/")


def test_dat_and_opt_match_the_production(workspace: Workspace, tmp_path: Path) -> None:
    data = tmp_path / "data"
    with main_street_case(workspace) as case:
        # One native file, as the native part would leave it, to see the column filled.
        busy_thread(case)
        (data / "native" / "DOC000002").mkdir(parents=True)
        (data / "native" / "DOC000002" / "records.json").write_text("{}", encoding="utf-8")
        context, [_, summary] = write_parts(workspace, case.case, data, [PdfPart, LoadFilesPart],
                                            BatesOptions("SPR", 1000, 7))
        deleted_url_part = case.deleted_id.split("_")[1]

    assert summary.files == ["loadfiles/production.dat", "loadfiles/production.opt"] and summary.documents == 5
    records = parse_dat(data / "loadfiles" / "production.dat")
    assert list(records[0]) == FIELDS and [r["DOCID"] for r in records] == [f"DOC{n:06d}" for n in range(1, 6)]
    pages = 0
    for record in records:
        pdf = _local(data, record["PDFPATH"])
        count = len(PdfReader(pdf).pages)
        assert record["PGCOUNT"] == str(count) and _local(data, record["TEXTPATH"]).is_file()
        assert record["BEGBATES"] == f"SPR{1000 + pages:07d}" and record["ENDBATES"] == f"SPR{999 + pages + count:07d}"
        assert context.bates_ranges[record["DOCID"]]["first"] == record["BEGBATES"]
        assert re.fullmatch(r"[0-9a-f]{64}", record["SHA256"]) and record["PLATFORM"] == "facebook"
        pages += count
    assert records[1]["NATIVEPATH"] == "native\\DOC000002\\records.json" and records[0]["NATIVEPATH"] == ""
    assert _local(data, records[1]["NATIVEPATH"]).is_file()
    deleted = next(r for r in records if deleted_url_part in r["URL"])
    assert deleted["STATE"] == "deleted" and deleted["AUTHOR"] == "Ben Carter" and deleted["FIRSTCAPTURED"]

    opt = parse_opt(data / "loadfiles" / "production.opt")
    assert [row[0] for row in opt] == [f"SPR{n:07d}" for n in range(1000, 1000 + pages)]
    assert all(row[1] == "VOL001" and _local(data, row[2]).is_file() for row in opt)
    starts = [row for row in opt if row[3] == "Y"]
    assert [row[0] for row in starts] == [r["BEGBATES"] for r in records]
    assert [row[6] for row in starts] == [r["PGCOUNT"] for r in records]
    assert all(row[6] == "" for row in opt if row[3] != "Y") and len(opt) > len(records)
    for path in data.rglob("*"):
        assert not path.is_file() or TOKEN.encode() not in path.read_bytes()


def test_a_request_without_bates_keys_pages_by_document(workspace: Workspace, tmp_path: Path) -> None:
    data = tmp_path / "data"
    with main_street_case(workspace) as case:
        write_parts(workspace, case.case, data, [PdfPart, LoadFilesPart])
    records = parse_dat(data / "loadfiles" / "production.dat")
    assert all((r["BEGBATES"], r["ENDBATES"]) == (r["DOCID"], r["DOCID"]) for r in records)
    assert parse_opt(data / "loadfiles" / "production.opt")[0][:4] == ["DOC000001.0001", "VOL001", "pdf\\DOC000001.pdf",
                                                                        "Y"]


def test_values_cannot_break_a_record() -> None:
    line = dat_line(["two\r\nlines", "a\x14b", "þorn"])
    assert line == "\u00fetwo\u00aelines\u00fe\x14\u00fea b\u00fe\x14\u00feorn\u00fe\r\n"
