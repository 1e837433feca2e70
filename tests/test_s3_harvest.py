"""The same harvest into SeaweedFS over S3, with Object Lock: stored, locked, exported, reindexed."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import Workspace
from connectors.rss.fakeserver import FakeFeed, FakeFeedServer
from seaweed import SeaweedServer, storage_lines
from storage import ObjectLocked, open_storage
from test_harvest import warcio_check
from test_reindex import snapshot

pytestmark = pytest.mark.s3


def test_harvest_into_object_locked_s3(workspace: Workspace, feed_server: FakeFeedServer, seaweedfs: SeaweedServer,
                                       s3_bucket: str, s3_env: tuple[str, str], tmp_path: Path) -> None:
    feed = feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=40, page_size=15))
    workspace.storage_lines = storage_lines(seaweedfs, s3_bucket, retain_days=1, object_lock_mode="COMPLIANCE")
    workspace.account("news", feed_server.url("/feeds/news.atom"))
    assert workspace.cli("harvest").code == 0
    feed.edit(3, title="Corrected title")
    result = workspace.cli("harvest")
    assert result.code == 0, result.err
    assert workspace.spool_files() == [] and workspace.stored_warcs() == []  # nothing kept locally

    client = seaweedfs.client()
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert len(keys) == 2 and all(k.startswith("city/rss/news/") and k.endswith(".warc.gz") for k in keys)
    for number, key in enumerate(keys):
        retention = client.get_object_retention(Bucket=s3_bucket, Key=key)["Retention"]
        assert retention["Mode"] == "COMPLIANCE"
        local = tmp_path / f"{number}.warc.gz"
        local.write_bytes(client.get_object(Bucket=s3_bucket, Key=key)["Body"].read())
        warcio_check([local])

    storage = open_storage(workspace.config)
    with pytest.raises(ObjectLocked):
        storage.delete(keys[0].removeprefix("city/"))

    exported = workspace.root / "export"
    assert workspace.cli("export", "Corrected", "--format", "warc", "--out", str(exported)).code == 0
    warcio_check(list(exported.glob("*.warc.gz")))

    before = snapshot(workspace)
    assert workspace.cli("reindex").code == 0
    assert snapshot(workspace) == before
