"""Disposition: items past retention go only after approval, never while held, with a certificate."""

from __future__ import annotations

import gzip
import json
import zipfile
from datetime import timedelta
from pathlib import Path

from conftest import CliResult, Workspace
from connectors.rss.fakeserver import BASE_TIME, FakeFeed, FakeFeedServer
from test_harvest import warcio_check
from test_reindex import snapshot

SERIES = """
[[retention.series]]
code = "NEWS-1Y"
title = "Agency news posts"
authority = "City schedule SM-12 item 4"
keep = "1y"
trigger = "posted"
action = "{action}"
"""
# Entry n is posted at BASE_TIME + n * 30 min (+ under 10 min): as of this, entries 1..20 are a year old.
AS_OF = (BASE_TIME + timedelta(days=365, hours=10, minutes=15)).isoformat()


def entry_id(n: int) -> str:
    return f"tag:city.example,2015:city0/post/{n}"


def plan_id(result: CliResult) -> str:
    assert result.code == 0, result.err
    return result.out.strip().splitlines()[-1].removeprefix("plan ")


def archive(workspace: Workspace, feed_server: FakeFeedServer, action: str = "destroy", media: bool = False,
            extra: str = "") -> FakeFeed:
    """40 entries on 3 pages harvested, then an edit harvested: entries 1-10 (page 3) can go as of AS_OF."""
    feed = feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=40, page_size=15))
    workspace.capture["media"] = media
    workspace.account("news", feed_server.url("/feeds/news.atom"), retention="NEWS-1Y")
    workspace.write(SERIES.format(action=action) + extra)
    assert workspace.cli("harvest").code == 0
    feed.edit(0, title="Council meeting moved")
    assert workspace.cli("harvest").code == 0
    return feed


def ids_in_index(workspace: Workspace) -> set[str]:
    found = workspace.cli("search", "--account", "news", "--limit", "1000", "--json").json()
    return {hit["platform_id"] for hit in found["items"]}


def test_disposal_waits_for_approval_and_holds_then_certifies(workspace: Workspace, feed_server: FakeFeedServer,
                                                             index_url: str) -> None:
    workspace.database_url = index_url
    archive(workspace, feed_server)
    before = ids_in_index(workspace)
    planned = workspace.cli("retention", "plan", "--as-of", AS_OF, "--json").json()
    assert planned["items"] == 10 and planned["state"] == "proposed"
    assert [s["code"] for s in planned["series"]] == ["NEWS-1Y"] and planned["series"][0]["items"] == 10
    assert {d["reason"] for d in planned["deferred"]} == {"shares a record with an item that is kept"}
    assert [o["action"] for o in planned["objects"]] == ["rewrite"]
    plan = planned["id"]

    refused = workspace.cli("retention", "apply", plan)
    assert refused.code == 1 and "not approved" in refused.err
    assert ids_in_index(workspace) == before

    assert workspace.cli("retention", "approve", plan, "--by", "R. Officer").code == 0
    held = workspace.cli("hold", "create", "--matter", "Doe v. City", "--item", f"news:{entry_id(5)}")
    assert held.code == 0 and "1 item(s) frozen" in held.out
    applied = workspace.cli("retention", "apply", plan, "--json")
    assert applied.code == 0, applied.err
    certificate = applied.json()
    assert certificate["counts"]["items"] == 0 and len(certificate["not_disposed"]) == 10
    assert {e["reason"] for e in certificate["not_disposed"]} >= {"under a legal hold"}
    assert ids_in_index(workspace) == before

    assert workspace.cli("hold", "release", "1", "--reason", "case dismissed").code == 0
    second = plan_id(workspace.cli("retention", "plan", "--as-of", AS_OF))
    assert workspace.cli("retention", "approve", second, "--by", "R. Officer").code == 0
    done = workspace.cli("retention", "apply", second, "--json")
    assert done.code == 0, done.err
    certificate = done.json()
    gone = {entry_id(n) for n in range(1, 11)}
    assert {i["platform_id"] for i in certificate["items"]} == gone
    assert certificate["approved_by"] == "R. Officer" and certificate["series"][0]["authority"]
    assert all(len(i["content_sha256"]) == 64 for i in certificate["items"])
    [rewritten] = certificate["objects"]
    assert rewritten["outcome"] == "rewritten" and rewritten["new_key"].endswith(".r1.warc.gz")
    assert ids_in_index(workspace) == before - gone

    stored = workspace.stored_warcs()
    assert not any(p.name == rewritten["key"].rsplit("/", 1)[-1] for p in stored)
    warcio_check(stored)
    raw = b"".join(gzip.decompress(p.read_bytes()) for p in stored)
    assert f"{entry_id(3)}<".encode() not in raw and f"{entry_id(11)}<".encode() in raw
    shown = workspace.cli("retention", "certificate", second)
    assert shown.code == 0 and shown.json()["sha256"] == done.json()["sha256"]
    copy = workspace.root / "data" / "warcs" / "certificates" / f"{certificate['certificate']}.json"
    assert json.loads(copy.read_text())["items"] == certificate["items"]

    index = snapshot(workspace)
    assert workspace.cli("reindex").code == 0
    assert snapshot(workspace) == index  # nothing disposed comes back, and the rest is as it was
    assert ids_in_index(workspace) == before - gone
    actions = [e["action"] for e in workspace.cli("audit", "--json").json()]
    for action in ("retention.planned", "retention.approved", "hold.created", "hold.released", "retention.disposed"):
        assert action in actions
    assert workspace.cli("audit", "verify").code == 0


def test_transfer_writes_a_wacz_before_destroying(workspace: Workspace, feed_server: FakeFeedServer) -> None:
    archive(workspace, feed_server, action="transfer", media=True)
    plan = plan_id(workspace.cli("retention", "plan", "--as-of", AS_OF))
    assert workspace.cli("retention", "approve", plan, "--by", "R. Officer").code == 0
    done = workspace.cli("retention", "apply", plan, "--json")
    assert done.code == 0, done.err
    [transfer] = done.json()["transfers"]
    package = Path(transfer["package"])
    with zipfile.ZipFile(package) as wacz:
        names = set(wacz.namelist())
        assert {"archive/data.warc.gz", "indexes/index.cdxj", "pages/pages.jsonl", "datapackage.json",
                "datapackage-digest.json"} <= names
        datapackage = json.loads(wacz.read("datapackage.json"))
        import hashlib

        for resource in datapackage["resources"]:
            assert resource["hash"] == "sha256:" + hashlib.sha256(wacz.read(resource["path"])).hexdigest()
        digest = json.loads(wacz.read("datapackage-digest.json"))
        assert digest["hash"] == "sha256:" + hashlib.sha256(wacz.read("datapackage.json")).hexdigest()
        warc = wacz.read("archive/data.warc.gz")
        assert f"{entry_id(3)}<".encode() in gzip.decompress(warc)
        cdxj = wacz.read("indexes/index.cdxj").decode().splitlines()
        assert cdxj == sorted(cdxj) and any("city0-3.jpg" in line for line in cdxj)
    extracted = workspace.root / "x.warc.gz"
    extracted.write_bytes(warc)
    warcio_check([extracted])
    assert entry_id(3) not in ids_in_index(workspace)


def test_an_interrupted_apply_resumes_from_its_journal(workspace: Workspace, feed_server: FakeFeedServer) -> None:
    import pytest

    from archiver.index.db import open_index
    from archiver.retention.disposition import Disposition
    from storage import open_storage

    archive(workspace, feed_server)
    before = ids_in_index(workspace)
    plan = plan_id(workspace.cli("retention", "plan", "--as-of", AS_OF))
    assert workspace.cli("retention", "approve", plan, "--by", "R. Officer").code == 0

    class Crashing(Disposition):  # the process dies after the storage work, before the index is updated
        def _reindex(self, *args: object) -> set[int]:
            raise KeyboardInterrupt

    config = workspace.config
    db = open_index(config.database_url)
    with pytest.raises(KeyboardInterrupt):
        Crashing(config, db, open_storage(config), "clerk").apply(plan)
    db.dispose()
    assert [p.name.endswith(".r1.warc.gz") for p in workspace.stored_warcs()].count(True) == 1
    resumed = workspace.cli("retention", "apply", plan, "--json")
    assert resumed.code == 0, resumed.err
    assert resumed.json()["counts"]["items"] == 10 and resumed.json()["objects"][0]["outcome"] == "rewritten"
    assert ids_in_index(workspace) == before - {entry_id(n) for n in range(1, 11)}
    index = snapshot(workspace)
    assert workspace.cli("reindex").code == 0
    assert snapshot(workspace) == index
