"""YouTube push through ``archiver serve``: subscribed at a local hub that verifies like the real one,
signed pushes archived and acted on within seconds, tombstones deleting only on the API's word,
forged pushes refused and never stored, replays stored once, odd bodies answered 400."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from waitress.server import create_server

from archiver.index.db import open_index
from archiver.web.dispatch import Dispatch
from archiver.webhooks.intake import WebhookIntake
from archiver.webhooks.subscriber import WebSubSubscriber
from archiver.webhooks.websub import YouTubePushApp, push_accounts
from conftest import Workspace
from connectors.youtube.fakechannel import FakeChannel, FakeVideo
from connectors.youtube.fakehub import FakeHub, tombstone_push, upload_push
from connectors.youtube.fakeserver import FakeYouTubeServer
from connectors.youtube.websub import topic
from graph_helpers import warc_bytes
from storage import open_storage
from test_reindex import snapshot
from test_x import latest
from xyt_helpers import youtube_account

SECRET = "websub-hub-secret-4e7d19"  # throwaways for the local fakes only
VERIFY = "verify-yt-0c55"
ENV = {"TEST_YT_WEBSUB": SECRET, "TEST_YT_VERIFY": VERIFY}


@dataclass
class Push:
    channel: FakeChannel
    api: FakeYouTubeServer
    hub: FakeHub
    intake: WebhookIntake
    receiver: YouTubePushApp
    url: str


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _until(check: Callable[[], Any], seconds: float = 15.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.05)
    raise AssertionError(f"not within {seconds} s")


def _sign(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"X-Hub-Signature": "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest(),
            "Content-Type": "application/atom+xml"}


def _not_found(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found"]


@pytest.fixture
def push(workspace: Workspace) -> Iterator[Push]:
    channel = FakeChannel.synthetic(videos=6, comments=40, seed=21, days=10)
    os.environ.update(ENV)
    port = _free_port()
    try:
        with FakeHub() as hub, youtube_account(workspace, channel, websub_secret_env="TEST_YT_WEBSUB") as api:
            hub.lease_seconds = 2  # short leases: the subscriber must renew while the tests run
            workspace.write(f'[serve]\npublic_url = "http://127.0.0.1:{port}/"\nwebsub_hub = "{hub.subscribe_url}"\n'
                            'verify_token_env = "TEST_YT_VERIFY"\n')
            assert workspace.cli("harvest").code == 0
            config = workspace.config
            db, storage = open_index(config.database_url), open_storage(config)
            intake = WebhookIntake(config, db, storage).start()
            receiver = YouTubePushApp(config, intake, VERIFY)
            subscriber = WebSubSubscriber(config, list(push_accounts(config).values()), VERIFY, receiver.secrets,
                                          retry_seconds=(0.2,))
            receiver.on_lease = subscriber.leased
            http = create_server(Dispatch({"/webhooks/youtube": receiver}, _not_found), host="127.0.0.1", port=port,
                                 threads=4)
            thread = threading.Thread(target=http.run, daemon=True)
            thread.start()
            subscriber.start()
            try:
                _until(lambda: hub.active(channel.channel_id))
                api.calls.clear()
                yield Push(channel, api, hub, intake, receiver, f"http://127.0.0.1:{port}/webhooks/youtube")
            finally:
                subscriber.stop()
                http.close()
                thread.join(5)
                intake.stop()
                db.dispose()
    finally:
        for key in ENV:
            os.environ.pop(key, None)


def _outcomes(push: Push, count: int) -> None:
    _until(lambda: len(push.intake.outcomes) >= count, 20)


def _pushed(workspace: Workspace) -> list[bytes]:
    return [plain for _, _, plain in warc_bytes(workspace) if b"urn:archiver:webhook:websub:" in plain]


def test_the_subscription_is_verified_by_the_hub_and_renewed_before_the_lease_ends(
        push: Push, caplog: pytest.LogCaptureFixture) -> None:
    [asked, *_] = push.hub.requests
    assert asked["hub.mode"] == "subscribe" and asked["hub.topic"] == topic(push.channel.channel_id)
    assert asked["hub.callback"] == push.url and asked["hub.secret"] == SECRET and asked["hub.verify_token"] == VERIFY
    first = push.hub.verifications[0]
    assert first.confirmed and first.status == 200 and first.lease_seconds == 2
    # The lease runs out after 2 s; renewed at four fifths, the subscription is renewed again and again
    # (waited for, not slept: a loaded machine renews late, never not at all).
    _until(lambda: len([v for v in push.hub.verifications if v.confirmed and v.mode == "subscribe"]) >= 3
           and push.hub.active(push.channel.channel_id), 20)
    # The callback answers only for what the archive follows, with its verify token.
    challenge = {"hub.mode": "subscribe", "hub.topic": topic(push.channel.channel_id), "hub.challenge": "c-81",
                 "hub.lease_seconds": "60", "hub.verify_token": VERIFY}
    assert requests.get(push.url, params=challenge).text == "c-81"
    stranger = requests.get(push.url, params=challenge | {"hub.topic": topic("UCsomeoneElse0000000000")})
    wrong = requests.get(push.url, params=challenge | {"hub.verify_token": "guess"})
    other = requests.get(push.url, params=challenge | {"hub.topic": "https://example.org/feed?channel_id=x"})
    unsub = requests.get(push.url, params={k: v for k, v in challenge.items() if k != "hub.verify_token"}
                         | {"hub.mode": "unsubscribe"})
    assert [stranger.status_code, wrong.status_code, other.status_code, unsub.status_code] == [404, 403, 404, 403]
    assert "c-81" not in stranger.text + wrong.text + other.text + unsub.text
    assert "not a configured YouTube account" in caplog.text and "wrong or missing hub.verify_token" in caplog.text
    # The hub has a bad day: the lease lapses, the subscriber keeps asking, and is subscribed again after.
    push.hub.status = 503
    _until(lambda: not push.hub.active(push.channel.channel_id), 5)
    _until(lambda: "the hub answered 503" in caplog.text, 5)
    push.hub.status = None
    _until(lambda: push.hub.active(push.channel.channel_id), 5)
    assert SECRET not in caplog.text and VERIFY not in caplog.text


def test_a_signed_push_of_a_changed_video_gives_a_new_version_within_seconds(workspace: Workspace,
                                                                             push: Push) -> None:
    video = next(v for v in push.channel.videos if v.privacy != "private" and v.threads)
    before = latest(workspace, "city-yt")[video.id]
    video.title = f"{video.title} (amended agenda)"
    body = upload_push(push.channel.channel_id, video.id, video.title)
    started = time.monotonic()
    assert push.hub.publish(push.channel.channel_id, body) == [200]
    [stored] = _pushed(workspace)  # archived before the answer, as received
    assert body in stored and b"X-Hub-Signature verified" in stored and b"application/atom+xml" in stored
    assert SECRET.encode() not in stored
    _outcomes(push, 1)
    after = latest(workspace, "city-yt")[video.id]
    assert time.monotonic() - started < 10 and push.intake.outcomes[0].ok
    assert after[1] == before[1] + 1 and after[2]["title"] == video.title
    calls = [(c.path.rsplit("/", 1)[-1], c.query.get("id") or c.query.get("videoId"))
             for c in push.api.api_calls("/youtube/v3/")]
    assert ("videos", video.id) in calls and ("commentThreads", video.id) in calls
    assert {resource_id for _, resource_id in calls} == {video.id}  # that one video only
    assert workspace.cli("coverage", "city-yt", "--json").json()["complete"]  # a re-fetch claims no coverage
    reference = snapshot(workspace)
    assert workspace.cli("reindex").code == 0
    assert snapshot(workspace) == reference  # the push record reads as nothing, the re-fetch as before
    assert workspace.cli("accounts", "--json").json()[0]["quarantined"] == 0  # and is no parse failure


def _comments_of(video: FakeVideo) -> list[str]:
    return [c.id for t in video.threads for c in [t, *t.replies]]


def test_a_tombstone_deletes_only_when_the_api_confirms(workspace: Workspace, push: Push) -> None:
    video = next(v for v in push.channel.videos if v.privacy != "private" and v.threads)
    versions = latest(workspace, "city-yt")[video.id][1]
    # Tombstones arrive for videos YouTube still serves (made unlisted, a hub's mistake): nothing changes.
    assert push.hub.publish(push.channel.channel_id, tombstone_push(push.channel.channel_id, video.id)) == [200]
    _outcomes(push, 1)
    assert latest(workspace, "city-yt")[video.id][:2] == ("visible", versions)
    calls = [c.path.rsplit("/", 1)[-1] for c in push.api.api_calls("/youtube/v3/")]
    assert calls.count("videos") == 1 and calls[-1] == "playlistItems"  # re-fetched, found in the uploads
    assert push.api.api_calls("/youtube/v3/playlistItems")[0].query["videoId"] == video.id
    # Made private: a key sees no item in videos.list, but the uploads list it as private: unavailable.
    private = next(v for v in push.channel.videos if v.privacy != "private" and v.threads and v is not video)
    private.privacy = "private"
    assert push.hub.publish(push.channel.channel_id, tombstone_push(push.channel.channel_id, private.id)) == [200]
    _outcomes(push, 2)
    assert latest(workspace, "city-yt")[private.id][0] == "unavailable"
    # Deleted for real: the lookup's empty items deletes the video, and its comments go with it.
    video.deleted = True
    later = tombstone_push(push.channel.channel_id, video.id, when="2026-12-04T11:00:00+00:00")
    assert push.hub.publish(push.channel.channel_id, later) == [200]
    _outcomes(push, 3)
    found = latest(workspace, "city-yt")
    assert found[video.id][0] == "deleted" and found[private.id][0] == "unavailable"
    assert _comments_of(video) and all(found[c][0] == "deleted" for c in _comments_of(video))
    assert sum(1 for state, *_ in found.values() if state == "deleted") == 1 + len(_comments_of(video))
    reference = snapshot(workspace)
    assert workspace.cli("reindex").code == 0
    assert snapshot(workspace) == reference


def test_forged_and_unsigned_pushes_are_refused_and_never_stored(workspace: Workspace, push: Push,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    video = push.channel.videos[0]
    body = upload_push(push.channel.channel_id, video.id, "Forged title")
    before = [path.name for path, _, _ in warc_bytes(workspace)]
    caplog.set_level(logging.WARNING)
    assert push.hub.publish(push.channel.channel_id, body, secret="not-the-secret") == [403]
    unsigned = requests.post(push.url, data=body, headers={"Content-Type": "application/atom+xml"})
    tampered = requests.post(push.url, data=body.replace(b"Forged", b"Faked!"), headers=_sign(body))
    odd_scheme = requests.post(push.url, data=body, headers={"X-Hub-Signature": "sha256=" + hmac.new(
        SECRET.encode(), body, hashlib.sha256).hexdigest()})
    assert [unsigned.status_code, tampered.status_code, odd_scheme.status_code] == [403, 403, 403]
    assert caplog.text.count("refused a YouTube push") == 4 and "nothing stored" in caplog.text
    assert SECRET not in caplog.text and "Forged title" not in caplog.text and "sha1=" not in caplog.text
    time.sleep(0.3)
    assert [path.name for path, _, _ in warc_bytes(workspace)] == before and not push.intake.outcomes
    assert not push.api.api_calls("/youtube/v3/")


def test_replays_of_a_push_are_stored_once_and_refetched_once(workspace: Workspace, push: Push) -> None:
    from concurrent.futures import ThreadPoolExecutor

    video = push.channel.videos[1]
    body = upload_push(push.channel.channel_id, video.id, video.title)
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: requests.post(push.url, data=body, headers=_sign(body)).status_code,
                                range(40)))
    assert answers == [200] * 40
    _outcomes(push, 1)
    time.sleep(0.5)  # a second re-fetch, were one queued, would have run by now
    assert requests.post(push.url, data=body, headers=_sign(body)).status_code == 200  # later: found in the index
    time.sleep(0.3)
    uri = b"urn:archiver:webhook:websub:" + hashlib.sha256(body).hexdigest().encode()
    assert sum(plain.count(b"WARC-Target-URI: " + uri) for _, _, plain in warc_bytes(workspace)) == 1
    assert len(push.intake.outcomes) == 1


def test_signed_pushes_of_odd_shapes_get_400_and_are_not_stored(workspace: Workspace, push: Push,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    channel_id, video = push.channel.channel_id, push.channel.videos[0].id
    good = upload_push(channel_id, video, "x")
    bodies = [
        b'{"object": "page", "entry": []}',
        b"<rss version='2.0'><channel/></rss>",
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>empty</title></feed>',
        good.replace(video.encode(), b"<bad id>").replace(b"&lt;", b"<"),
        good.replace(video.encode(), b"no/slashes/here"),
        upload_push("UCnotFollowedByThisArchive0", video, "x"),
        good[: len(good) // 2],
        good.replace(b"<title>x</title>", b"<title>\xff\xfe</title>"),
        tombstone_push(channel_id, video).replace(b"yt:video:", b"yt:channel:"),
        b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
        b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>&lol2;</title></entry></feed>',
        b'<feed xmlns="http://www.w3.org/2005/Atom">' + b"<entry/>" * 60 + b"</feed>",
        b"<a>" * 50_000 + b"</a>" * 50_000,
        b"",
    ]
    caplog.set_level(logging.WARNING)
    before = [path.name for path, _, _ in warc_bytes(workspace)]
    answers = [requests.post(push.url, data=body, headers=_sign(body)) for body in bodies]
    assert [a.status_code for a in answers] == [400] * len(bodies), [a.text for a in answers]
    assert "Traceback" not in caplog.text and caplog.text.count("nothing stored") == len(bodies)
    huge = b" " * (workspace.config.serve.max_body_bytes + 1)
    assert requests.post(push.url, data=huge, headers=_sign(huge)).status_code == 413
    time.sleep(0.3)
    assert [path.name for path, _, _ in warc_bytes(workspace)] == before and not push.intake.outcomes


def test_archiver_serve_subscribes_and_refetches_on_a_push(workspace: Workspace) -> None:
    import signal
    import subprocess
    import sys
    from pathlib import Path

    channel = FakeChannel.synthetic(videos=3, comments=12, seed=22, days=10)
    port = _free_port()
    with FakeHub() as hub, youtube_account(workspace, channel, websub_secret_env="TEST_YT_WEBSUB"):
        workspace.write(f'[serve]\nport = {port}\npublic_url = "http://127.0.0.1:{port}"\n'
                        f'websub_hub = "{hub.subscribe_url}"\n')
        os.environ.update(ENV)
        try:
            assert workspace.cli("harvest").code == 0
            env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        finally:
            for key in ENV:
                os.environ.pop(key, None)
        process = subprocess.Popen([sys.executable, "-m", "archiver", "--config", str(workspace.config_path), "serve"],
                                   env=env, stderr=subprocess.PIPE, text=True)
        try:
            _until(lambda: hub.active(channel.channel_id), 30)
            video = channel.videos[0]
            versions = latest(workspace, "city-yt")[video.id][1]
            video.title = "Budget hearing (rescheduled)"
            assert hub.publish(channel.channel_id, upload_push(channel.channel_id, video.id, video.title)) == [200]
            _until(lambda: latest(workspace, "city-yt")[video.id][1] == versions + 1, 20)
            assert latest(workspace, "city-yt")[video.id][2]["title"] == video.title
        finally:
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err[-2000:]
    assert "webhooks at /webhooks/youtube" in err and SECRET not in err


def test_a_named_websub_secret_that_is_not_set_stops_serve_in_one_line(workspace: Workspace) -> None:
    channel = FakeChannel.synthetic(videos=1, comments=0, seed=23, days=3)
    with FakeHub() as hub, youtube_account(workspace, channel, websub_secret_env="TEST_YT_WEBSUB_UNSET"):
        workspace.write(f'[serve]\nport = {_free_port()}\npublic_url = "http://127.0.0.1:9"\n'
                        f'websub_hub = "{hub.subscribe_url}"\n')
        result = workspace.cli("serve")
    assert result.code != 0 and "accounts.city-yt.websub_secret_env" in result.err and "Traceback" not in result.err
    assert not hub.requests  # nothing asked of the hub, no push taken unsigned


def test_mutated_pushes_are_read_or_refused_never_a_crash() -> None:
    import random

    from conftest import FIXTURES
    from connectors.youtube.websub import PushProblem, parse_push
    from mutations import mutate

    rng = random.Random(2026)
    samples = [(FIXTURES / "youtube" / name).read_bytes()
               for name in ("docs_websub_push_notification.xml", "observed_websub_deleted_entry.xml")]
    read = refused = 0
    for case in range(300):
        body, done = mutate(samples[case % 2], rng, xml=True)
        try:
            entries = parse_push(body)
        except PushProblem:
            refused += 1
            continue
        read += 1
        assert entries and all(e.video_id.replace("-", "").replace("_", "").isalnum() for e in entries), done
    assert read + refused == 300 and refused  # anything else raised would have failed the test above
    assert [e.deleted for sample in samples for e in parse_push(sample)] == [False, True]
