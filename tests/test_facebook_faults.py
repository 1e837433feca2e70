"""Facebook harvests under throttling, an expiring token, a lost permission and broken payloads:
slower or stopped, never losing what was captured, never advancing the cursor over a gap, and
never letting the token into a record, a log line or an export."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from archiver.index.models import Account, Harvest
from conftest import ROOT, Workspace
from connectors.facebook.fakepage import FakePage
from graph_helpers import APP_SECRET, TOKEN, graph_account, items, set_token, warc_bytes


def _account(workspace: Workspace) -> Account:
    db = workspace.index()
    with db.session() as session:
        account = session.scalar(select(Account).where(Account.name == "city-fb"))
        assert account is not None
        session.expunge(account)
    db.dispose()
    return account


def _complete(workspace: Workspace, page: FakePage) -> None:
    """The index holds exactly what the Page holds."""
    found = items(workspace)
    truth = set(page.truth())
    assert truth <= set(found)
    assert sum(1 for kind, *_ in found.values() if kind != "profile") == len(truth)


def test_a_throttled_run_finishes_later_but_complete(workspace: Workspace) -> None:
    page = FakePage.synthetic(posts=80, comments=900, seed=11)
    options = {"page_size": 20, "throttle_backoff_seconds": 0.1, "pace_seconds": 0.05, "max_throttle_wait": "2m"}
    with graph_account(workspace, page, account_id=page.page_id, **options) as server:
        assert workspace.cli("harvest").code == 0
        server.budget, server.window_seconds = 4, 0.4  # four calls per 0.4 s, then code 80001
        started = time.perf_counter()
        result = workspace.cli("-v", "harvest", "--json")
        throttled = time.perf_counter() - started
        assert result.code == 0, result.err
        refused = [c for c in server.api_calls() if c.status == 400]
    assert refused
    assert "waiting until" in result.err and "80001" in result.err  # why, and until when
    _complete(workspace, page)
    db = workspace.index()
    with db.session() as session:
        last = session.scalars(select(Harvest).order_by(Harvest.id.desc())).first()
        assert last is not None and last.complete
        notes = last.coverage["notes"]
    db.dispose()
    assert sum(note.startswith("waited until") for note in notes) == len(refused)
    [calls] = [note for note in notes if "Graph API calls" in note]
    waited = float(calls.split("throttled, ")[1].split(" s waited")[0])
    assert waited > 0 and throttled >= waited  # later, by the waits, and complete
    assert _account(workspace).status == "active"


def test_an_expired_token_stops_cleanly_and_the_next_harvest_fills_the_gap(workspace: Workspace) -> None:
    page = FakePage.synthetic(posts=80, comments=900, seed=13, now=datetime.now(UTC) - timedelta(days=2))
    with graph_account(workspace, page, account_id=page.page_id, page_size=10) as server:
        assert workspace.cli("harvest").code == 0
        before = _account(workspace).cursor
        # While the token is valid a while longer, the city keeps posting and residents commenting.
        now = datetime.now(UTC)
        for index in range(30):
            post = page.add_post(now - timedelta(minutes=index), f"gap notice {index}")
            page.add_comment(post, now, f"gap comment {index}", ("77", "Resident"))
        server.expire_after = 3  # mid-harvest
        result = workspace.cli("harvest")
        assert result.code == 1 and "token has expired" in result.err and "190/463" in result.err
        account = _account(workspace)
        assert account.status == "disconnected" and "set a new Page token" in (account.status_reason or "")
        assert account.cursor == before  # advanced no cursor
        partial = items(workspace)
        gap_posts = {p.id for p in page.posts if p.message.startswith("gap notice")}
        assert 0 < len(gap_posts & partial.keys()) < len(gap_posts)  # what came before the stop is kept
        assert workspace.cli("coverage", "city-fb", "--json").json()["spans"][-1]["causes"][0]["cause"] == "token"
        # The operator sets a new token; the next harvest lists back over the gap.
        server.tokens.add("EAAGnewPageToken9z8y7x6w5v")
        server.expire_after = None
        set_token("EAAGnewPageToken9z8y7x6w5v")
        again = workspace.cli("harvest")
        assert again.code == 0, again.err
    _complete(workspace, page)
    assert partial.keys() <= items(workspace).keys()  # nothing captured before the stop was lost
    account = _account(workspace)
    assert account.status == "active" and account.cursor != before
    spans = workspace.cli("coverage", "city-fb", "--json").json()["spans"]
    assert any(span["state"] == "gap" and span["filled_at"] for span in spans)


def test_the_page_token_never_appears_in_records_logs_or_exports(workspace: Workspace, caplog: object) -> None:
    page = FakePage.synthetic(posts=40, comments=300, seed=17)
    with graph_account(workspace, page, account_id=page.page_id, page_size=10, app_secret=True) as server:
        logging.getLogger().setLevel(logging.DEBUG)
        first = workspace.cli("-vv", "harvest")
        assert first.code == 0, first.err
        assert all("appsecret_proof" in c.query for c in server.api_calls())
        server.expire_after = 0  # an error answer too
        failed = workspace.cli("-vv", "harvest")
        assert failed.code == 1
    jsonl = workspace.cli("export", "--format", "jsonl", "--out", str(workspace.root / "out-jsonl"))
    warc = workspace.cli("export", "--format", "warc", "--out", str(workspace.root / "out-warc"))
    assert jsonl.code == 0 and warc.code == 0
    secrets = [TOKEN.encode(), APP_SECRET.encode()]
    blobs = [raw + plain for _, raw, plain in warc_bytes(workspace)]
    blobs += [p.read_bytes() for p in (workspace.root / "out-jsonl").iterdir()]
    blobs += [p.read_bytes() for p in (workspace.root / "out-warc").iterdir()]
    import gzip

    blobs += [gzip.decompress(p.read_bytes()) for p in (workspace.root / "out-warc").glob("*.warc.gz")]
    logs = first.out + first.err + failed.out + failed.err + caplog.text  # type: ignore[attr-defined]
    blobs.append(logs.encode())
    assert b"access_token=REDACTED" in b"".join(blobs)  # the next links were there, masked
    for blob in blobs:
        for secret in secrets:
            assert secret not in blob


def test_a_missing_permission_is_named_and_deletes_nothing(workspace: Workspace) -> None:
    page = FakePage.synthetic(posts=20, comments=100, seed=19)
    with graph_account(workspace, page, account_id=page.page_id) as server:
        assert workspace.cli("harvest").code == 0
        server.permissions.discard("pages_read_user_content")
        page.delete_post(page.posts[0].id)
        result = workspace.cli("harvest")
    assert result.code == 1 and "lacks pages_read_user_content" in result.err and "(Graph error 10)" in result.err
    assert all(state != "deleted" for _, state, _, _ in items(workspace).values())
    assert workspace.cli("coverage", "city-fb", "--json").json()["spans"][-1]["causes"][0]["cause"] == "permission"


def test_a_payload_that_does_not_parse_is_kept_and_reported(workspace: Workspace) -> None:
    page = FakePage.synthetic(posts=10, comments=40, seed=23)
    with graph_account(workspace, page, account_id=page.page_id) as server:
        server.truncate = True
        result = workspace.cli("harvest")
    assert result.code == 1 and "not a Graph object (kept in facebook-city-fb-" in result.err
    cut = [plain for _, _, plain in warc_bytes(workspace) if b'{"id":"1740000000001","name":"City of Spr' in plain]
    assert cut  # the broken bytes are in the record
    assert _account(workspace).cursor == {}


def test_a_stop_ends_a_throttled_wait_at_once(workspace: Workspace) -> None:
    """Meta may ask a throttled app to wait an hour; SIGTERM must not wait with it."""
    page = FakePage.synthetic(posts=40, comments=200, seed=17)
    options = {"page_size": 10, "throttle_backoff_seconds": 3600.0, "max_throttle_wait": "4h"}
    with graph_account(workspace, page, account_id=page.page_id, **options) as server:
        server.budget, server.window_seconds = 3, 3600.0  # three calls, then code 80001 for an hour
        config = workspace.write()
        process = subprocess.Popen([sys.executable, "-m", "archiver", "--config", str(config), "harvest"], cwd=ROOT,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env=os.environ | {"PYTHONPATH": str(ROOT)})
        deadline = time.monotonic() + 60
        while not [c for c in server.api_calls() if c.status == 400] and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # inside the hour-long wait
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        _, err = process.communicate(timeout=60)
        stopped_in = time.monotonic() - started
    assert stopped_in < 30, err  # not the hour the platform asked for
    assert workspace.spool_files() == []  # what was captured is sealed and stored
    db = workspace.index()
    with db.session() as session:
        assert session.scalars(select(Harvest.status)).all() == ["interrupted"]
    db.dispose()
    assert not _account(workspace).cursor  # nothing complete: the cursor did not move
