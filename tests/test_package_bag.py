"""The package's BagIt bag: written without touching the process's working directory, so two packages
built at once (the web app builds them in background threads of the server) both come out whole."""

from __future__ import annotations

import doctest
import os
import sys
import threading
from pathlib import Path

import bagit
import pytest

from archiver.exports.package import bag as bag_module
from archiver.exports.package.bag import write_bag
from archiver.exports.package.builder import PackageRequest, PackageResult, build
from archiver.index.db import IndexDB
from case_helpers import main_street_case
from conftest import Workspace
from storage import open_storage


def _build(workspace: Workspace, index: IndexDB, case: str, out: Path) -> PackageResult:
    with index.session() as session:  # one index, as the server opens it; a session per thread
        return build(session, open_storage(workspace.config), PackageRequest(case, out, ("csv", "jsonl")),
                     agency="City of Testing", storage_url="file:///archive", by="clerk@test")


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_two_packages_built_at_once_in_two_threads_both_validate(workspace: Workspace, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    results: dict[str, PackageResult | BaseException] = {}
    with main_street_case(workspace) as case:
        index = workspace.index()
        monkeypatch.chdir(tmp_path)  # relative output folders: what a change of directory would break
        start, seen = os.getcwd(), set()
        building = threading.Event()

        def watch() -> None:  # the working directory, as any other thread of the server finds it
            while building.is_set():
                seen.add(os.getcwd())

        def run(name: str) -> None:
            try:
                for round_ in range(3):
                    results[f"{name}-{round_}"] = _build(workspace, index, case.case, Path(f"{name}-{round_}"))
            except BaseException as exc:
                results[name] = exc

        switching = sys.getswitchinterval()
        sys.setswitchinterval(1e-5)  # let the watcher run between any two steps of the builders
        building.set()
        threads = [threading.Thread(target=watch)] + [threading.Thread(target=run, args=(n,))
                                                      for n in ("first", "second")]
        try:
            for thread in threads:
                thread.start()
            for thread in threads[1:]:
                thread.join()
        finally:
            building.clear()
            threads[0].join()
            sys.setswitchinterval(switching)
            index.dispose()

    assert seen == {start}, "making a bag changed the process's working directory"
    assert sorted(results) == [f"{n}-{r}" for n in ("first", "second") for r in range(3)], results
    for name, result in results.items():
        assert isinstance(result, PackageResult) and result.path == Path(name) and result.documents == 5
        bag = bagit.Bag(str(tmp_path / name))
        bag.validate()
        assert bag.version_info == (1, 0) and set(bag.algorithms) == {"sha256"}
        payload = _files(tmp_path / name / "data")
        assert bag.info["Payload-Oxum"] == f"{sum(p.stat().st_size for p in payload)}.{len(payload)}"
        assert bag.info["External-Identifier"] == case.case and bag.info["Bagging-Date"]
        assert {p.name for p in (tmp_path / name).iterdir()} == {"data", "bagit.txt", "bag-info.txt",
                                                                 "manifest-sha256.txt", "tagmanifest-sha256.txt"}


def test_the_bag_writer_hashes_what_it_is_not_given_and_flattens_field_values(tmp_path: Path) -> None:
    (tmp_path / "data" / "pdf").mkdir(parents=True)
    (tmp_path / "data" / "pdf" / "DOC000001.pdf").write_bytes(b"%PDF-1.7 one")
    (tmp_path / "data" / "certificate.txt").write_text("two", encoding="utf-8")
    known = {"pdf/DOC000001.pdf": bagit.hashlib.sha256(b"%PDF-1.7 one").hexdigest()}
    manifest = write_bag(tmp_path, {"External-Description": "two\nlines", "Case-Kind": "request"}, known)
    assert manifest == {"data/certificate.txt": bagit.hashlib.sha256(b"two").hexdigest(),
                        "data/pdf/DOC000001.pdf": known["pdf/DOC000001.pdf"]}
    bag = bagit.Bag(str(tmp_path))
    bag.validate()
    assert bag.info["External-Description"] == "two lines" and bag.info["Payload-Oxum"] == "15.2"
    (tmp_path / "data" / "certificate.txt").write_text("changed", encoding="utf-8")
    with pytest.raises(bagit.BagValidationError):
        bagit.Bag(str(tmp_path)).validate()


def test_docstring_example() -> None:
    result = doctest.testmod(bag_module)
    assert result.attempted > 0 and result.failed == 0
