"""WORM on SeaweedFS with Object Lock: locks follow the schedule, legal holds follow the register."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conftest import Workspace
from connectors.rss.fakeserver import FakeFeed, FakeFeedServer
from seaweed import SeaweedServer, storage_lines
from storage import ObjectLocked, open_storage
from test_disposition import AS_OF, SERIES, entry_id, plan_id

pytestmark = pytest.mark.s3


def test_locked_warcs_are_refused_and_legal_holds_follow_the_register(
        workspace: Workspace, feed_server: FakeFeedServer, seaweedfs: SeaweedServer, s3_bucket: str,
        s3_env: tuple[str, str]) -> None:
    feed = feed_server.add_feed("/feeds/news.atom", FakeFeed.synthetic(entries=40, page_size=15))
    workspace.storage_lines = storage_lines(seaweedfs, s3_bucket, object_lock_mode="COMPLIANCE")
    workspace.capture["media"] = False
    workspace.account("news", feed_server.url("/feeds/news.atom"), retention="NEWS-1Y")
    workspace.write(SERIES.format(action="destroy"))
    assert workspace.cli("harvest").code == 0
    client = seaweedfs.client()
    [first] = [o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket)["Contents"]]
    retention = client.get_object_retention(Bucket=s3_bucket, Key=first)["Retention"]
    # The feed's own profile has no posted time, so it counts from capture: capture + 1 year.
    assert retention["Mode"] == "COMPLIANCE"
    expected = datetime.now(UTC) + timedelta(days=366)
    assert abs(retention["RetainUntilDate"] - expected) < timedelta(days=2)

    storage = open_storage(workspace.config)
    key = first.removeprefix("city/")
    with pytest.raises(ObjectLocked):
        storage.delete(key)
    feed.edit(0, title="Council meeting moved")
    assert workspace.cli("harvest").code == 0
    plan = plan_id(workspace.cli("retention", "plan", "--as-of", AS_OF))
    assert workspace.cli("retention", "approve", plan, "--by", "R. Officer").code == 0
    applied = workspace.cli("retention", "apply", plan, "--json")
    assert applied.code == 0, applied.err
    certificate = applied.json()
    assert certificate["counts"]["items"] == 0 and certificate["counts"]["objects_refused"] == 1
    [refused] = certificate["objects"]
    assert refused["key"] == key and refused["outcome"] == "refused" and "COMPLIANCE retention" in refused["message"]
    assert storage.stat(key) is not None
    assert workspace.cli("show", f"news:{entry_id(3)}").code == 0  # not claimed as disposed

    held = workspace.cli("hold", "create", "--matter", "Doe v. City", "--account", "news", "--query", "Library")
    assert held.code == 0, held.err
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket)["Contents"]]

    def flag(key: str) -> str:
        try:
            return str(client.get_object_legal_hold(Bucket=s3_bucket, Key=key)["LegalHold"]["Status"])
        except client.exceptions.ClientError as exc:  # never had one
            assert "NoSuchObjectLegalHold" in str(exc)
            return "OFF"

    def flags() -> dict[str, str]:
        return {k: flag(k) for k in keys}

    shown = workspace.cli("hold", "show", "1", "--json").json()
    assert shown["items"] > 0 and shown["objects"]
    assert {f"city/{o['key']}" for o in shown["objects"]} == {k for k, v in flags().items() if v == "ON"}
    assert "ON" in flags().values()
    assert workspace.cli("hold", "release", "1", "--reason", "settled").code == 0
    assert set(flags().values()) == {"OFF"}
