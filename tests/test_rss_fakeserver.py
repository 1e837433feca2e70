"""The fake RSS/Atom platform server: real sockets on 127.0.0.1, started and stopped by every test."""

from __future__ import annotations

import gzip
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import feedparser
import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the package is not installed in the dev venv
    sys.path.insert(0, str(ROOT))

from connectors.rss.fakeserver import FakeFeed, FakeFeedServer  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "rss" / "youtube_channel_videos_feed.xml"


@pytest.fixture
def server() -> Iterator[FakeFeedServer]:
    srv = FakeFeedServer().start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def client() -> Iterator[requests.Session]:
    session = requests.Session()
    session.trust_env = False  # never route 127.0.0.1 through a proxy from the environment
    yield session
    session.close()


def next_link(parsed: feedparser.FeedParserDict) -> str | None:
    return next((link.href for link in parsed.feed.get("links", []) if link.rel == "next"), None)


def follow(client: requests.Session, url: str, limit: int = 50) -> list[feedparser.FeedParserDict]:
    pages = []
    while url and len(pages) < limit:
        response = client.get(url, timeout=5)
        assert response.status_code == 200, (url, response.status_code)
        pages.append(feedparser.parse(response.content))
        url = next_link(pages[-1])
    return pages


def raw_get(srv: FakeFeedServer, path: str, headers: dict[str, str] | None = None) -> tuple[str, dict, bytes]:
    """One request over a plain socket: status line, lower-cased headers, undecoded body bytes."""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
        lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{srv.port}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status, *fields = head.decode("latin-1").split("\r\n")
    return status, {k.lower(): v.strip() for k, _, v in (f.partition(":") for f in fields)}, body


def dechunk(raw: bytes) -> tuple[bytes, int]:
    """Decode chunked framing strictly; returns the payload and the number of data chunks."""
    out, count = b"", 0
    while True:
        size_line, sep, raw = raw.partition(b"\r\n")
        assert sep, "truncated chunk framing"
        size = int(size_line, 16)
        if size == 0:
            assert raw == b"\r\n"
            return out, count
        assert raw[size:size + 2] == b"\r\n"
        out, raw, count = out + raw[:size], raw[size + 2:], count + 1


def test_youtube_fixture_is_served_byte_for_byte(server: FakeFeedServer, client: requests.Session) -> None:
    server.add_feed("/feeds/videos.xml", FakeFeed.from_file(FIXTURE))
    response = client.get(server.url("/feeds/videos.xml?channel_id=UC7vv3cBq14FRXajteZt6FEg"), timeout=5)
    assert response.status_code == 200
    assert response.content == FIXTURE.read_bytes()
    assert response.headers["Content-Type"].startswith("text/xml")
    assert int(response.headers["Content-Length"]) == FIXTURE.stat().st_size
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo and parsed.entries[0].yt_videoid == "palm1QdV8ZI"
    again = client.get(server.url("/feeds/videos.xml"), headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""
    since = client.get(server.url("/feeds/videos.xml"),
                     headers={"If-Modified-Since": response.headers["Last-Modified"]}, timeout=5)
    assert since.status_code == 304


def test_atom_paging_follows_rel_next(server: FakeFeedServer, client: requests.Session) -> None:
    server.add_feed("/feeds/city.atom", FakeFeed.synthetic(entries=250, page_size=100))
    pages = follow(client, server.url("/feeds/city.atom"))
    assert [len(p.entries) for p in pages] == [100, 100, 50]
    assert all(not p.bozo for p in pages)
    ids = [e.id for p in pages for e in p.entries]
    assert len(ids) == len(set(ids)) == 250
    assert ids[0] == "tag:city.example,2015:city0/post/250"  # newest first
    assert [next_link(p) for p in pages] == [server.url("/feeds/city.atom?page=2"),
                                            server.url("/feeds/city.atom?page=3"), None]
    rels = {link.rel: link.href for link in pages[1].feed.links}
    assert rels["previous"] == server.url("/feeds/city.atom")
    assert rels["last"] == server.url("/feeds/city.atom?page=3")
    published = [e.published_parsed for p in pages for e in p.entries]
    assert published == sorted(published, reverse=True)
    assert client.get(server.url("/feeds/city.atom?page=4"), timeout=5).status_code == 404
    assert client.get(server.url("/feeds/city.atom?page=x"), timeout=5).status_code == 400
    # deterministic: the same seed gives the same bytes on another server
    with FakeFeedServer() as other:
        other.add_feed("/feeds/city.atom", FakeFeed.synthetic(entries=250, page_size=100))
        twin = client.get(other.url("/feeds/city.atom?page=2"), timeout=5).content
    mine = client.get(server.url("/feeds/city.atom?page=2"), timeout=5).content
    assert twin == mine.replace(server.base_url.encode(), other.base_url.encode())


def test_rss_feed_parses_with_enclosures(server: FakeFeedServer, client: requests.Session) -> None:
    server.add_feed("/city.rss", FakeFeed.synthetic(entries=250, page_size=100, kind="rss"))
    response = client.get(server.url("/city.rss"), timeout=5)
    assert response.headers["Content-Type"].startswith("application/rss+xml")
    assert b'xmlns:atom="http://www.w3.org/2005/Atom"' in response.content
    pages = follow(client, server.url("/city.rss"))
    assert [len(p.entries) for p in pages] == [100, 100, 50]
    assert pages[0].version == "rss20" and not pages[0].bozo
    entries = [e for p in pages for e in p.entries]
    assert len({e.id for e in entries}) == 250
    first = entries[0]
    assert first.published_parsed and first.link == server.url("/posts/city0/250")
    assert "<b>" in first.summary and first.author_detail.email == "press@springfield.example.org"
    types = {enc.type for e in entries for enc in e.enclosures}
    assert types == {"image/jpeg", "video/mp4"}
    videos = [e for e in entries if any(enc.type == "video/mp4" for enc in e.enclosures)]
    assert len(videos) == 10 and all(e.media_thumbnail for e in videos)
    assert all(len(e.enclosures) <= 1 for e in entries)


def test_conditional_get(server: FakeFeedServer, client: requests.Session) -> None:
    server.add_feed("/f", FakeFeed.synthetic(entries=20))
    first = client.get(server.url("/f"), timeout=5)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    for headers in ({"If-None-Match": etag}, {"If-None-Match": f'"other", {etag}'},
                    {"If-Modified-Since": modified}):
        again = client.get(server.url("/f"), headers=headers, timeout=5)
        assert again.status_code == 304 and again.content == b""
        assert again.headers["ETag"] == etag and "Content-Length" not in again.headers
    assert client.get(server.url("/f"), headers={"If-None-Match": '"stale"'}, timeout=5).status_code == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110)
    both = client.get(server.url("/f"), headers={"If-None-Match": '"stale"', "If-Modified-Since": modified})
    assert both.status_code == 200
    early = "Thu, 01 Jan 2015 00:00:00 GMT"
    assert client.get(server.url("/f"), headers={"If-Modified-Since": early}, timeout=5).status_code == 200


def test_gzip_on_the_wire(server: FakeFeedServer, client: requests.Session) -> None:
    feed = server.add_feed("/f", FakeFeed.synthetic(entries=100, gzip=True))
    identity = client.get(server.url("/f"), headers={"Accept-Encoding": "identity"}, timeout=5)
    assert "Content-Encoding" not in identity.headers
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("GET", "/f", headers={"Accept-Encoding": "gzip"})
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    assert response.getheader("Content-Encoding") == "gzip" and response.getheader("Vary") == "Accept-Encoding"
    assert raw[:2] == b"\x1f\x8b" and int(response.getheader("Content-Length")) == len(raw)
    assert gzip.decompress(raw) == identity.content and len(raw) < len(identity.content) / 3
    assert response.getheader("ETag") == "W/" + identity.headers["ETag"]
    assert client.get(server.url("/f"), headers={"If-None-Match": identity.headers["ETag"],
                                               "Accept-Encoding": "gzip"}, timeout=5).status_code == 304
    assert raw_get(server, "/f", {"Accept-Encoding": "gzip;q=0"})[2] == identity.content
    feed.gzip = False
    assert raw_get(server, "/f", {"Accept-Encoding": "gzip"})[2] == identity.content
    with FakeFeedServer(gzip=True) as zipped:  # the server-wide default
        zipped.add_feed("/f", FakeFeed.synthetic(entries=5))
        assert raw_get(zipped, "/f", {"Accept-Encoding": "gzip, deflate"})[1]["content-encoding"] == "gzip"


def test_chunked_on_the_wire(server: FakeFeedServer, client: requests.Session) -> None:
    feed = server.add_feed("/f", FakeFeed.synthetic(entries=100, chunked=True))
    status, headers, raw = raw_get(server, "/f")
    assert status == "HTTP/1.1 200 OK"
    assert headers["transfer-encoding"] == "chunked" and "content-length" not in headers
    body, chunks = dechunk(raw)
    assert chunks == -(-len(body) // feed.chunk_size) and chunks > 3
    assert body == client.get(server.url("/f"), timeout=5).content  # requests decodes it too
    assert feedparser.parse(body).entries
    feed.gzip = True  # gzip inside chunked framing
    _, headers, raw = raw_get(server, "/f", {"Accept-Encoding": "gzip"})
    assert headers["content-encoding"] == "gzip" and gzip.decompress(dechunk(raw)[0]) == body
    feed.chunked = False
    assert "content-length" in raw_get(server, "/f")[1]


def test_fault_status_and_retry_after(server: FakeFeedServer, client: requests.Session) -> None:
    feed = server.add_feed("/f", FakeFeed.synthetic(entries=10, status=404))
    assert client.get(server.url("/f"), timeout=5).status_code == 404
    feed.status, feed.retry_after = 503, 7
    response = client.get(server.url("/f"), timeout=5)
    assert response.status_code == 503 and response.headers["Retry-After"] == "7"
    feed.status = None
    assert client.get(server.url("/f"), timeout=5).status_code == 200
    assert b'href="/f"' in client.get(server.url("/"), timeout=5).content
    server.remove_feed("/f")
    assert client.get(server.url("/f"), timeout=5).status_code == 404
    assert client.get(server.url("/nothing-here"), timeout=5).status_code == 404


def test_fault_fail_first(server: FakeFeedServer, client: requests.Session) -> None:
    feed = server.add_feed("/f", FakeFeed.synthetic(entries=10, fail_first=2))
    statuses = [client.get(server.url("/f"), timeout=5) for _ in range(3)]
    assert [r.status_code for r in statuses] == [500, 500, 200]
    assert statuses[0].headers["Content-Type"].startswith("text/html") and b"500" in statuses[0].content
    assert feed.fail_first == 0 and len(server.requests_for("/f")) == 3
    feed.fail_first = 1  # re-armed while running
    assert [client.get(server.url("/f"), timeout=5).status_code for _ in range(2)] == [500, 200]


def test_fault_delay_makes_client_time_out(server: FakeFeedServer, client: requests.Session) -> None:
    feed = server.add_feed("/f", FakeFeed.synthetic(entries=10, delay_seconds=2.0))
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        client.get(server.url("/f"), timeout=0.3)
    assert time.monotonic() - started < 1.5
    feed.delay_seconds = 0.2
    started = time.monotonic()
    assert client.get(server.url("/f"), timeout=5).status_code == 200
    assert time.monotonic() - started >= 0.2


def test_fault_malformed(server: FakeFeedServer, client: requests.Session) -> None:
    feed = server.add_feed("/f", FakeFeed.synthetic(entries=30))
    good = client.get(server.url("/f"), timeout=5)
    feed.malformed = True
    bad = client.get(server.url("/f"), timeout=5)
    assert bad.status_code == 200 and bad.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n<feed')
    assert feedparser.parse(bad.content).bozo and not feedparser.parse(good.content).bozo
    assert bad.headers["ETag"] != good.headers["ETag"]
    server.add_feed("/yt", FakeFeed.from_file(FIXTURE, malformed=True))
    assert feedparser.parse(client.get(server.url("/yt"), timeout=5).content).bozo


def test_fault_endless(server: FakeFeedServer, client: requests.Session) -> None:
    server.add_feed("/f", FakeFeed.synthetic(entries=15, page_size=10, endless=True))
    pages = follow(client, server.url("/f"), limit=6)
    assert len(pages) == 6 and all(next_link(p) for p in pages)
    assert [len(p.entries) for p in pages] == [10] * 6
    ids = [e.id for p in pages for e in p.entries]
    assert len(set(ids)) == 60
    assert ids[14] == "tag:city.example,2015:city0/post/1" and ids[15] == "tag:city.example,2015:city0/post/a1"
    assert next_link(pages[-1]) == server.url("/f?page=7")
    assert client.get(server.url("/media/city0-a3.jpg"), timeout=5).status_code == 200
    assert client.get(server.url("/posts/city0/a40"), timeout=5).status_code == 200


def test_fault_one_page(server: FakeFeedServer, client: requests.Session) -> None:
    server.add_feed("/f", FakeFeed.synthetic(entries=250, page_size=100, page_fault={2: 503}))
    assert [client.get(server.url(f"/f?page={n}"), timeout=5).status_code for n in (1, 2, 3)] == [200, 503, 200]


def test_required_header_and_query(server: FakeFeedServer, client: requests.Session) -> None:
    server.add_feed("/h", FakeFeed.synthetic(entries=5, require_header=("Authorization", "Bearer s3cret")))
    server.add_feed("/q", FakeFeed.synthetic(entries=25, page_size=10, require_query=("key", "k3y")))
    denied = client.get(server.url("/h"), headers={"Authorization": "Bearer wrong"}, timeout=5)
    assert denied.status_code == 401 and "WWW-Authenticate" in denied.headers
    assert client.get(server.url("/h"), headers={"Authorization": "Bearer s3cret"}, timeout=5).status_code == 200
    assert [r.header("authorization") for r in server.requests_for("/h")] == ["Bearer wrong", "Bearer s3cret"]
    assert client.get(server.url("/q?page=2"), timeout=5).status_code == 401
    page2 = client.get(server.url("/q?page=2&key=k3y"), timeout=5)
    assert page2.status_code == 200 and b"k3y" not in page2.content  # next links never carry the key
    assert next_link(feedparser.parse(page2.content)) == server.url("/q?page=3")
    assert server.requests_seen[-1].path == "/q?page=2&key=k3y" and server.requests_seen[-1].method == "GET"


def test_media_bytes_and_identical_pairs(server: FakeFeedServer, client: requests.Session) -> None:
    feed = server.add_feed("/f", FakeFeed.synthetic(entries=250, page_size=100, video_size=300_000))
    entries = [e for p in follow(client, server.url("/f")) for e in p.entries]
    enclosures = {link.href for e in entries for link in e.links if link.rel == "enclosure"}
    thumbs = {t["url"] for e in entries for t in e.get("media_thumbnail", [])}
    assert all(u.startswith(server.base_url + "/media/") for u in enclosures | thumbs)
    image = client.get(server.url("/media/city0-3.jpg"), timeout=5)
    assert image.headers["Content-Type"] == "image/jpeg"
    assert int(image.headers["Content-Length"]) == len(image.content) > 1000
    assert image.content[:3] == b"\xff\xd8\xff" and image.content[-2:] == b"\xff\xd9"
    assert client.get(server.url("/media/city0-3.jpg"), timeout=5).content == image.content
    video = client.get(server.url("/media/city0-250.mp4"), timeout=5)
    assert video.headers["Content-Type"] == "video/mp4" and len(video.content) == 300_000
    assert video.content[4:8] == b"ftyp"
    head = client.head(server.url("/media/city0-250.mp4"), timeout=5)
    assert head.headers["Content-Length"] == "300000" and head.content == b""
    groups = feed.shared_media()
    assert len(groups) == 1 and len(groups[0]) == 11  # n % 21 == 0 share the city seal
    shared = {client.get(server.url(f"/media/{name}"), timeout=5).content for name in groups[0]}
    assert len(shared) == 1
    others = {client.get(server.url(f"/media/city0-{n}.jpg"), timeout=5).content for n in (3, 6, 9, 12)}
    assert len(others) == 4 and not others & shared
    for missing in ("nope.jpg", "city0-4.jpg", "city0-251.jpg", "city0-a3.jpg", "other-3.jpg"):
        assert client.get(server.url(f"/media/{missing}"), timeout=5).status_code == 404, missing
    url = server.add_media("custom.png", b"\x89PNG fake", "image/png")
    assert client.get(url, timeout=5).content == b"\x89PNG fake"


def test_edit_remove_add_new_change_what_is_served(server: FakeFeedServer, client: requests.Session) -> None:
    feed = server.add_feed("/f", FakeFeed.synthetic(entries=30, kind="rss"))
    before = client.get(server.url("/f"), timeout=5)
    parsed = feedparser.parse(before.content)
    first_id = parsed.entries[0].id

    edited = feed.edit(0, title="Corrected: road closure", summary="<p>Corrected <i>text</i></p>")
    after = client.get(server.url("/f"), headers={"If-None-Match": before.headers["ETag"]}, timeout=5)
    assert after.status_code == 200 and after.headers["ETag"] != before.headers["ETag"]
    assert after.headers["Last-Modified"] != before.headers["Last-Modified"]
    entry = feedparser.parse(after.content).entries[0]
    assert entry.id == first_id and entry.title == "Corrected: road closure" and "<i>text</i>" in entry.summary
    assert entry.updated_parsed > entry.published_parsed and edited.updated > edited.published

    removed = feed.remove(1)
    ids = [e.id for e in feedparser.parse(client.get(server.url("/f"), timeout=5).content).entries]
    assert removed.id not in ids and len(ids) == 29
    assert client.get(server.url(f"/posts/city0/{removed.key}"), timeout=5).status_code == 404
    assert client.get(server.url(f"/posts/city0/{edited.key}"), timeout=5).status_code == 200

    new = feed.add_new(2)
    served = feedparser.parse(client.get(server.url("/f"), timeout=5).content).entries
    assert [e.id for e in served[:2]] == [new[1].id, new[0].id] and new[1].id.endswith("/post/32")
    assert served[0].published_parsed >= served[1].published_parsed >= served[2].published_parsed
    assert len(served) == 31
    with pytest.raises(TypeError):
        FakeFeed.from_file(FIXTURE).edit(0, title="x")


def test_head_keep_alive_and_concurrency(server: FakeFeedServer, client: requests.Session) -> None:
    server.add_feed("/f", FakeFeed.synthetic(entries=250, page_size=100))
    head = client.head(server.url("/f?page=2"), timeout=5)
    body = client.get(server.url("/f?page=2"), timeout=5)
    assert head.content == b"" and head.headers["Content-Length"] == str(len(body.content))

    def fetch(n: int) -> int:
        with requests.Session() as s:
            s.trust_env = False
            return sum(s.get(server.url(f"/f?page={1 + n % 3}"), timeout=5).status_code == 200 for _ in range(10))

    server.clear_requests()
    with ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(fetch, range(8))) == 80
    assert len(server.requests_seen) == 80
    thread = server._thread
    server.stop()  # also cuts the kept-alive connection of `client`
    assert thread is not None and not thread.is_alive()
    with pytest.raises(requests.exceptions.ConnectionError):
        client.get(server.url("/f"), timeout=2)


def test_100k_entries_render_fast(server: FakeFeedServer, client: requests.Session) -> None:
    started = time.perf_counter()
    feed = server.add_feed("/big", FakeFeed.synthetic(entries=100_000, page_size=100))
    built = time.perf_counter()
    page1 = feed.page(1, server.base_url, "/big")
    first = time.perf_counter()
    for n in range(2, feed.page_count() + 1):
        feed.page(n, server.base_url, "/big")
    rendered = time.perf_counter()
    assert page1 is not None and feed.page_count() == 1000
    size = sum(len(feed.page(n, server.base_url, "/big")[0]) for n in range(1, 1001))  # type: ignore[index]
    # for comparison, a client downloading pages (already rendered) over HTTP, and also parsing them
    fetch_started = time.perf_counter()
    for n in range(1, 201):
        assert client.get(server.url(f"/big?page={n}"), timeout=5).status_code == 200
    per_get = (time.perf_counter() - fetch_started) / 200
    parse_started = time.perf_counter()
    for n in range(1, 11):
        assert len(feedparser.parse(client.get(server.url(f"/big?page={n}"), timeout=5).content).entries) == 100
    per_parse = (time.perf_counter() - parse_started) / 10
    last = feedparser.parse(client.get(server.url("/big?page=1000"), timeout=5).content)
    assert last.entries[-1].id.endswith("/post/1") and next_link(last) is None
    per_render = (rendered - built) / 1000
    print(f"\n100k synthetic Atom: build {built - started:.3f}s, page 1 {1000 * (first - built):.1f}ms, "
          f"all 1000 pages {rendered - built:.3f}s ({size / 1e6:.1f} MB, {1000 * per_render:.2f}ms/page); "
          f"client per page: GET {1000 * per_get:.2f}ms, GET+feedparser {1000 * per_parse:.1f}ms")
    # How fast is the benches' business (bench/harvest.py prints these beside its floor); a timed
    # assertion here would only fail on a loaded machine.


def test_command_line(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "connectors.rss.fakeserver", "--port", "0", "--entries", "30", "--page-size", "10",
         "--file", str(FIXTURE)], cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        with requests.Session() as s:
            s.trust_env = False
            pages = follow(s, base_url + "/feeds/city.atom")
            assert [len(p.entries) for p in pages] == [10, 10, 10]
            assert s.get(base_url + "/feeds/city.rss", timeout=5).status_code == 200
            assert s.get(base_url + "/feeds/videos.xml", timeout=5).content == FIXTURE.read_bytes()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
