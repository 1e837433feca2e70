"""The recording session against the fake platform over real sockets: what lands in the WARC."""

from __future__ import annotations

import gzip
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.capture.redact import Redactor
from archiver.capture.session import Exchange, FetchFailed, RecordingSession
from archiver.capture.warc import RevisitTarget, WarcFileWriter
from connectors.rss.fakeserver import FakeFeed, FakeFeedServer

SECRET = "EAAGm0PX4ZCpsBAKtestSECRETtoken123"


class OneFile:
    def __init__(self, path: Path):
        self.writer = WarcFileWriter(path)

    def __call__(self, _moment: datetime) -> WarcFileWriter:
        return self.writer


def session_for(tmp_path: Path, secrets: tuple[str, ...] = (SECRET,)) -> tuple[RecordingSession, Path]:
    path = tmp_path / "t.warc.gz"
    return RecordingSession(OneFile(path), Redactor(secrets), user_agent="test", timeout=2), path


def records(path: Path) -> list[tuple[str, dict[str, str], bytes, object]]:
    found = []
    with path.open("rb") as handle:
        for record in ArchiveIterator(handle):
            found.append((record.rec_type, dict(record.rec_headers.headers), record.content_stream().read(),
                          record.http_headers))
    return found


def warcio_check(path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "warcio.cli", "check", "-v", str(path)], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "digest pass" in result.stdout


def test_exchange_is_archived_before_the_caller_sees_it(tmp_path: Path, feed_server: FakeFeedServer) -> None:
    feed_server.add_feed("/feed.xml", FakeFeed.synthetic(entries=5))
    session, path = session_for(tmp_path)
    seen: list[Exchange] = []
    session.on_exchange = seen.append
    exchange = session.get(feed_server.url("/feed.xml"))
    session._writer_for(datetime.now()).close()
    assert exchange.response.status == 200 and b"<feed" in exchange.response.body
    assert seen == [exchange]
    found = records(path)
    assert [kind for kind, *_ in found] == ["response", "request"]
    response_headers = found[0][1]
    assert response_headers["WARC-Target-URI"] == feed_server.url("/feed.xml")
    assert found[0][2] == exchange.response.body
    assert found[1][1]["WARC-Concurrent-To"] == response_headers["WARC-Record-ID"]
    assert response_headers["WARC-Block-Digest"].startswith("sha256:")
    # The index's pointer really points at the record.
    with path.open("rb") as handle:
        handle.seek(exchange.evidence.response.offset)
        record = next(iter(ArchiveIterator(handle)))
        assert record.rec_headers.get_header("WARC-Record-ID") == exchange.evidence.response.record_id
    warcio_check(path)


def test_gzip_body_is_stored_as_received_and_decoded_for_parsers(tmp_path: Path) -> None:
    with FakeFeedServer(gzip=True) as server:
        feed = server.add_feed("/feed.xml", FakeFeed.synthetic(entries=3))
        session, path = session_for(tmp_path)
        exchange = session.get(server.url("/feed.xml"))
        session._writer_for(datetime.now()).close()
    assert exchange.response.headers["content-encoding"] == "gzip"
    assert exchange.response.body.startswith(b"<?xml")
    with path.open("rb") as handle:
        record = next(iter(ArchiveIterator(handle)))
        stored = record.raw_stream.read()
    assert gzip.decompress(stored) == feed.page(1, server.base_url, "/feed.xml")[0]
    warcio_check(path)


def test_chunked_response_is_a_valid_record_with_its_headers_kept(tmp_path: Path) -> None:
    with FakeFeedServer(chunked=True) as server:
        server.add_feed("/feed.xml", FakeFeed.synthetic(entries=40))
        session, path = session_for(tmp_path)
        exchange = session.get(server.url("/feed.xml"))
        session._writer_for(datetime.now()).close()
    assert exchange.response.headers["transfer-encoding"] == "chunked"
    [(_, _, body, http_headers), _request] = records(path)
    assert http_headers.get_header("Transfer-Encoding") == "chunked"
    assert body == exchange.response.body  # warcio de-chunks what we stored
    warcio_check(path)


def test_secrets_never_reach_the_record(tmp_path: Path, feed_server: FakeFeedServer) -> None:
    feed_server.add_feed("/feed.xml", FakeFeed.synthetic(entries=2))
    page = f'{{"paging":{{"next":"https://graph.example/v26.0/1/feed?after=X&access_token={SECRET}"}}}}'
    feed_server.add_media("echo.json", page.encode(), "application/json")
    session, path = session_for(tmp_path)
    session.get(feed_server.url("/feed.xml"), params={"access_token": SECRET, "key": SECRET},
                headers={"Authorization": f"Bearer {SECRET}", "Cookie": "session=abc123secret"})
    echoed = session.get(feed_server.url("/media/echo.json"))
    session._writer_for(datetime.now()).close()
    # The server really received the credential...
    assert any(SECRET in r.path for r in feed_server.requests_seen)
    # ...but no byte of the WARC holds it, compressed or not.
    raw = path.read_bytes()
    assert SECRET.encode() not in gzip.decompress(raw) and SECRET.encode() not in raw
    assert b"abc123secret" not in gzip.decompress(raw)
    found = records(path)
    request_headers = found[1][1]
    assert "uri" in request_headers["WARC-Archiver-Redacted"]
    assert "header:Authorization" in request_headers["WARC-Archiver-Redacted"]
    assert "access_token=REDACTED" in request_headers["WARC-Target-URI"]
    echoed_headers = found[2][1]
    assert "body(1)" in echoed_headers["WARC-Archiver-Redacted"]
    assert b"access_token=REDACTED" in echoed.response.body
    warcio_check(path)


def test_identical_payload_becomes_a_revisit(tmp_path: Path, feed_server: FakeFeedServer) -> None:
    feed_server.add_media("a.jpg", b"\xff\xd8same-bytes\xff\xd9", "image/jpeg")
    feed_server.add_media("b.jpg", b"\xff\xd8same-bytes\xff\xd9", "image/jpeg")
    session, path = session_for(tmp_path)
    first = session.get(feed_server.url("/media/a.jpg"))
    original = RevisitTarget(first.evidence.response.record_id, first.response.url, first.evidence.response.date,
                             first.evidence.response.payload_digest or "")

    def lookup(sha: str) -> RevisitTarget | None:
        return original if sha == first.evidence.payload_sha256 else None

    second = session.get(feed_server.url("/media/b.jpg"), revisit=lookup)
    session._writer_for(datetime.now()).close()
    assert second.evidence.response.record_type == "revisit"
    kinds = [(kind, headers.get("WARC-Refers-To")) for kind, headers, *_ in records(path)]
    assert kinds[2] == ("revisit", first.evidence.response.record_id)
    warcio_check(path)


def test_oversized_media_is_kept_up_to_the_cap_and_marked_truncated(tmp_path: Path,
                                                                    feed_server: FakeFeedServer) -> None:
    feed_server.add_media("big.mp4", b"\x00" * 300_000, "video/mp4")
    session, path = session_for(tmp_path)
    exchange = session.get(feed_server.url("/media/big.mp4"), max_bytes=100_000)
    session._writer_for(datetime.now()).close()
    assert exchange.truncated
    [(_, headers, body, _), _] = records(path)
    assert headers["WARC-Truncated"] == "length" and len(body) == 100_000


def test_no_response_still_leaves_the_attempt_in_the_warc(tmp_path: Path, feed_server: FakeFeedServer) -> None:
    feed = feed_server.add_feed("/slow.xml", FakeFeed.synthetic(entries=1))
    feed.delay_seconds = 4
    session, path = session_for(tmp_path)
    session.timeout = 0.5
    with pytest.raises(FetchFailed, match="timed out"):
        session.get(feed_server.url("/slow.xml") + f"?access_token={SECRET}")
    session._writer_for(datetime.now()).close()
    found = records(path)
    assert [kind for kind, *_ in found] == ["request", "metadata"]
    assert b"fetch-failed" in found[1][2] and SECRET.encode() not in found[1][2]


def test_refused_connection_is_one_clear_line(tmp_path: Path) -> None:
    session, _ = session_for(tmp_path)
    with pytest.raises(FetchFailed) as failure:
        session.get("http://127.0.0.1:9/feed.xml")
    assert str(failure.value) == "could not connect to http://127.0.0.1:9/feed.xml"
