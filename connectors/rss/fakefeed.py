"""The fake feeds a FakeFeedServer serves: deterministic synthetic posts, their media, and the
mutations and faults tests and simulations drive them with (see fakeserver.py for the server)."""

from __future__ import annotations

import gzip as gzip_lib
import hashlib
import html
import random
import re
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

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


def etag_of(body: bytes) -> str:
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
    content_encoding: str | None = None  # a raw body already in this encoding, sent whatever the client accepts
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
                hit = body, etag_of(body)
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
