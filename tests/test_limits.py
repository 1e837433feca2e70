"""Decompression and size limits: a 2 MB answer that inflates to 2 GiB cannot blow up a harvest.

The harvest and the reindex run as subprocesses, and their peak resident memory is read from
the kernel's accounting of that child alone (``os.wait4``). An address-space limit guards the
machine: a process that tried to hold the inflated bytes would fail there instead of eating
the RAM of everyone else's tests.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders

from archiver.capture.warc import WarcFileWriter
from archiver.index.models import Harvest
from bombs import GIB, bomb
from conftest import ROOT, Workspace
from connectors.rss.fakeserver import FakeFeed, FakeFeedServer
from test_harvest import warcio_check
from test_reindex import snapshot

ADDRESS_SPACE_GUARD = 3 * GIB
PEAK_RSS_BOUND_MB = 400  # the inflated bodies alone would be 2,048 MB each


@dataclass
class Measured:
    code: int
    out: str
    err: str
    peak_rss_mb: float


def measured(config: Path, *args: str) -> Measured:
    """``archiver --config CONFIG ARGS`` in a child process; its own peak RSS from the kernel."""
    out_path, err_path = config.with_suffix(".out"), config.with_suffix(".err")

    def guard() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_GUARD, ADDRESS_SPACE_GUARD))

    with out_path.open("wb") as out, err_path.open("wb") as err:
        child = subprocess.Popen([sys.executable, "-m", "archiver", "--config", str(config), *args], cwd=ROOT,
                                 stdout=out, stderr=err, stdin=subprocess.DEVNULL, preexec_fn=guard,
                                 env=os.environ | {"PYTHONPATH": str(ROOT)})
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    peak = usage.ru_maxrss / 1024  # KiB on Linux
    print(f"archiver {' '.join(args)}: exit {child.returncode}, peak RSS {peak:.0f} MB")
    return Measured(child.returncode, out_path.read_text(), err_path.read_text(), peak)


def records(path: Path) -> list[tuple[str, dict[str, str], bytes, dict[str, str]]]:
    """(type, WARC headers, entity body as stored, HTTP headers) of each record."""
    with path.open("rb") as handle:
        return [(r.rec_type, dict(r.rec_headers.headers), r.raw_stream.read(),
                 dict(r.http_headers.headers) if r.http_headers else {}) for r in ArchiveIterator(handle)]


def test_bombs_stop_their_exchange_keep_what_was_received_and_memory_stays_bounded(
        workspace: Workspace, feed_server: FakeFeedServer) -> None:
    gzip_bomb, deflate_bomb = bomb(2 * GIB, "gzip"), bomb(2 * GIB, "deflate")
    news = feed_server.add_feed("/news.atom", FakeFeed.synthetic(entries=12))
    # One of the news feed's images is a bomb too: a CDN answering 2 MB of gzip for a JPEG.
    [media_name] = [s.name for e in news.entries for s in news.media_of(e.key, e.n)][:1]
    feed_server.add_media(media_name, gzip_bomb, "image/jpeg", encoding="gzip")
    feed_server.add_feed("/gz.atom", FakeFeed(kind="raw", raw=gzip_bomb, content_type="application/atom+xml",
                                              content_encoding="gzip"))
    feed_server.add_feed("/df.atom", FakeFeed(kind="raw", raw=deflate_bomb, content_type="application/atom+xml",
                                              content_encoding="deflate"))
    workspace.capture["media_max_bytes"] = "100MB"
    workspace.account("news", feed_server.url("/news.atom"))
    workspace.account("gz", feed_server.url("/gz.atom"))
    workspace.account("df", feed_server.url("/df.atom"))
    config = workspace.write()

    harvest = measured(config, "harvest")
    assert harvest.peak_rss_mb < PEAK_RSS_BOUND_MB, harvest.err
    assert harvest.code == 1, harvest.err
    problems = [line for line in harvest.err.splitlines() if line.startswith("archiver: ")]
    assert len(problems) == 2, harvest.err
    for line, path in zip(problems, ("/gz.atom", "/df.atom"), strict=True):
        assert line.startswith(f"archiver: {path[1:3]}: {feed_server.url(path)}: the response is larger than ")
        assert "[capture] body_max_bytes" in line and "marked truncated" in line
    assert "Traceback" not in harvest.err

    db = workspace.index()
    with db.session() as session:
        outcomes = [(h.status, h.cause, h.coverage) for h in session.scalars(select(Harvest))]
    db.dispose()
    assert sorted((status, str(cause)) for status, cause, _ in outcomes) == [
        ("failed", "size"), ("failed", "size"), ("succeeded", "None")]
    notes = [n for _, _, coverage in outcomes for n in (coverage or {}).get("notes") or []]
    assert any(media_name in note and "media_max_bytes" in note for note in notes), notes

    # Nothing already captured is lost: the news account is searchable, its media bomb is kept as
    # received up to the cap, and each feed bomb's record holds the bytes received, marked truncated.
    assert workspace.cli("search", "--account", "news").out.count("\n") >= 12
    stored = {path.name.split("-")[1]: path for path in workspace.stored_warcs()}
    assert set(stored) == {"news", "gz", "df"}
    warcio_check(list(stored.values()))
    for account, body in (("gz", gzip_bomb), ("df", deflate_bomb)):
        [response] = [r for r in records(stored[account]) if r[0] == "response"]
        assert response[1]["WARC-Truncated"] == "length"
        payload = response[2]
        assert 0 < len(payload) < len(body) and body.startswith(payload)  # the raw bytes, as received
    [media] = [r for r in records(stored["news"]) if r[0] == "response" and r[1]["WARC-Target-URI"].endswith(
        media_name)]
    assert media[1]["WARC-Truncated"] == "length" and media[3]["Content-Encoding"] == "gzip"
    assert 0 < len(media[2]) < len(gzip_bomb) and gzip_bomb.startswith(media[2])

    before = snapshot(workspace)
    rebuilt = measured(config, "reindex")
    assert rebuilt.code == 0, rebuilt.err
    assert rebuilt.peak_rss_mb < PEAK_RSS_BOUND_MB
    assert snapshot(workspace) == before


def test_an_old_warc_holding_a_whole_bomb_is_reindexed_within_bounds(workspace: Workspace,
                                                                     feed_server: FakeFeedServer) -> None:
    """WARCs written before the limits existed may hold a whole bomb, not marked truncated."""
    feed_server.add_feed("/news.atom", FakeFeed.synthetic(entries=3))
    workspace.account("news", feed_server.url("/news.atom"))
    config = workspace.write()
    assert workspace.cli("harvest").code == 0
    [stored] = workspace.stored_warcs()
    # The same account's WARC, with one more response: 2 MB of gzip that inflates to 2 GiB.
    old = stored.with_name(stored.name.replace("-0001.", "-0002."))
    body = bomb(2 * GIB, "gzip")
    with WarcFileWriter(old) as writer:
        writer.write_warcinfo({"archiver-account": "news", "archiver-platform": "rss"}, datetime.now(UTC))
        http = StatusAndHeaders("200 OK", [("Content-Type", "application/atom+xml"), ("Content-Encoding", "gzip"),
                                           ("Content-Length", str(len(body)))], protocol="HTTP/1.1")
        writer.write(writer.make_record(feed_server.url("/news.atom"), "response", body, http_headers=http))
    rebuilt = measured(config, "reindex")
    assert rebuilt.code == 0, rebuilt.err
    assert rebuilt.peak_rss_mb < PEAK_RSS_BOUND_MB
    assert "reindexed 2 WARC file(s)" in rebuilt.out
