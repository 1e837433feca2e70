"""A local fake RSS/Atom platform for the RSS connector's tests and benchmark.

A real HTTP/1.1 server (stdlib ``http.server``, a thread per connection) on 127.0.0.1 only, run in a
daemon thread. It serves feeds registered by path, the media they point at and an HTML page per post,
with conditional GET, gzip, chunked framing and faults that can be changed while it runs::

    import requests
    from connectors.rss.fakeserver import FakeFeed, FakeFeedServer

    with FakeFeedServer() as server:
        feed = server.add_feed("/feeds/city.atom", FakeFeed.synthetic(entries=250, page_size=100))
        page1 = requests.get(server.url("/feeds/city.atom"), timeout=5)
        assert f'<link rel="next" href="{server.base_url}/feeds/city.atom?page=2"/>' in page1.text
        feed.fail_first = 1
        assert requests.get(server.url("/feeds/city.atom"), timeout=5).status_code == 500

From a shell (prints the base URL, then serves until Ctrl-C)::

    python -m connectors.rss.fakeserver --port 8765 --entries 1000 --page-size 100
    curl -s 'http://127.0.0.1:8765/feeds/city.rss?page=2' | head

URLs: ``{feed path}[?page=N]`` (page 1 is the bare path), ``/media/{name}``, ``/posts/{prefix}/{key}``
(HTML; 404 once the post is removed), ``/`` (list of feeds). A feed request is checked in this order:
delay, ``status``, ``fail_first``, ``require_header``, ``require_query``, bad page (400), ``page_fault``,
no such page (404), conditional GET (304); then the body.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip as gzip_lib
import re
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from connectors.fakehttp import LoopbackServer
from connectors.rss.fakefeed import (
    BASE_TIME,
    FEED_TYPES,
    HOST,
    FakeEntry,
    FakeFeed,
    MediaSpec,
    esc,
    etag_of,
    http_date,
)

__all__ = ["FakeEntry", "FakeFeed", "FakeFeedServer", "MediaSpec", "RecordedRequest"]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # with the query string
    headers: dict[str, str]

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


class FakeFeedServer:
    """Serves FakeFeeds at http://127.0.0.1:PORT (port 0: an ephemeral one); a context manager."""

    def __init__(self, port: int = 0, *, gzip: bool = False, chunked: bool = False, host: str = HOST):
        if not host.startswith("127."):
            raise ValueError(f"the fake feed server listens on loopback only (127.0.0.0/8), not {host}")
        self.port, self.gzip, self.chunked, self.host = port, gzip, chunked, host
        self.base_url = ""
        self.feeds: dict[str, FakeFeed] = {}
        self.media: dict[str, tuple[bytes, str]] = {}  # extra files: name -> (bytes, content type)
        self.media_encoding: dict[str, str] = {}  # name -> Content-Encoding its bytes are already in
        self.requests_seen: list[RecordedRequest] = []
        self._lock, self._stopping = threading.Lock(), threading.Event()
        self._conns: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def add_feed(self, path: str, feed: FakeFeed) -> FakeFeed:
        if not path.startswith("/") or "?" in path:
            raise ValueError("a feed path starts with '/' and has no query")
        self.feeds[path] = feed
        return feed

    def remove_feed(self, path: str) -> None:
        self.feeds.pop(path, None)

    def add_media(self, name: str, data: bytes, content_type: str = "application/octet-stream",
                  encoding: str | None = None) -> str:
        """Serve ``data`` at /media/NAME; with ``encoding``, the bytes are sent as already in that
        Content-Encoding, whatever the client accepts (as a misconfigured CDN does)."""
        self.media[name] = (data, content_type)
        if encoding:
            self.media_encoding[name] = encoding
        return self.url(f"/media/{name}")

    def url(self, path: str) -> str:
        return self.base_url + path

    def requests_for(self, path: str) -> list[RecordedRequest]:
        """Requests for ``path``, whatever their query."""
        with self._lock:
            return [r for r in self.requests_seen if r.path.split("?", 1)[0] == path]

    def clear_requests(self) -> None:
        with self._lock:
            self.requests_seen.clear()

    def start(self) -> FakeFeedServer:
        if self._httpd is None:
            self._stopping.clear()
            self._httpd = _HTTPServer((self.host, self.port), _Handler)
            self._httpd.fake, self.port = self, self._httpd.server_address[1]
            self.base_url = f"http://{self.host}:{self.port}"
            self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                            name=f"FakeFeedServer:{self.port}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut kept-alive connections and join the thread."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()  # wakes handlers sleeping in delay_seconds
        httpd.shutdown()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FakeFeedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _HTTPServer(LoopbackServer):
    fake: FakeFeedServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else a body written after its headers waits ~40 ms for a delayed ACK
    timeout = 30
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        with self.server.fake._lock:
            self.server.fake._conns.add(self.connection)

    def finish(self) -> None:
        with self.server.fake._lock:
            self.server.fake._conns.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def handle(self) -> None:
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):  # a client that hung up mid-body
            super().handle()

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _serve(self, head: bool) -> None:
        fake, url = self.server.fake, urlsplit(self.path)
        with fake._lock:
            fake.requests_seen.append(RecordedRequest(self.command, self.path, dict(self.headers.items())))
        try:
            if url.path.startswith("/media/"):
                self._media(url.path[len("/media/"):], head)
            elif url.path.startswith("/posts/"):
                self._post(url.path.split("/")[2:], head)
            elif (feed := fake.feeds.get(url.path)) is not None:
                self._feed(feed, url.path, parse_qs(url.query, keep_blank_values=True), head)
            elif url.path == "/":  # the feeds' alternate/channel link
                items = "".join(f'<li><a href="{esc(p)}">{esc(p)}</a></li>' for p in list(fake.feeds))
                self._send(200, f"<html><body><ul>{items}</ul></body></html>".encode(), "text/html", {}, head)
            else:
                self._error(404, head)
        except OSError:  # the client went away (timed out, reset)
            self.close_connection = True

    def _feed(self, feed: FakeFeed, path: str, query: dict[str, list[str]], head: bool) -> None:
        fake = self.server.fake
        if feed.delay_seconds > 0 and fake._stopping.wait(feed.delay_seconds):
            self.close_connection = True
            return
        extra = {} if feed.retry_after is None else {"Retry-After": str(feed.retry_after)}
        with feed._lock:
            failing, feed.fail_first = feed.fail_first > 0, max(feed.fail_first - 1, 0)
        if feed.status not in (None, 200) or failing:
            return self._error(500 if feed.status in (None, 200) else feed.status, head, extra)
        need_h, need_q = feed.require_header, feed.require_query
        if (need_h and self.headers.get(need_h[0]) != need_h[1]) or (
                need_q and need_q[1] not in query.get(need_q[0], [])):
            return self._error(401, head, {"WWW-Authenticate": 'Bearer realm="fakefeed"'})
        try:
            page = 1 if feed.kind == "raw" else int(query.get("page", ["1"])[0])
        except ValueError:
            return self._error(400, head)
        if page in feed.page_fault:
            return self._error(feed.page_fault[page], head, extra)
        use_gzip = feed.gzip if feed.gzip is not None else fake.gzip
        gz = use_gzip and _accepts_gzip(self.headers.get("Accept-Encoding", ""))
        with feed._lock:
            got, clock = feed.page(page, fake.base_url, path, gz and not feed.malformed), feed.clock
        if got is None:
            return self._error(404, head)
        body, etag = got
        if feed.malformed:
            body = body[: max(len(body) // 2, 60)] + b"\n<entry><title>Truncated & broken</titl"
            body = gzip_lib.compress(body, mtime=0) if gz else body
            etag = etag_of(body)
        headers = {"ETag": etag, "Last-Modified": http_date(clock), "Cache-Control": "no-cache"}
        headers |= {"Vary": "Accept-Encoding"} if use_gzip else {}
        if _not_modified(self.headers, etag, clock):
            return self._send(304, b"", None, headers, head=True)
        headers |= {"Content-Encoding": "gzip"} if gz else {}
        headers |= {"Content-Encoding": feed.content_encoding} if feed.content_encoding else {}
        chunked = feed.chunked if feed.chunked is not None else fake.chunked
        self._send(200, body, feed.content_type or FEED_TYPES[feed.kind], headers, head,
                   chunk_size=feed.chunk_size if chunked else 0)

    def _media(self, name: str, head: bool) -> None:
        fake = self.server.fake
        if name in fake.media:
            encoding = fake.media_encoding.get(name)
            extra = {"Content-Encoding": encoding} if encoding else {}
            return self._send(200, fake.media[name][0], fake.media[name][1], extra, head)
        if (spec := next((s for f in list(fake.feeds.values()) if (s := f.media_spec(name))), None)) is None:
            return self._error(404, head)
        self.send_response(200)
        self.send_header("Content-Type", spec.content_type)
        self.send_header("Content-Length", str(spec.size))
        self.end_headers()
        for chunk in [] if head else spec.chunks():
            self.wfile.write(chunk)

    def _post(self, parts: list[str], head: bool) -> None:
        for feed in list(self.server.fake.feeds.values()):
            if len(parts) != 2 or feed.kind == "raw" or feed.prefix != parts[0]:
                continue
            if parts[1] in feed.post_faults:
                return self._error(feed.post_faults[parts[1]], head)
            entry = next((e for e in list(feed.entries) if e.key == parts[1]), None)
            if entry is None and feed.endless and re.fullmatch(r"a[1-9]\d*", parts[1]):
                entry = feed._make(parts[1], int(parts[1][1:]), BASE_TIME)
            if entry is not None:
                page = f"<html><head><title>{esc(entry.title)}</title></head><body>{entry.summary}</body></html>"
                return self._send(200, page.encode(), "text/html; charset=utf-8", {}, head)
        self._error(404, head)

    def _error(self, status: int, head: bool, extra: dict[str, str] | None = None) -> None:
        title = f"{status} {self.responses.get(status, ('Error',))[0]}"
        body = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>\n".encode()
        self._send(status, body, "text/html; charset=utf-8", extra or {}, head)

    def _send(self, status: int, body: bytes, content_type: str | None, headers: dict[str, str], head: bool,
              chunk_size: int = 0) -> None:
        self.send_response(status)
        for name, value in (({"Content-Type": content_type} if content_type else {}) | headers).items():
            self.send_header(name, value)
        if status != 304:
            self.send_header(*(("Transfer-Encoding", "chunked") if chunk_size else ("Content-Length", str(len(body)))))
        self.end_headers()
        if head or status == 304:
            return
        if not chunk_size:
            self.wfile.write(body)
            return
        for i in range(0, len(body), chunk_size):  # our own framing: size in hex CRLF, data CRLF; 0 CRLF CRLF
            self.wfile.write(b"%x\r\n%s\r\n" % (len(body[i:i + chunk_size]), body[i:i + chunk_size]))
        self.wfile.write(b"0\r\n\r\n")


def _accepts_gzip(value: str) -> bool:
    m = re.search(r"(?:^|,)\s*gzip\s*(?:;\s*q\s*=\s*([01](?:\.\d*)?))?\s*(?:,|$)", value, re.IGNORECASE)
    return bool(m) and (m[1] is None or float(m[1]) > 0)


def _not_modified(headers: Any, etag: str, last_modified: datetime) -> bool:
    if (inm := headers.get("If-None-Match")) is not None:  # wins over If-Modified-Since (RFC 9110 13.2.2)
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or etag.removeprefix("W/") in tags
    try:
        since = parsedate_to_datetime(headers.get("If-Modified-Since") or "")
    except (TypeError, ValueError):
        return False
    return last_modified.replace(microsecond=0) <= (since if since.tzinfo else since.replace(tzinfo=UTC))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m connectors.rss.fakeserver",
                                     description="Local fake RSS/Atom platform on 127.0.0.1 (see the module doc).")
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--entries", type=int, default=250)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gzip", action="store_true")
    parser.add_argument("--chunked", action="store_true")
    parser.add_argument("--file", type=Path, help="also serve this feed file at /feeds/videos.xml")
    parser.add_argument("--host", default=HOST, help="a loopback address (127.x.y.z; default %(default)s)")
    args = parser.parse_args(argv)
    server = FakeFeedServer(args.port, gzip=args.gzip, chunked=args.chunked, host=args.host)
    for kind in FEED_TYPES:
        server.add_feed(f"/feeds/city.{kind}", FakeFeed.synthetic(args.entries, args.page_size, kind, args.seed))
    if args.file:
        server.add_feed("/feeds/videos.xml", FakeFeed.from_file(args.file))
    server.start()
    print(server.base_url, *(f"  {server.url(p)}" for p in server.feeds), sep="\n", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
