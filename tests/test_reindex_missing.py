"""The index is never emptied by a missing store: reindex refuses, or reads what a delete marker hides."""

from __future__ import annotations

import pytest

from conftest import Workspace
from connectors.rss.fakeserver import FakeFeed, FakeFeedServer
from seaweed import SeaweedServer, storage_lines
from test_reindex import snapshot


def two_harvests(workspace: Workspace, feed_server: FakeFeedServer) -> None:
    feed = feed_server.add_feed("/news.atom", FakeFeed.synthetic(entries=12))
    workspace.capture["media"] = False
    workspace.account("news", feed_server.url("/news.atom"))
    assert workspace.cli("harvest").code == 0
    feed.add_new(2)
    assert workspace.cli("harvest").code == 0


def test_reindex_refuses_when_stored_warcs_are_missing_unless_told(workspace: Workspace,
                                                                   feed_server: FakeFeedServer) -> None:
    two_harvests(workspace, feed_server)
    first, _ = workspace.stored_warcs()
    first.unlink()
    before = snapshot(workspace)
    refused = workspace.cli("reindex")
    assert refused.code == 1
    key = first.relative_to(workspace.root / "data" / "warcs").as_posix()
    assert refused.err.splitlines() == [
        f"archiver: 1 of 2 WARC file(s) the index knows as stored are missing from storage "
        f"file://{workspace.root / 'data' / 'warcs'}: {key}; nothing was changed (restore them, or run "
        "`archiver reindex --allow-missing` to rebuild without them)"]
    assert snapshot(workspace) == before  # not one item dropped

    allowed = workspace.cli("reindex", "--allow-missing")
    assert allowed.code == 0, allowed.err
    assert f"1 WARC file(s) missing from storage were left out: {key}" in allowed.out
    assert "reindexed 1 WARC file(s)" in allowed.out


@pytest.mark.s3
def test_a_delete_marker_hides_nothing_from_reindex_and_verify_names_it(
        workspace: Workspace, feed_server: FakeFeedServer, seaweedfs: SeaweedServer, s3_bucket: str) -> None:
    workspace.storage_lines = storage_lines(seaweedfs, s3_bucket, retain_days=1, object_lock_mode="GOVERNANCE")
    two_harvests(workspace, feed_server)
    client = seaweedfs.client()
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket)["Contents"])
    answer = client.delete_object(Bucket=s3_bucket, Key=keys[0])  # a plain DeleteObject, no version id
    assert answer["DeleteMarker"] is True
    hidden = keys[0].removeprefix("city/")

    verified = workspace.cli("verify", "--all")
    assert verified.code == 1
    [line] = [line for line in verified.out.splitlines() if hidden in line]
    assert "hidden behind a delete marker" in line and "its newest version is intact" in line

    before = snapshot(workspace)
    rebuilt = workspace.cli("reindex")
    assert rebuilt.code == 0, rebuilt.err
    assert (f"1 WARC file(s) hidden behind a delete marker were read from their newest version: {hidden}"
            in rebuilt.out)
    assert "reindexed 2 WARC file(s)" in rebuilt.out
    assert snapshot(workspace) == before
