"""A case's package: a BagIt bag that validates, tables of every version, redaction that leaves
no planted personal data and logs each, no secret in any byte, and clear refusals."""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import bagit
import openpyxl
import pytest

from case_helpers import PLANTED, main_street_case
from conftest import Workspace
from graph_helpers import TOKEN

TABLES = "csv,xlsx,jsonl"


def every_byte(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_the_release_package_is_a_valid_bag_of_every_version(workspace: Workspace, tmp_path: Path,
                                                            index_url: str) -> None:
    workspace.database_url = index_url
    with main_street_case(workspace) as case:
        out = tmp_path / "release"
        result = workspace.cli("export", case.case, "--out", str(out), "--format", TABLES)
        assert result.code == 0, result.err
    bag = bagit.Bag(str(out))
    bag.validate()  # every SHA-256 in both manifests verifies
    assert bag.info["External-Identifier"] == case.case
    assert bag.info["Case-Requester"] == "R. Reporter, Springfield Ledger"
    assert bag.info["Source-Organization"] == "City of Testing"
    assert {"sha256"} == set(bag.algorithms)
    with (out / "data/csv/items.csv").open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    deleted = [r for r in rows if r["platform_id"] == case.deleted_id]
    # The deleted comment: its words as seen, then its deletion, each with when it was captured.
    assert [r["version_state"] for r in deleted] == ["visible", "deleted"]
    assert deleted[0]["text"] == "This Main Street plan is a waste of money"
    assert deleted[1]["previous_last_captured_at"] == deleted[0]["last_captured_at"]
    assert deleted[1]["first_captured_at"] > deleted[0]["last_captured_at"]
    sheet = openpyxl.load_workbook(out / "data/xlsx/items.xlsx", read_only=True)["items"]
    assert sum(1 for _ in sheet.iter_rows()) == len(rows) + 1
    lines = [json.loads(line) for line in (out / "data/jsonl/items.jsonl").read_text().splitlines()]
    hidden = next(line for line in lines if line["platform_id"] == case.hidden_id)
    assert hidden["state"] == "hidden" and hidden["context"]["above"][0]["platform_id"] == case.post_id
    post = next(line for line in lines if line["platform_id"] == case.post_id)
    thread_states = {node["platform_id"]: node["state"] for node in post["context"]["replies"]}
    assert thread_states[case.deleted_id] == "deleted" and thread_states[case.hidden_id] == "hidden"
    custody = json.loads((out / "data/custody.json").read_text())
    assert custody["case"]["name"] == case.case and custody["searches"][0]["query"] == {"text": '"Main Street"'}
    assert custody["source_warcs"] and all(len(w["sha256"]) == 64 for w in custody["source_warcs"])
    certificate = (out / "data/certificate.txt").read_text()
    digest = bagit.Bag(str(out)).entries["data/csv/items.csv"]["sha256"]
    assert f"{digest}  csv/items.csv" in certificate and "902(13)" in certificate
    assert "902(13)" in (out / "data/certificate.html").read_text()
    assert TOKEN.encode() not in every_byte(out)
    audit = [e for e in workspace.cli("audit", "--json").json() if e["action"] == "case.exported"]
    assert audit and audit[-1]["details"]["documents"] == 5


def test_redaction_removes_every_planted_value_and_logs_each(workspace: Workspace, tmp_path: Path) -> None:
    with main_street_case(workspace) as case:
        out = tmp_path / "public"
        result = workspace.cli("export", case.case, "--out", str(out), "--redact", "--format", TABLES)
        assert result.code == 0, result.err
        stored = b"".join(p.read_bytes() for p in workspace.stored_warcs())
    everything = every_byte(out)
    for value in PLANTED.values():
        assert value.encode() not in everything, value
    assert b"[REDACTED: ssn]" in everything and b"[REDACTED: email]" in everything
    with (out / "data/redaction-log.csv").open() as handle:
        log = list(csv.DictReader(handle))
    logged = {(row["item"], row["rule"]) for row in log}
    assert {(f"city-fb:{case.pii_id}", rule) for rule in PLANTED} <= logged
    assert all(row["field"] for row in log)
    assert b"Main Street driveway" in everything  # the rest of what was said is kept
    # The record itself is untouched: the WARCs still hold what the platform sent.
    import gzip

    assert PLANTED["ssn"].encode() in gzip.decompress(stored)
    assert bagit.Bag(str(out)).is_valid()


def test_a_zipped_bag_and_the_refusals(workspace: Workspace, tmp_path: Path) -> None:
    with main_street_case(workspace) as case:
        zipped = workspace.cli("export", case.case, "--out", str(tmp_path / "z"), "--format", "csv", "--zip")
        assert zipped.code == 0, zipped.err
        with zipfile.ZipFile(tmp_path / "z.zip") as archive:
            names = archive.namelist()
            archive.extractall(tmp_path / "unzipped")
        assert "z/bagit.txt" in names and not (tmp_path / "z").exists()
        assert bagit.Bag(str(tmp_path / "unzipped" / "z")).is_valid()
        again = workspace.cli("export", case.case, "--out", str(tmp_path / "unzipped"), "--format", "csv")
        assert again.code == 1 and "not an empty folder" in again.err
        unknown = workspace.cli("export", case.case, "--out", str(tmp_path / "u"), "--format", "csv,tiff")
        assert unknown.code == 1 and "unknown part(s) tiff" in unknown.err and not (tmp_path / "u").exists()
        assert workspace.cli("request", "new", "EMPTY").code == 0
        empty = workspace.cli("export", "EMPTY", "--out", str(tmp_path / "e"))
        assert empty.code == 1 and "holds no items" in empty.err
        stray = workspace.cli("export", "no-such-case", "--out", str(tmp_path / "s"), "--redact")
        assert stray.code == 1 and "no case named 'no-such-case'" in stray.err


@pytest.mark.parametrize("pattern", ["(unclosed"])
def test_a_bad_redaction_pattern_is_a_config_error(workspace: Workspace, pattern: str) -> None:
    workspace.write(f"[exports]\nredaction_patterns = [{{ name = \"x\", pattern = '{pattern}' }}]\n")
    result = workspace.cli("check-config")
    assert result.code == 2 and "exports.redaction_patterns[0].pattern" in result.err
    assert "not a regular expression" in result.err


def test_a_missing_warc_stops_the_package_with_one_line_and_leaves_nothing(workspace: Workspace,
                                                                           tmp_path: Path) -> None:
    with main_street_case(workspace) as case:
        stored = workspace.stored_warcs()[0]
        aside = tmp_path / "aside.warc.gz"
        stored.rename(aside)
        out = tmp_path / "package"
        failed = workspace.cli("export", case.case, "--out", str(out), "--format", "csv,native,wacz")
        assert failed.code == 1 and failed.err.count("\n") == 1, failed.err
        assert "cannot read the records for the package" in failed.err and "no package was written" in failed.err
        assert not out.exists() and not out.with_name("package.partial").exists()
        aside.rename(stored)  # the object is back: the same command now succeeds
        again = workspace.cli("export", case.case, "--out", str(out), "--format", "csv,native,wacz")
        assert again.code == 0, again.err
    assert bagit.Bag(str(out)).is_valid()
