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
import hashlib
import html
import random
import re
import socket
import socketserver
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

HOST = "127.0.0.1"
ATOM_NS, MEDIA_NS = "http://www.w3.org/2005/Atom", "http://search.yahoo.com/mrss/"
BASE_TIME = datetime(2015, 1, 1, tzinfo=UTC)  # entry n is published at BASE_TIME + n * STEP (+ < 10 min)
STEP, TICK = timedelta(minutes=30), timedelta(minutes=1)  # TICK: the feed clock's advance per mutation
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FIXED_TIME = datetime(2019, 1, 18, 20, 11, 48, tzinfo=UTC)  # Last-Modified of a file-backed feed
FEED_TYPES = {"atom": "application/atom+xml; charset=utf-8", "rss": "application/rss+xml; charset=utf-8"}
JPEG_HEAD = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
MEDIA_RE = re.compile(r"(?P<prefix>[\w.]+?)-(?P<a>a?)(?P<n>[1-9]\d*)(?:-poster)?\.(?:jpg|mp4)")
TOPICS = (
    "Road closure on Main Street", "City Council meeting agenda", "Parks & Recreation summer camps open",
    "Water main repair on Elm Avenue", "Library hours change for the holidays", "Snow emergency declared",
    "Public hearing on the zoning amendment", "Café permits: new sidewalk rules",
    "Recycling pickup moves to Friday", "Mayor's statement on the budget",
)
AUTHORS = ("Office of Communications", "Parks & Recreation", "Public Works", "Mayor's Office")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
esc = html.escape


def rfc3339(dt: datetime) -> str:  # UTC, whole seconds; strftime was the slowest part of rendering
    return dt.isoformat()[:19] + "Z"


def http_date(dt: datetime) -> str:  # RFC 822/1123 in GMT, as in RSS pubDate and HTTP headers
    return f"{DAYS[dt.weekday()]}, {dt.day:02d} {MONTHS[dt.month - 1]} {dt.year} {dt.isoformat()[11:19]} GMT"


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha1(body).hexdigest()[:20] + '"'


@dataclass(slots=True)
class FakeEntry:
    """One synthetic post; ``key`` ("123", or "a5" for an endless feed's archive) is in its id and URLs."""

    id: str
    key: str
    n: int  # decides its media
    title: str
    summary: str  # HTML
    author: str
    published: datetime
    updated: datetime


class MediaSpec(NamedTuple):
    """A file served at ``/media/{name}``: deterministic bytes; equal ``content_key``, equal bytes."""

    name: str
    content_type: str
    size: int
    content_key: str

    def chunks(self, block: int = 1 << 16) -> Iterator[bytes]:
        video = self.content_type == "video/mp4"
        head = MP4_HEAD + (self.size - 24).to_bytes(4, "big") + b"mdat" if video else JPEG_HEAD
        tail = b"" if video else b"\xff\xd9"
        fill, remaining = random.Random(self.content_key).randbytes(block), self.size - len(head) - len(tail)
        yield head
        while remaining > 0:
            yield fill[:remaining]
            remaining -= block
        yield tail


@dataclass(eq=False)
class FakeFeed:
    """A feed for FakeFeedServer; build it with ``from_file`` or ``synthetic``. Every option can be changed
    while the server runs; transport options left at None follow the server's."""

    kind: str = "atom"  # "atom", "rss", or "raw" (fixed bytes)
    entries: list[FakeEntry] = field(default_factory=list)  # newest first
    page_size: int | None = None  # None: a single page
    prefix: str = "city0"  # in this feed's ids, media names and post URLs
    seed: int = 0
    title: str = "City of Springfield: News"
    raw: bytes = b""
    video_size: int = 65536
    content_type: str | None = None
    gzip: bool | None = None  # Content-Encoding: gzip when the client accepts it
    chunked: bool | None = None  # Transfer-Encoding: chunked instead of Content-Length
    chunk_size: int = 4096
    status: int | None = None  # answer every request with this status
    fail_first: int = 0  # the next N requests get 500 (counts down)
    delay_seconds: float = 0.0
    malformed: bool = False  # truncated, ill-formed XML (still starts like the feed)
    endless: bool = False  # every page has a next link; pages past the real ones hold archive entries
    page_fault: dict[int, int] = field(default_factory=dict)  # {page number: status}
    require_header: tuple[str, str] | None = None  # 401 unless the request has this header value
    require_query: tuple[str, str] | None = None  # 401 unless the query has this parameter value
    retry_after: int | None = None  # Retry-After on fault responses
    window: int | None = None  # list only the newest N posts (as YouTube does); older posts still exist
    post_faults: dict[str, int] = field(default_factory=dict)  # {post key: status} for its /posts/ page
    clock: datetime = BASE_TIME  # Last-Modified of every page
    version: int = 0
    _next_n: int = field(default=1, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _cache: dict[tuple[str, str, int, bool], tuple[bytes, str]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_file(cls, path: str | Path, *, content_type: str = "text/xml; charset=UTF-8", **opts: Any) -> FakeFeed:
        """Serve the file's bytes unchanged, as one page, whatever the query."""
        return cls(kind="raw", raw=Path(path).read_bytes(), content_type=content_type, clock=FIXED_TIME, **opts)

    @classmethod
    def synthetic(cls, entries: int = 100, page_size: int | None = None, kind: str = "atom", seed: int = 0, *,
                  prefix: str | None = None, video_size: int = 65536, **opts: Any) -> FakeFeed:
        """A deterministic city news feed of posts n = entries..1, newest first."""
        if kind not in FEED_TYPES or not re.fullmatch(r"[\w.]+", prefix or "x"):
            raise ValueError("kind must be 'atom' or 'rss'; prefix only letters, digits, '_' and '.'")
        feed = cls(kind=kind, page_size=page_size, seed=seed, prefix=prefix or f"city{seed}",
                   video_size=video_size, **opts)
        jitter = [timedelta(seconds=(i * 37 + seed * 11) % 600) for i in range(600)]
        feed.entries = [feed._make(str(n), n, BASE_TIME + n * STEP + jitter[n % 600]) for n in range(entries, 0, -1)]
        feed._next_n, feed.clock = entries + 1, feed.entries[0].updated if feed.entries else BASE_TIME
        return feed

    def _make(self, key: str, n: int, when: datetime) -> FakeEntry:
        topic, author = TOPICS[(n * 7 + self.seed) % len(TOPICS)], AUTHORS[(n + self.seed) % len(AUTHORS)]
        link = f'<a href="/posts/{self.prefix}/{key}">More</a>'
        summary = f"<p>{esc(author)} update {key}: <b>{esc(topic)}</b>. {link}</p>"
        return FakeEntry(f"tag:city.example,2015:{self.prefix}/post/{key}", key, n, f"{topic} ({key})", summary,
                         author, when, when)

    # Mutations: each advances ``clock`` by TICK, bumps ``version`` and drops the cached pages.
    def touch(self, at: datetime | None = None) -> datetime:
        """Record a change (call it after changing ``entries`` or ``raw`` by hand); ``at`` sets the
        feed clock to a simulated time instead of advancing it by a minute."""
        with self._lock:
            self.clock, self.version = at or self.clock + TICK, self.version + 1
            self._cache.clear()
            return self.clock

    def edit(self, entry_index: int, *, title: str | None = None, summary: str | None = None,
             at: datetime | None = None) -> FakeEntry:
        """Change ``entries[entry_index]`` (0 = newest); its ``updated`` becomes the new clock."""
        with self._lock:
            entry = self._own_entries()[entry_index]
            entry.title = entry.title if title is None else title
            entry.summary = entry.summary if summary is None else summary
            entry.updated = self.touch(at)
            return entry

    def remove(self, entry_index: int, at: datetime | None = None) -> FakeEntry:
        """Delete a post: gone from the feed, and its post page answers 404 (its media stay)."""
        with self._lock:
            entry = self._own_entries().pop(entry_index)
            self.touch(at)
            return entry

    def add_new(self, count: int = 1, at: datetime | None = None) -> list[FakeEntry]:
        """Publish ``count`` posts at the top (returned oldest first)."""
        with self._lock:
            new = [self._make(str(n), n, self.touch(at)) for n in range(self._next_n, self._next_n + count)]
            self._own_entries()[:0], self._next_n = new[::-1], self._next_n + count
            return new

    def _own_entries(self) -> list[FakeEntry]:
        if self.kind == "raw":
            raise TypeError("a file-backed feed has no entries: assign .raw and call touch()")
        return self.entries

    def media_of(self, key: str, n: int) -> list[MediaSpec]:
        """Post n has a video (``video_size`` bytes) and its JPEG poster if n % 25 == 0, else a JPEG if
        n % 3 == 0; all posts with n % 21 == 0 share the same JPEG bytes (the city seal)."""
        p = self.prefix
        if n % 25 == 0:
            return [MediaSpec(f"{p}-{key}.mp4", "video/mp4", max(self.video_size, 64), f"{p}:video:{key}"),
                    MediaSpec(f"{p}-{key}-poster.jpg", "image/jpeg", 2048 + n % 512, f"{p}:poster:{key}")]
        if n % 3:
            return []
        ck = f"{p}:seal" if n % 21 == 0 else f"{p}:img:{key}"
        size = 1024 + zlib.crc32(ck.encode()) % 4096  # 1-5 KiB
        return [MediaSpec(f"{p}-{key}.jpg", "image/jpeg", size, ck)]

    def media_spec(self, name: str) -> MediaSpec | None:
        """The file ``name`` if a post of this feed has (or had) it."""
        m = MEDIA_RE.fullmatch(name)
        if self.kind == "raw" or not m or m["prefix"] != self.prefix:
            return None
        n = int(m["n"])
        if not self.endless if m["a"] else n >= self._next_n:
            return None
        return next((s for s in self.media_of(m["a"] + m["n"], n) if s.name == name), None)

    def shared_media(self) -> list[list[str]]:
        """Groups of media names (of current posts) that have identical bytes."""
        groups: dict[str, list[str]] = {}
        for e in list(self.entries):
            for s in self.media_of(e.key, e.n):
                groups.setdefault(s.content_key, []).append(s.name)
        return [names for names in groups.values() if len(names) > 1]

    def page_count(self) -> int:
        """Number of real pages (an endless feed answers any page past them too)."""
        listed = len(self.listed())
        return 1 if self.kind == "raw" or not self.page_size else max(1, -(-listed // self.page_size))

    def listed(self) -> list[FakeEntry]:
        """The posts the feed shows: all of them, or the newest ``window``."""
        return self.entries[:self.window] if self.window else self.entries

    def page(self, page: int, base_url: str, path: str, gz: bool = False) -> tuple[bytes, str] | None:
        """(body, ETag) of ``page`` as served at ``base_url + path``, or None if there is no such page.
        Rendered once and cached until the feed changes (an endless feed's extra pages are not cached)."""
        with self._lock:
            if (hit := self._cache.get((base_url, path, page, gz))) is not None:
                return hit
            if gz:
                if (plain := self.page(page, base_url, path)) is None:
                    return None
                hit = gzip_lib.compress(plain[0], 6, mtime=0), "W/" + plain[1]
            else:
                if (body := self._render(page, base_url, path)) is None:
                    return None
                hit = body, _etag(body)
            if page <= self.page_count():
                self._cache[(base_url, path, page, gz)] = hit
            return hit

    def _render(self, page: int, base: str, path: str) -> bytes | None:
        last = self.page_count()
        if page < 1 or (page > last and not self.endless):
            return None
        if self.kind == "raw":
            return self.raw
        listed = self.listed()
        size = self.page_size or max(len(listed), 1)
        start = (page - 1) * size
        items = listed[start:start + size]
        if self.endless:  # archive posts a1, a2, ... continue below the oldest real post
            k0 = max(start - len(listed), 0) + 1
            items += [self._make(f"a{k}", k, max(EPOCH, BASE_TIME - k * STEP))
                      for k in range(k0, k0 + size - len(items))]
        rels = [("self", page), ("first", 1)] + [("previous", page - 1)] * (page > 1)
        rels += [("next", page + 1)] * (self.endless or page < last) + [("last", last)] * (not self.endless)
        links = [(rel, esc(base + path) + ("" if p == 1 else f"?page={p}")) for rel, p in rels]
        head = '<?xml version="1.0" encoding="utf-8"?>\n'
        if self.kind == "atom":
            out = [f'{head}<feed xmlns="{ATOM_NS}" xmlns:media="{MEDIA_NS}">\n<id>tag:city.example,2015:{self.prefix}'
                   f'</id><title>{esc(self.title)}</title><updated>{rfc3339(self.clock)}</updated>'
                   f'<link rel="alternate" href="{base}/"/>\n', *(f'<link rel="{r}" href="{u}"/>\n' for r, u in links),
                   *(self._atom_entry(e, base) for e in items), "</feed>\n"]
        else:
            out = [f'{head}<rss version="2.0" xmlns:atom="{ATOM_NS}" xmlns:media="{MEDIA_NS}">\n<channel><title>'
                   f"{esc(self.title)}</title><link>{base}/</link><description>Official news from the City of "
                   f"Springfield</description><lastBuildDate>{http_date(self.clock)}</lastBuildDate>\n",
                   *(f'<atom:link rel="{r}" href="{u}"/>\n' for r, u in links),
                   *(self._rss_item(e, base) for e in items), "</channel>\n</rss>\n"]
        return "".join(out).encode()

    def _media_xml(self, e: FakeEntry, base: str, enclosure: str) -> str:
        return "".join(f'<media:thumbnail url="{base}/media/{s.name}" width="640" height="360"/>'
                       if s.name.endswith("-poster.jpg") else enclosure.format(f"{base}/media/{s.name}", s)
                       for s in self.media_of(e.key, e.n))

    def _atom_entry(self, e: FakeEntry, base: str) -> str:
        media = self._media_xml(e, base, '<link rel="enclosure" type="{1.content_type}" length="{1.size}" href="{0}"/>')
        published = rfc3339(e.published)
        updated = published if e.updated == e.published else rfc3339(e.updated)
        return (f'<entry><id>{e.id}</id><title type="text">{esc(e.title)}</title><link rel="alternate" '
                f'type="text/html" href="{base}/posts/{self.prefix}/{e.key}"/><published>{published}</published>'
                f"<updated>{updated}</updated><author><name>{esc(e.author)}</name></author>"
                f'<summary type="html">{esc(e.summary)}</summary>{media}</entry>\n')

    def _rss_item(self, e: FakeEntry, base: str) -> str:
        media = self._media_xml(e, base, '<enclosure url="{0}" length="{1.size}" type="{1.content_type}"/>')
        edited = f"<atom:updated>{rfc3339(e.updated)}</atom:updated>" if e.updated != e.published else ""
        return (f"<item><title>{esc(e.title)}</title><link>{base}/posts/{self.prefix}/{e.key}</link>"
                f'<guid isPermaLink="false">{e.id}</guid><pubDate>{http_date(e.published)}</pubDate>{edited}'
                f"<author>press@springfield.example.org ({esc(e.author)})</author>"
                f"<description>{esc(e.summary)}</description>{media}</item>\n")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # with the query string
    headers: dict[str, str]

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


class FakeFeedServer:
    """Serves FakeFeeds at http://127.0.0.1:PORT (port 0: an ephemeral one); a context manager."""

    def __init__(self, port: int = 0, *, gzip: bool = False, chunked: bool = False):
        self.port, self.gzip, self.chunked = port, gzip, chunked
        self.base_url = ""
        self.feeds: dict[str, FakeFeed] = {}
        self.media: dict[str, tuple[bytes, str]] = {}  # extra files: name -> (bytes, content type)
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

    def add_media(self, name: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        self.media[name] = (data, content_type)
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
            self._httpd = _HTTPServer((HOST, self.port), _Handler)
            self._httpd.fake, self.port = self, self._httpd.server_address[1]
            self.base_url = f"http://{HOST}:{self.port}"
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


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = allow_reuse_address = True
    fake: FakeFeedServer

    def server_bind(self) -> None:  # HTTPServer's would look the address up in DNS
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = HOST, self.server_address[1]


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
            etag = _etag(body)
        headers = {"ETag": etag, "Last-Modified": http_date(clock), "Cache-Control": "no-cache"}
        headers |= {"Vary": "Accept-Encoding"} if use_gzip else {}
        if _not_modified(self.headers, etag, clock):
            return self._send(304, b"", None, headers, head=True)
        headers |= {"Content-Encoding": "gzip"} if gz else {}
        chunked = feed.chunked if feed.chunked is not None else fake.chunked
        self._send(200, body, feed.content_type or FEED_TYPES[feed.kind], headers, head,
                   chunk_size=feed.chunk_size if chunked else 0)

    def _media(self, name: str, head: bool) -> None:
        fake = self.server.fake
        if name in fake.media:
            return self._send(200, fake.media[name][0], fake.media[name][1], {}, head)
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
    args = parser.parse_args(argv)
    server = FakeFeedServer(args.port, gzip=args.gzip, chunked=args.chunked)
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
