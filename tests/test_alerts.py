"""Alerts: a webhook receiver and a real SMTP server get exactly the expected alerts, repeats and all-clears.

The conditions are real: an expired token and a quota stop from the fake Graph API over sockets,
SeaweedFS stopped and started again, a stored WARC changed behind the archiver's back and found
by fixity, a legal hold the store could not take while it was down. The checks run with a clock
the test moves, so "a day later" takes no time.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from archiver.alerts.conditions import KINDS, Kind
from archiver.alerts.monitor import AlertMonitor
from archiver.index.models import Account, WarcFile
from archiver.retention import holds
from archiver.service.health import probe_of
from conftest import Workspace
from connectors.facebook.fakepage import FakePage
from connectors.rss.fakeserver import FakeFeed, FakeFeedServer
from graph_helpers import APP_SECRET, TOKEN, graph_account, set_token
from seaweed import TEST_SECRET, storage_lines
from service_helpers import SMTP_PASSWORD, SMTP_USER, AlertReceiver, MailServer, StoppableSeaweed
from storage import open_storage

NEW_TOKEN = "EAAGrenewedPageToken9z8y7x6w5v4u3t2s1r"
HOOK_PATH = "/hooks/T000/B000/XXXX"  # the receiver's URL is a credential, like Slack's


@pytest.fixture
def alert_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERT_SMTP_USER", SMTP_USER)
    monkeypatch.setenv("ALERT_SMTP_PASSWORD", SMTP_PASSWORD)


def _alerts_section(receiver: AlertReceiver, mail: MailServer, monkeypatch: pytest.MonkeyPatch, **extra: Any) -> str:
    monkeypatch.setenv("ALERT_WEBHOOK_URL", receiver.url)
    lines = ['[alerts]', 'webhook_url_env = "ALERT_WEBHOOK_URL"', mail.config("ALERT_SMTP_USER", "ALERT_SMTP_PASSWORD")]
    lines += [f"{key} = {json.dumps(value)}" for key, value in extra.items()]
    return "\n".join(lines) + "\n"


def _events(receiver: AlertReceiver, mail: MailServer, since: tuple[int, int]) -> tuple[set[Any], set[Any]]:
    """(event, kind, subject) of the webhook bodies and (event, kind) of the e-mails after ``since``."""
    hooks = {(b["event"], b["kind"], b["subject"]) for b in receiver.bodies[since[0]:]}
    mails = {tuple(m["X-Archiver-Alert"].split()) for m in mail.messages[since[1]:]}
    return hooks, mails


def _mark(receiver: AlertReceiver, mail: MailServer) -> tuple[int, int]:
    return len(receiver.bodies), len(mail.messages)


def test_expired_token_quota_stop_storage_down_fixity_and_hold_alerts_repeat_and_clear(
        workspace: Workspace, stoppable_seaweed: StoppableSeaweed, s3_env: tuple[str, str], alert_env: None,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = stoppable_seaweed
    bucket = server.bucket(object_lock=True)
    workspace.storage_lines = storage_lines(server, bucket)
    city, county = FakePage.synthetic(posts=6, comments=20, seed=3), FakePage.synthetic(posts=4, comments=8, seed=4)
    with AlertReceiver() as receiver, MailServer(tmp_path) as mail, \
            graph_account(workspace, city, account_id=city.page_id) as city_api, \
            graph_account(workspace, county, account_id=county.page_id, name="county-fb",
                          max_throttle_wait="1m") as county_api:
        workspace.write(_alerts_section(receiver, mail, monkeypatch))
        assert workspace.cli("harvest", "city-fb").code == 0
        city_api.expire_after = 0  # the Page token expires (190/463)
        assert workspace.cli("harvest", "city-fb").code == 1
        county_api.budget, county_api.regain_minutes = 0, 60  # throttled for an hour: more than it may wait
        quota = workspace.cli("harvest", "county-fb")
        assert quota.code == 1 and "max_throttle_wait" in quota.err

        config, db = workspace.config, workspace.index()
        storage = open_storage(config)
        with db.session() as session:
            key = session.scalars(select(WarcFile.key).join(Account, Account.id == WarcFile.account_id)
                                  .where(Account.name == "city-fb").order_by(WarcFile.id)).first()
        assert key is not None
        s3 = server.client()
        name = f"city/{key}"
        original = s3.get_object(Bucket=bucket, Key=name)["Body"].read()
        changed = s3.put_object(Bucket=bucket, Key=name, Body=original[:100] + b"X" + original[101:])["VersionId"]
        assert workspace.cli("verify", "--all").code == 1

        monitor = AlertMonitor(config, db, probe_of(storage.check))
        t0 = datetime.now(UTC)
        mark = _mark(receiver, mail)
        report = monitor.check(t0)
        opened = {("opened", "account-disconnected", "city-fb"), ("opened", "quota-stop", "county-fb"),
                  ("opened", "fixity-mismatch", key)}
        assert _events(receiver, mail, mark) == (opened, {(e, k) for e, k, _ in opened}), report
        first = {b["kind"]: b for b in receiver.bodies}
        assert "expired" in first["account-disconnected"]["cause"]
        assert first["account-disconnected"]["command"] == "archiver accounts"
        assert first["quota-stop"]["account"] == "county-fb" and "80001" in first["quota-stop"]["cause"]
        assert first["fixity-mismatch"]["command"] == "archiver verify --all"
        assert datetime.fromisoformat(first["account-disconnected"]["since"]) < t0

        mark = _mark(receiver, mail)
        monitor.check(t0 + timedelta(hours=1))  # nothing new, nothing due
        assert _mark(receiver, mail) == mark

        server.halt()  # storage goes down; a hold made now cannot be set on the store
        with db.session() as session:
            hold = holds.create(session, "Doe v. City", holds.HoldCriteria(accounts=("city-fb",)), "counsel")
            hold_id = hold.id
        holds.sync_store_flags(db, storage)
        listed = workspace.cli("alerts", "--json")
        mark = _mark(receiver, mail)
        monitor.check(t0 + timedelta(hours=2))
        more = {("opened", "storage-unreachable", "storage"), ("opened", "legal-hold-not-set", f"hold {hold_id}")}
        assert _events(receiver, mail, mark) == (more, {(e, k) for e, k, _ in more})
        assert listed.code == 0, listed.err
        assert {row["kind"] for row in listed.json()} == {k for _, k, _ in opened | more} - {"legal-hold-not-set"}

        mark = _mark(receiver, mail)
        monitor.check(t0 + timedelta(days=1, hours=1))  # a day after the first three: reminded, once
        repeats = {("repeat", kind, subject) for _, kind, subject in opened}
        assert _events(receiver, mail, mark) == (repeats, {(e, k) for e, k, _ in repeats})

        server.resume()
        s3.delete_object(Bucket=bucket, Key=name, VersionId=changed)  # the damaged copy is replaced by the good one
        assert workspace.cli("verify", "--all").code == 0
        holds.sync_store_flags(db, storage)
        set_token(NEW_TOKEN)
        city_api.tokens, city_api.expire_after = {NEW_TOKEN}, None
        county_api.budget, county_api.tokens = None, {NEW_TOKEN}
        assert workspace.cli("harvest").code == 0
        mark = _mark(receiver, mail)
        monitor.check(t0 + timedelta(days=1, hours=2))
        cleared = {("cleared", kind, subject) for _, kind, subject in opened | more}
        assert _events(receiver, mail, mark) == (cleared, {(e, k) for e, k, _ in cleared})
        mark = _mark(receiver, mail)
        monitor.check(t0 + timedelta(days=3))
        assert _mark(receiver, mail) == mark  # all clear stays clear
        assert workspace.cli("alerts").out.strip() == "no open alert conditions"
        db.dispose()

        everything = json.dumps(receiver.bodies) + "".join(m.decode(errors="replace") for m in mail.inbox.raw)
        for secret in (TOKEN, NEW_TOKEN, APP_SECRET, SMTP_PASSWORD, TEST_SECRET, HOOK_PATH):
            assert secret not in everything
        assert set(mail.logins) == {"PLAIN"} or set(mail.logins) <= {"PLAIN", "LOGIN"}
        assert mail.messages[0]["To"] == "records-it@example.gov, clerk@example.gov"
        assert mail.messages[0]["Subject"].startswith("[archiver] ALERT ")


def test_alerts_test_sends_one_of_each_kind_in_the_chosen_shape(workspace: Workspace, alert_env: None,
                                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                feed_server: FakeFeedServer) -> None:
    workspace.account("city-news", feed_server.url("/none.atom"))
    with AlertReceiver() as receiver, MailServer(tmp_path) as mail:
        for shape in ("slack", "teams", "generic"):
            workspace.write(_alerts_section(receiver, mail, monkeypatch, format=shape))
            receiver.bodies.clear()
            result = workspace.cli("alerts", "test")
            assert result.code == 0, result.err
            every = f"sent {len(KINDS)} of {len(KINDS)}"
            assert f"webhook: {every}" in result.out and f"email: {every}" in result.out
            assert len(receiver.bodies) == len(KINDS)
            body = receiver.bodies[0]
            if shape == "slack":
                assert body["text"].startswith("*City of Testing: TEST city-fb: account disconnected*")
            elif shape == "teams":
                card = body["attachments"][0]
                assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
                assert card["content"]["type"] == "AdaptiveCard"
                assert {f["title"] for f in card["content"]["body"][1]["facts"]} >= {"Cause", "Since", "More"}
            else:
                assert [b["kind"] for b in receiver.bodies] == list(KINDS)
                assert all(b["event"] == "test" and "nothing is wrong" in b["cause"] for b in receiver.bodies)
        assert len(mail.messages) == 3 * len(KINDS)
        receiver.status = 500
        failed = workspace.cli("alerts", "test")
        assert failed.code == 1 and "the webhook at 127.0.0.1 answered HTTP 500" in failed.err
        assert HOOK_PATH not in failed.err + failed.out


def test_no_channel_to_test_is_a_config_error(workspace: Workspace) -> None:
    result = workspace.cli("alerts", "test")
    assert result.code == 2 and "no channel to test" in result.err


def test_failed_harvests_and_a_full_spool_open_and_a_broken_check_clears_nothing(
        workspace: Workspace, feed_server: FakeFeedServer, alert_env: None, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    feed = feed_server.add_feed("/news.atom", FakeFeed.synthetic(entries=3))
    workspace.account("city-news", feed_server.url("/news.atom"))
    workspace.capture["retries"] = 0
    with AlertReceiver() as receiver, MailServer(tmp_path) as mail:
        workspace.write(_alerts_section(receiver, mail, monkeypatch, failures_before_alert=2,
                                        spool_max_bytes="1KB"))
        feed.status = 503
        assert workspace.cli("harvest").code == 1
        db, now = workspace.index(), datetime.now(UTC)
        monitor = AlertMonitor(workspace.config, db, lambda: None)
        assert monitor.check(now).opened == []  # one failure is not yet a pattern
        assert workspace.cli("harvest").code == 1
        spool = workspace.config.spool_dir / "rss" / "city-news"
        spool.mkdir(parents=True, exist_ok=True)
        (spool / "waiting.warc.gz").write_bytes(b"\0" * 4096)
        report = monitor.check(now + timedelta(minutes=1))
        assert sorted(report.opened) == ["harvest-failures|city-news", f"spool-full|{workspace.config.spool_dir}"]
        failures = next(b for b in receiver.bodies if b["kind"] == "harvest-failures")
        assert failures["cause"].startswith("2 harvests in a row failed") and "503" in failures["cause"]
        assert failures["command"] == "archiver coverage city-news"

        def broken(probe: Any) -> Any:
            raise OSError("the spool folder cannot be read")
        monkeypatch.setitem(KINDS, "spool-full", Kind("spool-full", "spool past its size", broken, ("", "", "")))
        (spool / "waiting.warc.gz").unlink()
        feed.status = None
        assert workspace.cli("harvest").code == 0
        report = monitor.check(now + timedelta(minutes=2))
        assert report.cleared == ["harvest-failures|city-news"]  # the spool's stays open: its check failed
        assert "spool-full" in report.failed_checks
        db.dispose()


def test_the_daemons_sample_rechecks_a_mismatched_warc_until_it_is_intact_again(
        workspace: Workspace, feed_server: FakeFeedServer) -> None:
    import threading

    from archiver.daemon import Daemon
    from storage.local import LocalStorage

    feed = feed_server.add_feed("/news.atom", FakeFeed.synthetic(entries=3))
    workspace.capture["media"] = False
    workspace.account("news", feed_server.url("/news.atom"))
    workspace.write('[fixity]\nsample = 1\n')
    for entries in (4, 5, 6):  # three harvests, three WARCs
        feed.entries = FakeFeed.synthetic(entries=entries).entries
        assert workspace.cli("harvest").code == 0
    db = workspace.index()
    with db.session() as session:
        keys = list(session.scalars(select(WarcFile.key).order_by(WarcFile.id)))
    assert len(keys) == 3
    damaged = workspace.root / "data" / "warcs" / keys[0]
    original = damaged.read_bytes()
    damaged.chmod(0o644)
    damaged.write_bytes(original[:200] + bytes([original[200] ^ 0x01]) + original[201:])
    assert workspace.cli("verify", "--all").code == 1
    daemon = Daemon(workspace.config, db, LocalStorage(workspace.root / "data" / "warcs"), threading.Event())
    monitor = daemon.supervision.alerts
    assert monitor.open_subjects("fixity-mismatch") == [keys[0]]
    daemon.verify()  # a sample of one, and the damaged WARC again
    assert monitor.open_subjects("fixity-mismatch") == [keys[0]]  # still damaged: still open
    damaged.write_bytes(original)  # restored from a copy
    daemon.verify()
    assert monitor.open_subjects("fixity-mismatch") == []
    db.dispose()


@pytest.mark.postgres
def test_daemons_sharing_postgresql_check_alerts_one_at_a_time(workspace: Workspace, feed_server: FakeFeedServer,
                                                              postgres_url: str) -> None:
    from archiver.alerts.monitor import _exclusive

    feed = feed_server.add_feed("/news.atom", FakeFeed.synthetic(entries=3))
    feed.status = 503
    workspace.database_url = postgres_url
    workspace.capture["retries"] = 0
    workspace.account("city-news", feed_server.url("/news.atom"))
    workspace.write("[alerts]\nfailures_before_alert = 1\n")
    assert workspace.cli("harvest").code == 1
    db = workspace.index()
    monitor = AlertMonitor(workspace.config, db, lambda: None)
    with db.session() as other_daemon:
        assert _exclusive(other_daemon)  # another daemon is in the middle of its check
        assert monitor.check().skipped
    report = monitor.check()
    assert report.opened == ["harvest-failures|city-news"] and not report.skipped
    assert monitor.check().opened == []  # recorded once
    db.dispose()
