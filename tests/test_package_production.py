"""A legal production with every part: the bag validates, Bates numbers run on across documents
into the load files, the WACZ validates, and no secret is in any exported byte — looked for
inside the zipped, gzipped and compressed files too."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import bagit
from pypdf import PdfReader

from case_helpers import main_street_case
from conftest import Workspace
from graph_helpers import TOKEN
from test_package_wacz import validate


def readable_bytes(root: Path) -> list[tuple[str, bytes]]:
    """Every file's bytes, plus zip members (XLSX, WACZ) ungzipped, plus the text of every PDF page."""
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found.append((str(path), data))
        if path.suffix in (".xlsx", ".wacz", ".zip"):
            with zipfile.ZipFile(path) as archive:
                for name in archive.namelist():
                    inner = archive.read(name)
                    found.append((f"{path}:{name}", gzip.decompress(inner) if name.endswith(".gz") else inner))
        if path.suffix == ".pdf":
            text = "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)
            found.append((f"{path}:text", text.encode()))
    return found


def test_a_production_with_every_part(workspace: Workspace, tmp_path: Path) -> None:
    with main_street_case(workspace):
        assert workspace.cli("request", "new", "SUBPOENA-7", "--kind", "production",
                             "--requester", "Counsel for plaintiff").code == 0
        assert workspace.cli("request", "add", "SUBPOENA-7", '"Main Street"').code == 0
        out = tmp_path / "production"
        result = workspace.cli("export", "SUBPOENA-7", "--out", str(out), "--bates-prefix", "CITY")
        assert result.code == 0, result.err
    bag = bagit.Bag(str(out))
    bag.validate()
    data = out / "data"
    assert {p.name for p in data.iterdir()} >= {"pdf", "text", "loadfiles", "csv", "xlsx", "jsonl", "native", "wacz",
                                               "custody.json", "certificate.txt", "certificate.pdf"}
    documents = sorted((data / "pdf").glob("DOC*.pdf"))
    assert len(documents) == 5
    labels = []
    for pdf in documents:
        for page in PdfReader(pdf).pages:
            labels += [w for w in (page.extract_text() or "").split() if w.startswith("CITY0")]
    numbers = [int(label.removeprefix("CITY")) for label in labels]
    assert numbers == list(range(1, len(numbers) + 1))  # continuous across the production
    dat = (data / "loadfiles" / "production.dat").read_text(encoding="utf-8-sig").splitlines()
    assert len(dat) == 1 + len(documents) and dat[1].startswith("þCITY000001þ")
    opt = (data / "loadfiles" / "production.opt").read_text().splitlines()
    assert len(opt) == len(numbers)
    validate(next((data / "wacz").glob("*.wacz")))
    for where, content in readable_bytes(out):
        assert TOKEN.encode() not in content, where
