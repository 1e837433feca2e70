"""``archiver serve``: Meta's handshake, forged deliveries refused and never stored, genuine ones
archived at once (and reindexed the same), their events made evidence, their objects re-fetched."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from waitress.server import create_server

from archiver.index.db import open_index
from archiver.webhooks.app import MetaWebhookApp
from archiver.webhooks.intake import WebhookIntake
from archiver.webhooks.meta import app_secrets
from conftest import FIXTURES, Workspace
from connectors.facebook.fakepage import FakePage
from graph_helpers import APP_SECRET, graph_account, items, warc_bytes
from storage import open_storage
from test_facebook_deletions import snapshot_with_metrics

VERIFY = "verify-me-5c1d"


@pytest.fixture
def receiver(workspace: Workspace) -> Iterator[tuple[Any, ...]]:
    page = FakePage.synthetic(posts=12, comments=120, seed=31)
    os.environ["TEST_VERIFY_TOKEN"] = VERIFY
    with graph_account(workspace, page, account_id=page.page_id, app_secret=True) as server:
        workspace.write('[serve]\nverify_token_env = "TEST_VERIFY_TOKEN"\n')
        assert workspace.cli("harvest").code == 0
        config = workspace.config
        db, storage = open_index(config.database_url), open_storage(config)
        intake = WebhookIntake(config, db, storage).start()
        app = MetaWebhookApp(config, intake, VERIFY, app_secrets(config))
        http = create_server(app, host="127.0.0.1", port=0, threads=2)
        thread = threading.Thread(target=http.run, daemon=True)
        thread.start()
        try:
            yield page, server, intake, f"http://127.0.0.1:{http.effective_port}/webhooks/meta"  # type: ignore[union-attr]
        finally:
            http.close()
            thread.join(5)
            intake.stop()
            db.dispose()
            os.environ.pop("TEST_VERIFY_TOKEN", None)


def _delivery(fixture: str, page: FakePage, **value: str) -> bytes:
    """A real delivery shape (from the recorded fixtures) about this Page's objects."""
    data = json.loads((FIXTURES / "facebook" / fixture).read_text())
    entry = copy.deepcopy(data["entry"][0] if "entry" in data else data)
    entry["id"] = page.page_id
    entry["changes"][0]["value"].update(value)
    return json.dumps({"object": "page", "entry": [entry]}).encode()


def _sign(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    return {"X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
            "Content-Type": "application/json"}


def _wait(intake: WebhookIntake, count: int) -> None:
    deadline = time.monotonic() + 20
    while len(intake.outcomes) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(intake.outcomes) >= count


def test_handshake_and_forged_deliveries(workspace: Workspace, receiver: tuple[Any, ...],
                                         caplog: pytest.LogCaptureFixture) -> None:
    page, _, intake, url = receiver
    ok = requests.get(url, params={"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"})
    assert ok.status_code == 200 and ok.text == "1158201444"
    wrong = requests.get(url, params={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"})
    assert wrong.status_code == 403
    before = [path.name for path, _, _ in warc_bytes(workspace)]
    comment = page.posts[0].comments[0]
    body = _delivery("webhook_feed_comment_hide_entry.json", page, comment_id=comment.id, post_id=page.posts[0].id)
    caplog.set_level(logging.WARNING)
    forged = requests.post(url, data=body, headers=_sign(body, "not-the-app-secret"))
    unsigned = requests.post(url, data=body, headers={"Content-Type": "application/json"})
    tampered = requests.post(url, data=body.replace(b'"hide"', b'"remove"'), headers=_sign(body))
    assert [r.status_code for r in (forged, unsigned, tampered)] == [403, 403, 403]
    assert caplog.text.count("refused a webhook POST") == 3 and "no X-Hub-Signature-256 header" in caplog.text
    assert APP_SECRET not in caplog.text and VERIFY not in caplog.text
    time.sleep(0.3)
    assert [path.name for path, _, _ in warc_bytes(workspace)] == before  # never stored as evidence
    assert not intake.outcomes and items(workspace)[comment.id][1] == "visible"


def test_a_genuine_delivery_is_archived_and_acted_on(workspace: Workspace, receiver: tuple[Any, ...]) -> None:
    page, server, intake, url = receiver
    post = next(p for p in page.posts if len(p.comments) > 3)
    comment = post.comments[1]
    comment.hidden = True  # the Page hid it; Meta tells us
    body = _delivery("webhook_feed_comment_hide_entry.json", page, comment_id=comment.id, post_id=post.id)
    server.calls.clear()
    answer = requests.post(url, data=body, headers=_sign(body))
    assert answer.status_code == 200
    # Archived before the answer: the delivery, as received, is a record in a stored WARC.
    stored = [plain for path, _, plain in warc_bytes(workspace) if b"urn:archiver:webhook:meta:" in plain]
    assert len(stored) == 1 and body in stored[0] and b"X-Hub-Signature-256 verified" in stored[0]
    history = workspace.cli("show", f"city-fb:{comment.id}", "--json").json()
    assert [v["state"] for v in history["versions"]] == ["visible", "hidden"]
    assert history["versions"][1]["first_evidence"]["target_uri"].startswith("urn:archiver:webhook:meta:")
    # ...then the comment itself is re-fetched through the normal harvest path: same state, no new version.
    _wait(intake, 1)
    assert intake.outcomes[0].ok and [c.path for c in server.api_calls()] == [f"/v26.0/{comment.id}"]
    history = workspace.cli("show", f"city-fb:{comment.id}", "--json").json()
    assert len(history["versions"]) == 2 and history["versions"][1]["last_evidence"]["status"] == 200
    # A whole post removed: the delivery says so, the re-fetch confirms it and takes its comments along.
    doomed = page.posts[-1]
    children = [c.id for c in doomed.comments]
    page.delete_post(doomed.id)
    removal = _delivery("webhook_feed_post_remove.json", page, post_id=doomed.id)
    assert requests.post(url, data=removal, headers=_sign(removal)).status_code == 200
    assert items(workspace)[doomed.id][1] == "deleted"
    _wait(intake, 2)
    found = items(workspace)
    assert children and all(found[c][1] == "deleted" for c in children)
    # Targeted re-fetches claim no coverage and leave no gap.
    assert workspace.cli("coverage", "city-fb", "--json").json()["complete"]
    before = snapshot_with_metrics(workspace)
    assert workspace.cli("reindex").code == 0
    assert snapshot_with_metrics(workspace) == before
    assert not list(Path(workspace.root / "data" / "spool").rglob("*.warc.gz"))


def test_the_serve_command_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    import signal
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / "archiver.toml").write_text(
        f'[archiver]\ndata_dir = "data"\n[serve]\nport = {port}\nverify_token_env = "TEST_VERIFY_TOKEN"\n'
        '[[accounts]]\nname = "city-fb"\nplatform = "facebook"\nid = "1740000000001"\n'
        'token_env = "TEST_PAGE_TOKEN"\napp_secret_env = "TEST_APP_SECRET"\n')
    env = os.environ | {"TEST_VERIFY_TOKEN": VERIFY, "TEST_PAGE_TOKEN": "t0ken-for-serve",
                        "TEST_APP_SECRET": APP_SECRET, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    process = subprocess.Popen([sys.executable, "-m", "archiver", "--config", str(tmp_path / "archiver.toml"), "serve"],
                               env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).text == "ok":
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        url = f"http://127.0.0.1:{port}/webhooks/meta"
        assert requests.get(url, params={"hub.mode": "subscribe", "hub.verify_token": VERIFY,
                                         "hub.challenge": "77"}).text == "77"
        assert requests.post(url, data=b"{}").status_code == 403
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=20)
    assert process.returncode == 0 and "refused a webhook POST" in err and APP_SECRET not in err


def test_serve_on_a_port_in_use_fails_in_one_line(workspace: Workspace) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        workspace.write()
        result = workspace.cli("serve", "--port", str(port))
    assert result.code == 1
    assert result.err.strip().splitlines()[-1] == (
        f"archiver: cannot listen on 127.0.0.1:{port}: Address already in use; stop what uses that port, "
        "or choose another with [serve] port or --port")
    assert "Traceback" not in result.err


def test_signed_deliveries_of_odd_shapes_get_400_and_are_not_stored(
        workspace: Workspace, receiver: tuple[Any, ...], caplog: pytest.LogCaptureFixture) -> None:
    page, _, intake, url = receiver
    before = [path.name for path, _, _ in warc_bytes(workspace)]
    comment = page.posts[0].comments[0]
    odd = [{"object": "page", "entry": 5},
           {"object": "page", "entry": [5, "x"]},
           {"object": "page", "entry": [{"id": page.page_id, "changes": "feed"}]},
           {"object": "page", "entry": [{"id": {"page": page.page_id}, "changes": []}]},
           {"object": "page", "entry": [{"id": page.page_id, "changes": [{"field": "feed", "value": [1, 2]}]}]},
           {"object": "page", "entry": [{"id": page.page_id, "changes": [{"field": "feed", "value": {
               "item": {"comment": True}, "verb": "remove", "comment_id": comment.id}}]}]},
           {"object": "page", "entry": [{"id": page.page_id, "changes": [{"field": "feed", "value": {
               "item": "comment", "verb": "hide", "comment_id": {"id": comment.id}}}]}]},
           {"object": {"page": 1}, "entry": []}, None, 42, ["page"]]
    bodies = [json.dumps(shape).encode() for shape in odd]
    bodies.append(b"[" * 100_000 + b"]" * 100_000)  # past what any JSON parser recurses into
    deep: Any = comment.id
    for _ in range(200):
        deep = {"x": deep}
    value = {"item": "comment", "verb": "hide", "comment_id": comment.id, "x": deep}
    bodies.append(json.dumps({"object": "page", "entry": [{"id": page.page_id, "changes": [
        {"field": "feed", "value": value}]}]}).encode())
    bodies.append(b'{"object": "page", "entry": [\xff\xfe]}')  # not UTF-8
    caplog.set_level(logging.WARNING)
    answers = [requests.post(url, data=body, headers=_sign(body)) for body in bodies]
    assert [a.status_code for a in answers] == [400] * len(bodies), [a.text for a in answers]
    assert "Traceback" not in caplog.text and caplog.text.count("nothing stored") == len(bodies)
    time.sleep(0.3)
    assert [path.name for path, _, _ in warc_bytes(workspace)] == before and not intake.outcomes


def test_replays_of_a_delivery_are_stored_once_and_refetched_once(workspace: Workspace,
                                                                  receiver: tuple[Any, ...]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    page, server, intake, url = receiver
    post = page.posts[2]
    comment = post.comments[0]
    body = _delivery("webhook_feed_comment_hide_entry.json", page, comment_id=comment.id, post_id=post.id)
    server.calls.clear()
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: requests.post(url, data=body, headers=_sign(body)).status_code, range(100)))
    assert answers == [200] * 100
    _wait(intake, 1)
    time.sleep(0.5)  # a second re-fetch, were one queued, would have run by now
    again = requests.post(url, data=body, headers=_sign(body))  # a later replay, from the index this time
    assert again.status_code == 200
    time.sleep(0.3)
    uri = b"urn:archiver:webhook:meta:" + hashlib.sha256(body).hexdigest().encode()
    records = sum(plain.count(b"WARC-Target-URI: " + uri) for _, _, plain in warc_bytes(workspace))
    assert records == 1
    assert len(intake.outcomes) == 1 and [c.path for c in server.api_calls()] == [f"/v26.0/{comment.id}"]
