"""Bluesky's Jetstream subscription (archiver serve): a post the agency deletes is evidenced within
seconds from its own repository's delete commit, archived as received and indexed like a webhook
delivery; reindex gives it back; a dropped connection resumes from its cursor; the parser reads
the recorded Jetstream events."""

from __future__ import annotations

import gzip
import json
import time
from datetime import UTC, datetime

from archiver.webhooks.intake import WebhookIntake
from archiver.webhooks.jetstream import start_subscriptions
from conftest import FIXTURES, Workspace
from connectors.base import CapturedResponse, Headers, VersionState
from connectors.bluesky.fakeappview import FakeBluesky
from connectors.bluesky.fakejetstream import FakeJetstream
from connectors.bluesky.parser import JETSTREAM_PREFIX, parse
from graph_helpers import items
from social_helpers import social_account
from storage import open_storage
from test_facebook_deletions import snapshot_with_metrics


def test_the_parser_reads_recorded_jetstream_events() -> None:
    def events(name: str) -> list:
        body = (FIXTURES / "bluesky" / name).read_bytes()
        return parse(CapturedResponse(f"{JETSTREAM_PREFIX}x", 200, Headers([]), body, datetime.now(UTC)))

    [gone] = events("jetstream_commit_delete_post.json")
    assert gone.platform_id == "at://did:plc:4smmjsqf6l5jkzczvw6vsrqc/app.bsky.feed.post/3mpt73z3ejc2p"
    assert gone.state is VersionState.DELETED
    for name in ("jetstream_commit_create_post_reply.json", "jetstream_identity_event.json",
                 "jetstream_account_event.json"):
        assert events(name) == []  # the next harvest brings what these announce


def _wait(condition: object, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_a_deleted_post_is_evidenced_within_seconds(workspace: Workspace) -> None:
    server = FakeBluesky.synthetic(posts=15, replies=40, seed=8)
    with server, FakeJetstream(server) as jetstream, social_account(
            workspace, "bluesky", server.handle, server.base_url, "city-bsky", token=None,
            jetstream_url=jetstream.url):
        assert workspace.cli("harvest").code == 0  # resolves the handle to its DID
        config = workspace.config
        db = workspace.index()
        intake = WebhookIntake(config, db, open_storage(config))
        [subscription] = start_subscriptions(config, db, intake)
        try:
            assert _wait(lambda: jetstream.connections)
            assert f"wantedDids={server.did.replace(':', '%3A')}" in jetstream.connections[0]
            doomed = server.posts[0]
            server.update(server.threads[server.posts[1].uri].replies[0].uri, "a reply edited meanwhile")  # not ours
            server.delete(doomed.uri)
            assert _wait(lambda: items(workspace, "city-bsky")[doomed.uri][1] == "deleted")
            jetstream.drop_all()  # the connection drops; the subscription comes back from its cursor
            second = server.posts[0]
            server.delete(second.uri)
            assert _wait(lambda: items(workspace, "city-bsky")[second.uri][1] == "deleted", 20)
            assert _wait(lambda: subscription.received == 2) and "cursor=" in jetstream.connections[-1]
        finally:
            subscription.stop()
            intake.stop()
            db.dispose()
        stored = [p for p in workspace.stored_warcs() if b"urn:archiver:jetstream:bluesky:" in
                  gzip.decompress(p.read_bytes())]
        assert len(stored) == 2  # each event in a WARC of its own, as received
        assert json.loads(json.dumps(server.events[-1]))["commit"]["operation"] == "delete"
    before = snapshot_with_metrics(workspace)
    assert workspace.cli("reindex").code == 0
    assert snapshot_with_metrics(workspace) == before
