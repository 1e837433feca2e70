"""Everything a person or a court keeps names items by ACCOUNT:PLATFORM-ID, which survives ``reindex``:
the case log, the audit trail, custody.json, CSV, JSON Lines, native listings, load files, search output."""

from __future__ import annotations

import csv
import doctest
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig

import archiver.items
from archiver.index.db import MIGRATIONS, IndexDB
from archiver.index.models import Item
from archiver.items import ItemRef
from case_helpers import main_street_case
from conftest import Workspace


def test_item_ref_formats_and_parses_both_forms() -> None:
    assert doctest.testmod(archiver.items).failed == 0
    odd = ItemRef("city-news", "https://example.gov/news?id=7&x=ü~+")
    assert ItemRef.parse(odd.token()) == odd and ItemRef.parse(str(odd)) == odd
    assert all(c.isalnum() or c in "._-+~" for c in odd.token())
    for bad in ("", "nocolon", ":123", "City News:1", "city+bad token", "city+~ZZ"):
        with pytest.raises(ValueError, match="ACCOUNT:PLATFORM-ID"):
            ItemRef.parse(bad)


def _index_id(workspace: Workspace, platform_id: str) -> int:
    db = workspace.index()
    with db.session() as session:
        found = session.scalar(sa.select(Item.id).where(Item.platform_id == platform_id))
    db.dispose()
    assert found is not None
    return found


def test_kept_records_name_items_by_account_and_platform_id(workspace: Workspace, tmp_path: Path) -> None:
    with main_street_case(workspace) as case:
        other = ItemRef("city-fb", case.other_post_id)
        # show takes the stable name, its URL-safe token, and the index's own (temporary) id alike.
        shown = {workspace.cli("show", ref, "--json").json()["id"]
                 for ref in (str(other), other.token(), str(_index_id(workspace, case.other_post_id)))}
        assert shown == {str(other)}
        post = workspace.cli("show", f"city-fb:{case.post_id}")
        assert f"(city-fb:{case.deleted_id})" in post.out  # thread lines name each comment the same way
        # --item given as an index id is logged by the item's stable name.
        added = workspace.cli("request", "add", case.case, "--item", str(_index_id(workspace, case.other_post_id)))
        assert added.code == 0, added.err
        found = workspace.cli("search", "Main Street", "--json").json()["items"]
        assert found and all(hit["item_id"] == f"{hit['account']}:{hit['platform_id']}" for hit in found)
        members = workspace.cli("request", "show", case.case, "--json").json()["members"]
        assert str(other) in {m["item_id"] for m in members}
        out = tmp_path / "production"
        result = workspace.cli("export", case.case, "--out", str(out), "--format", "pdf,csv,jsonl,native", "--bates")
        assert result.code == 0, result.err
        audit = workspace.cli("audit", "--json").json()

    data = out / "data"
    custody = json.loads((data / "custody.json").read_text())
    assert custody["searches"][-1]["query"] == {"items": [str(other)]}
    with (data / "csv/items.csv").open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["item_id"] for r in rows} == {f"city-fb:{r['platform_id']}" for r in rows} and len(rows) > 6
    lines = [json.loads(line) for line in (data / "jsonl/items.jsonl").read_text().splitlines()]
    nodes = [n for line in lines for n in [line["context"]["item"], *line["context"]["above"]]]
    assert all(x["id"] == f"city-fb:{x['platform_id']}" for x in lines + nodes)
    listings = [json.loads(p.read_text())["item"] for p in sorted((data / "native").glob("DOC*/records.json"))]
    assert [x["id"] for x in listings] == [x["id"] for x in lines]
    with (data / "loadfiles/production.dat").open(encoding="utf-8-sig", newline="") as handle:
        dat = [line.rstrip("\r\n").split("\x14") for line in handle]
    column = dat[0].index("\u00feITEMID\u00fe")
    assert [row[column].strip("\u00fe") for row in dat[1:]] == [x["id"] for x in lines]
    viewed = [e for e in audit if e["action"] == "item.viewed"]
    assert {e["target"] for e in viewed} == {str(other), f"city-fb:{case.post_id}"}
    assert all("item" not in e["details"] for e in viewed)
    logged = [e["details"]["query"] for e in audit if e["action"] == "case.items_added"]
    assert logged[-1] == {"items": [str(other)]}


def test_migration_rewrites_index_ids_in_the_case_log(tmp_path: Path) -> None:
    db = IndexDB(f"sqlite:///{tmp_path / 'index.sqlite'}")
    alembic = AlembicConfig()
    alembic.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as connection:
        alembic.attributes["connection"] = connection
        command.upgrade(alembic, "0011")
        connection.execute(sa.text("INSERT INTO accounts (id, name, platform, platform_account_id, cursor, status, "
                                   "created_at) VALUES (7, 'city-fb', 'facebook', '1', '{}', 'active', '2026-01-01')"))
        connection.execute(sa.text(
            "INSERT INTO items (id, account_id, platform_id, kind, first_seen_at, last_seen_at, state, "
            "version_count, latest_hash) VALUES (42, 7, '1_2', 'post', '2026-01-01', '2026-01-01', 'visible', 1, 'h')"))
        connection.execute(sa.text("INSERT INTO cases (id, name, kind, created_at, created_by) "
                                   "VALUES (1, 'PRR-1', 'request', '2026-01-01', 'clerk')"))
        connection.execute(sa.text(
            "INSERT INTO case_searches (id, case_id, action, query, items, at, by) VALUES "
            """(1, 1, 'add', '{"items": [42, 99], "text": "bikes"}', 1, '2026-01-01', 'clerk'), """
            """(2, 1, 'add', '{"text": "bikes"}', 0, '2026-01-01', 'clerk')"""))
    db.upgrade()
    with db.engine.connect() as connection:
        logged = [json.loads(q) for q in connection.scalars(sa.text("SELECT query FROM case_searches ORDER BY id"))]
    db.dispose()
    assert logged == [{"items": ["city-fb:1_2", "(index id 99: no longer in the index)"], "text": "bikes"},
                      {"text": "bikes"}]
