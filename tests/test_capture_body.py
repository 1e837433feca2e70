"""Bodies read within limits, over real sockets: large ones stream through the spool, bombs are cut."""

from __future__ import annotations

import hashlib
import io
from datetime import datetime
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.capture.body import read_stored
from archiver.capture.encoding import rechunk
from archiver.capture.redact import Redactor
from archiver.capture.retry import RetryPolicy
from archiver.capture.session import Exchange, RecordingSession, ResponseTooLarge
from bombs import MIB, bomb
from connectors.rss.fakeserver import FakeFeed, FakeFeedServer
from test_capture_session import SECRET, OneFile, warcio_check


def session_for(tmp_path: Path, **options: object) -> tuple[RecordingSession, Path, list[Exchange]]:
    path, seen = tmp_path / "t.warc.gz", []
    session = RecordingSession(OneFile(path), Redactor((SECRET,)), user_agent="test", timeout=5,
                               on_exchange=seen.append, spool_dir=tmp_path / "spool", **options)  # type: ignore[arg-type]
    return session, path, seen


def responses(path: Path, decoded: bool = False) -> list[tuple[dict[str, str], bytes]]:
    """(WARC headers, entity body as stored — or as warcio decodes it) of each response record."""
    with path.open("rb") as handle:
        return [(dict(r.rec_headers.headers), (r.content_stream() if decoded else r.raw_stream).read())
                for r in ArchiveIterator(handle) if r.rec_type == "response"]


def test_an_answer_that_inflates_past_the_limit_is_kept_as_received_and_not_asked_again(
        tmp_path: Path, feed_server: FakeFeedServer) -> None:
    body = bomb(256 * MIB, "gzip")
    feed_server.add_feed("/bomb.json", FakeFeed(kind="raw", raw=body, content_type="application/json",
                                                content_encoding="gzip"))
    session, path, seen = session_for(tmp_path, body_max_bytes=10 * MIB)
    with pytest.raises(ResponseTooLarge) as failure:
        RetryPolicy(retries=3, backoff_seconds=0).call(lambda: session.get(feed_server.url("/bomb.json")))
    session._writer_for(datetime.now()).close()
    assert len(feed_server.requests_for("/bomb.json")) == 1  # the same answer again would be as large
    assert str(failure.value).startswith(f"{feed_server.url('/bomb.json')}: the response is larger than 10.49 MB "
                                         "once decoded ([capture] body_max_bytes); reading stopped after ")
    [(headers, stored)] = responses(path)
    assert headers["WARC-Truncated"] == "length" and body.startswith(stored) and 0 < len(stored) < len(body)
    assert seen and seen[0].truncated and seen[0].evidence.payload_sha256 == hashlib.sha256(stored).hexdigest()
    warcio_check(path)


def test_a_large_media_body_streams_through_the_spool_and_loses_its_secret_there(
        tmp_path: Path, feed_server: FakeFeedServer) -> None:
    """A body larger than what is held in memory is scanned as it streams, and redacted from its file."""
    data = b"\x00" * (12 * MIB) + f"?x=1&access_token={SECRET}&y=2".encode() + b"\x01" * (3 * MIB)
    feed_server.add_media("talk.mp4", data, "video/mp4")
    session, path, _ = session_for(tmp_path)
    exchange = session.get(feed_server.url("/media/talk.mp4"), max_bytes=100 * MIB)
    session._writer_for(datetime.now()).close()
    [(headers, stored)] = responses(path)
    assert not exchange.truncated and "WARC-Truncated" not in headers
    assert headers["WARC-Archiver-Redacted"] == "body(1)"
    assert stored == data.replace(SECRET.encode(), b"REDACTED")
    assert exchange.evidence.payload_sha256 == hashlib.sha256(stored).hexdigest()
    assert exchange.response.body == b""  # too large to hand around; the WARC holds it
    assert not any((tmp_path / "spool").iterdir())  # nothing left behind in the spool
    warcio_check(path)


def test_media_past_the_cap_is_kept_up_to_it_and_a_large_chunked_answer_is_one_valid_record(
        tmp_path: Path) -> None:
    with FakeFeedServer(chunked=True) as server:
        server.add_feed("/big.json", FakeFeed(kind="raw", raw=b"[" + b"1," * (6 * MIB) + b"1]",
                                              content_type="application/json", chunk_size=1 << 20))
        server.add_media("long.mp4", b"\x02" * (20 * MIB), "video/mp4")
        session, path, _ = session_for(tmp_path)
        big = session.get(server.url("/big.json"))
        cut = session.get(server.url("/media/long.mp4"), max_bytes=9 * MIB)
        session._writer_for(datetime.now()).close()
    assert big.response.headers["transfer-encoding"] == "chunked" and len(big.response.body) == 12 * MIB + 3
    assert cut.truncated
    [(_, json_body), (cut_headers, cut_body)] = responses(path, decoded=True)
    assert json_body == big.response.body  # warcio de-chunks the single chunk we stored
    assert cut_headers["WARC-Truncated"] == "length" and cut_body == b"\x02" * (9 * MIB)
    warcio_check(path)


def test_reindex_reads_a_record_within_the_same_bounds_as_the_harvest() -> None:
    """(SHA-256 of the entity as stored, the body a parser gets or None) from a stored payload."""
    def sha(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    def read(data: bytes, limit: int, chunked: bool = False, encoding: str = "") -> tuple[str, bytes | None]:
        return read_stored(io.BytesIO(data), chunked=chunked, encoding=encoding, limit=limit)

    body, large, gz = b"x" * 1000, b"y" * (3 * MIB), bomb(64 * MIB, "gzip")
    assert read(rechunk(body), 1000, chunked=True) == (sha(body), body)  # the framing does not count
    assert read(rechunk(body), 999, chunked=True) == (sha(body), None)
    assert read(rechunk(large), MIB, chunked=True) == (sha(large), None)  # hashed as it streams
    assert read(gz, MIB, encoding="gzip") == (sha(gz), None)  # never inflated past the limit
    assert read(b"not gzip", MIB, encoding="gzip") == (sha(b"not gzip"), b"not gzip")  # as stored, as live
