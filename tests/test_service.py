"""`archiver run` as a service: health and metrics over HTTP, systemd's notify socket, SIGHUP, its log lines.

The daemon runs as a real process against a real SeaweedFS that the test stops and starts, and
a fake feed over sockets; systemd is played by a Unix datagram socket in ``$NOTIFY_SOCKET``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from archiver.alerts.conditions import KINDS
from archiver.config import parse_config
from archiver.credentials import credential
from archiver.service import logs
from archiver.service.health import HealthMonitor
from archiver.service.supervision import Supervision
from conftest import ROOT, Workspace
from connectors.rss.fakeserver import FakeFeed, FakeFeedServer
from seaweed import TEST_SECRET, storage_lines
from service_helpers import StoppableSeaweed, wait_for
from storage.local import LocalStorage


class NotifySocket:
    """What systemd would hear on ``$NOTIFY_SOCKET``."""

    def __init__(self, folder: Path):
        self.path = folder / "notify.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.settimeout(0.2)
        self.messages: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                continue

    def heard(self, state: str) -> bool:
        return any(state in message.split("\n") for message in self.messages)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@contextmanager
def daemon(workspace: Workspace, *args: str, env: dict[str, str] | None = None) -> Iterator[tuple[subprocess.Popen[str],
                                                                                                     Path]]:
    """``archiver [ARGS] run`` in its own process; its log goes to a file the test reads as it grows."""
    log_path = workspace.root / "daemon.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([sys.executable, "-m", "archiver", "--config", str(workspace.config_path), *args,
                                    "run"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log, text=True,
                                   env=os.environ | {"PYTHONPATH": str(ROOT)} | (env or {}))
    try:
        yield process, log_path
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def _health(url: str) -> tuple[int, str]:
    answer = requests.get(f"{url}/healthz", timeout=10)
    return answer.status_code, answer.text


def _samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = requests.get(f"{url}/metrics", timeout=10).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_health_goes_503_while_storage_is_down_metrics_parse_and_systemd_hears_ready_and_watchdog(
        workspace: Workspace, stoppable_seaweed: StoppableSeaweed, s3_env: tuple[str, str],
        feed_server: FakeFeedServer, tmp_path: Path) -> None:
    server = stoppable_seaweed
    workspace.storage_lines = storage_lines(server, server.bucket(object_lock=False))
    feed_server.add_feed("/news.atom", FakeFeed.synthetic(entries=12))
    workspace.capture["media"] = False
    workspace.account("city-news", feed_server.url("/news.atom"), schedule="1h")
    workspace.write('[service]\nlisten = "127.0.0.1:0"\ncheck_every = "1s"\ncheck_timeout = "5s"\n')
    notify = NotifySocket(tmp_path)
    try:
        with daemon(workspace, env={"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "1000000"}) as (process, log):
            wait_for(lambda: notify.heard("READY=1"), what="READY=1 on the notify socket")
            url = wait_for(lambda: re.search(r"health at (http://\S+)/healthz", log.read_text()), what="the URL")[1]
            wait_for(lambda: "harvest city-news: succeeded" in log.read_text(), what="the harvest's log line")
            assert _health(url) == (200, "ok")
            samples = _samples(url)
            assert samples[("archiver_harvests_total", (("account", "city-news"), ("outcome", "succeeded"),
                                                        ("platform", "rss")))] == 1
            assert samples[("archiver_items_observed_total", (("account", "city-news"),))] == 13  # entries + the feed
            assert samples[("archiver_api_calls_total", (("platform", "rss"), ("status", "2xx")))] >= 1
            assert samples[("archiver_warc_stored_bytes", ())] > 0
            assert samples[("archiver_index_readable", ())] == 1
            assert ("archiver_last_success_timestamp_seconds", (("account", "city-news"),)) in samples
            assert {labels[0][1] for name, labels in samples if name == "archiver_alert_conditions_open"} == set(KINDS)

            server.halt()
            _, text = wait_for(lambda: (r := _health(url))[0] == 503 and r, what="/healthz to say 503")
            assert text.startswith("storage: ") and "S3 endpoint" in text
            server.resume()
            wait_for(lambda: _health(url)[0] == 200, what="/healthz to say 200 again")
            wait_for(lambda: notify.heard("WATCHDOG=1"), what="a watchdog ping")

            process.send_signal(signal.SIGTERM)
            assert process.wait(60) == 0
        text = log.read_text()
        assert notify.heard("STOPPING=1")
        assert re.search(r"INFO archiver.daemon: archiver \S+ running 1 account\(s\)", text)
        harvest_line = next(line for line in text.splitlines() if "harvest city-news: succeeded" in line)
        assert "13 items" in harvest_line and re.search(r"WARC rss/city-news/\d{4}/\d{2}/\S+\.warc\.gz", harvest_line)
        assert "INFO archiver.daemon: stopped" in text
        assert "apscheduler" not in text and "urllib3" not in text and "waitress" not in text  # libraries at WARNING
        assert TEST_SECRET not in text
    finally:
        notify.close()


def _json_lines(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def _said(log: Path, text: str) -> bool:
    return any(text in line["message"] for line in _json_lines(log))


def test_sighup_rereads_the_config_and_refuses_a_bad_one_with_json_log_lines(
        workspace: Workspace, feed_server: FakeFeedServer) -> None:
    for name in ("a", "b"):
        feed_server.add_feed(f"/{name}.atom", FakeFeed.synthetic(entries=3, seed=ord(name)))
    workspace.capture["media"] = False
    workspace.account("a", feed_server.url("/a.atom"), schedule="1h")
    workspace.write()
    with daemon(workspace, "--log-format", "json") as (process, log):
        wait_for(lambda: _said(log, "harvest a: succeeded"), what="account a's harvest")
        workspace.account("b", feed_server.url("/b.atom"), schedule="2h")
        workspace.write()
        process.send_signal(signal.SIGHUP)
        wait_for(lambda: _said(log, "harvest b: succeeded"), what="the new account's harvest")
        assert _said(log, "config reloaded: 2 account(s); added b, removed none")
        assert len(feed_server.requests_for("/a.atom")) == 1  # a's schedule kept, not restarted

        good = workspace.config_path.read_text()
        workspace.config_path.write_text(good + "\n[[accounts]]\nname = 'c'\nplatform = 'rss'\n")  # no id
        process.send_signal(signal.SIGHUP)
        wait_for(lambda: _said(log, "config reload refused"), what="the refusal")
        workspace.config_path.write_text(good.replace('data_dir = "data"', 'data_dir = "elsewhere"'))
        process.send_signal(signal.SIGHUP)
        wait_for(lambda: _said(log, "needs a restart"), what="the refusal of a new data_dir")
        assert process.poll() is None  # still running on the old config
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
    lines = _json_lines(log)
    refused = [line for line in lines if "config reload refused" in line["message"]]
    assert refused[0]["level"] == "ERROR" and "accounts[2].id" in refused[0]["message"]
    harvest = next(line for line in lines if line["message"].startswith("harvest b: succeeded"))
    assert harvest["account"] == "b" and harvest["items"] == 4 and harvest["warcs"][0].startswith("rss/b/")
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    assert not (workspace.root / "elsewhere").exists()


def test_log_lines_never_hold_a_secret_in_text_or_json_tracebacks_included(capsys: pytest.CaptureFixture[str]) -> None:
    secret = "EAAGsecretTokenValue0123456789"
    try:
        _log_both_ways(secret, capsys)
    finally:  # the captured stream closes with this test: no later line may go to it
        logging.getLogger().handlers.clear()


def _log_both_ways(secret: str, capsys: pytest.CaptureFixture[str]) -> None:
    for kind in logs.FORMATS:
        log_filter = logs.configure(0, kind, daemon=True)
        log_filter.add_secrets([secret])
        log = logging.getLogger("archiver.test")
        log.info("harvest with %s", secret, extra={"url": f"https://graph.example/?access_token={secret}"})
        try:
            raise ValueError(f"bad answer for token {secret}")
        except ValueError:
            log.exception("failed")
        logging.getLogger("urllib3.connectionpool").info("a library at INFO is not shown")
        err = capsys.readouterr().err
        assert secret not in err and "REDACTED" in err and "Traceback" in err
        assert "a library at INFO" not in err
        if kind == "json":
            assert all(json.loads(line)["logger"] for line in err.splitlines() if line.startswith("{"))


def test_archiver_serve_answers_health_and_metrics_in_front_of_its_app(workspace: Workspace) -> None:
    workspace.write()
    config, db = workspace.config, workspace.index()
    supervision = Supervision(config, db, LocalStorage(workspace.root / "data" / "warcs"))
    supervision.health.probe_all()

    def inner(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"the web app"]

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

    httpd = make_server("127.0.0.1", 0, supervision.endpoints(inner), handler_class=Quiet)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_port}"
    try:
        assert _health(url) == (200, "ok")
        names = {family.name for family in text_string_to_metric_families(requests.get(f"{url}/metrics",
                                                                                       timeout=10).text)}
        assert {"archiver_warc_stored_bytes", "archiver_spool_bytes", "archiver_alert_conditions_open"} <= names
        assert "archiver_harvests" not in names  # serve harvests nothing on a schedule
        assert requests.get(f"{url}/cases", timeout=10).text == "the web app"
        assert requests.post(f"{url}/healthz", timeout=10).status_code == 405
    finally:
        httpd.shutdown()
        httpd.server_close()
        db.dispose()


def test_a_probe_that_hangs_is_a_problem_after_the_timeout_and_is_not_started_twice() -> None:
    release, calls = threading.Event(), []

    def hanging() -> str | None:
        calls.append(1)
        release.wait(30)
        return None

    monitor = HealthMonitor({"storage": hanging, "index": lambda: None}, every=60, timeout=0.2)
    monitor.probe_all()
    assert monitor.report().problems == ["storage: no answer within 0.2 s"]
    monitor.probe_all(wait=False)
    assert len(calls) == 1  # the stuck probe is not piled up
    release.set()
    wait_for(lambda: monitor.report().ok, what="the probe to answer")


def test_credentials_from_systemds_folder_and_data_under_its_state_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CITY_FB_TOKEN", raising=False)
    folder = tmp_path / "credentials"
    folder.mkdir()
    (folder / "archiver_CITY_FB_TOKEN").write_text("EAAGfromTheCredentialFolder\n")
    config = parse_config('[[accounts]]\nname = "city-fb"\nplatform = "facebook"\nid = "1"\n'
                          'token_env = "CITY_FB_TOKEN"\n', base_dir=tmp_path / "etc")
    with pytest.raises(Exception, match="environment variable CITY_FB_TOKEN is not set"):
        config.accounts[0].secret("token_env")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(folder))
    assert config.accounts[0].secret("token_env") == "EAAGfromTheCredentialFolder"
    assert credential("MISSING_ONE") is None
    assert config.data_dir == (tmp_path / "etc" / "archiver-data").resolve()
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    assert config.data_dir == (tmp_path / "state" / "archiver-data").resolve()
    assert config.database_url == f"sqlite:///{tmp_path / 'state' / 'archiver-data' / 'index.sqlite'}"
    assert config.spool_dir == (tmp_path / "state" / "archiver-data" / "spool").resolve()
    pinned = parse_config(f'[archiver]\ndata_dir = "{tmp_path / "fixed"}"\n', base_dir=tmp_path / "etc")
    assert pinned.data_dir == tmp_path / "fixed"  # an absolute data_dir is kept as written


def test_alerts_and_service_sections_are_checked(tmp_path: Path) -> None:
    from archiver.config import ConfigError

    cases = {
        '[service]\nlisten = "localhost"\n': "service.listen: 'localhost' is not host:port",
        '[alerts]\nwebhook_url = "ftp://x"\n': "alerts.webhook_url: must be an http:// or https:// URL",
        '[alerts]\nsmtp_host = "mail"\nfrom = "a@example.gov"\n': "e-mail needs 'from' and 'to'",
        '[alerts]\nsmtp_host = "m"\nfrom = "a@x.gov"\nto = "b@x.gov"\nsmtp_security = "none"\n'
        'smtp_password_env = "P"\n': "would send the SMTP password in clear",
        '[alerts]\nrepeat_every = "daily"\n': "is not a duration",
    }
    for text, message in cases.items():
        with pytest.raises(ConfigError) as error:
            parse_config(text, base_dir=tmp_path)
        assert message in error.value.problems[0], error.value.problems


def test_a_listen_address_in_use_stops_the_daemon_with_one_line(workspace: Workspace) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        workspace.account("city-news", "http://127.0.0.1:9/closed.atom")
        workspace.write(f'[service]\nlisten = "127.0.0.1:{port}"\n')
        result = workspace.cli("run")
    assert result.code == 1
    assert f'[service] listen = "127.0.0.1:{port}": Address already in use; choose a free' in result.err
