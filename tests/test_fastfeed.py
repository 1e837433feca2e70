"""The fast reading of common feeds gives exactly what feedparser gives (connectors/rss/fastfeed.py):
on every fixture, every shape the fake platforms serve, and generated feeds; what it does not read
goes to feedparser."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from unittest import mock

import pytest

from conftest import FIXTURES
from connectors.base import CapturedResponse, Headers
from connectors.rss import fastfeed, parser
from connectors.rss.fakefeed import FEED_TYPES, FakeFeed

BASE = "http://127.0.0.1:8765"


def _response(body: bytes, kind: str = "atom", url: str = f"{BASE}/feeds/city.atom") -> CapturedResponse:
    return CapturedResponse(url, 200, Headers([("Content-Type", FEED_TYPES.get(kind, "application/xml"))]), body,
                            datetime(2026, 11, 23, tzinfo=UTC))


def _both(response: CapturedResponse) -> tuple[parser.FeedPage, parser.FeedPage]:
    fast = parser.parse_feed(response)
    with mock.patch.object(fastfeed, "read", return_value=None):
        slow = parser.parse_feed(response)
    return fast, slow


def _same(response: CapturedResponse, *, read_fast: bool | None = True) -> bool:
    """Both readings agree; returns whether the fast one read it."""
    fast_read = fastfeed.read(response.body) is not None
    assert read_fast is None or fast_read is read_fast
    fast, slow = _both(response)
    assert fast.problem == slow.problem and fast.next_url == slow.next_url
    assert (fast.newest, fast.oldest_posted) == (slow.newest, slow.oldest_posted)
    assert len(fast.observations) == len(slow.observations)
    for a, b in zip(fast.observations, slow.observations, strict=True):
        assert a == b
        assert a.content_hash() == b.content_hash()
    return fast_read


def test_the_recorded_youtube_feed() -> None:
    _same(_response((FIXTURES / "rss" / "youtube_channel_videos_feed.xml").read_bytes(), "xml"))


@pytest.mark.parametrize("kind", ["atom", "rss"])
def test_every_page_of_the_fake_feeds(kind: str) -> None:
    feed = FakeFeed.synthetic(entries=450, page_size=100, kind=kind, seed=3)
    feed.edit(5, title="Edited: Café & \"quotes\" <b>bold</b> — 'dash'", summary="<p>x &amp; y</p> &#x27;z")
    for page in range(1, feed.page_count() + 1):
        body, _ = feed.page(page, BASE, f"/feeds/city.{kind}")
        _same(_response(body, kind, f"{BASE}/feeds/city.{kind}"))


def test_generated_feeds() -> None:
    """Titles and summaries of markup, entities, quotes and non-ASCII text (an empty summary goes to
    feedparser)."""
    words = ["Road", "closure", "&", "<b>", "Café", "'", '"', "—", "ü", "&amp;", "&#x27;", "100%", "a<b", "x\u00a0y"]
    fast = 0
    for seed in range(40):
        rng = random.Random(seed)
        kind = ("atom", "rss")[seed % 2]
        feed = FakeFeed.synthetic(entries=rng.randint(1, 60), page_size=25, kind=kind, seed=seed)
        for index in range(min(len(feed.entries), rng.randint(0, 10))):
            feed.edit(index, title=" ".join(rng.choices(words, k=rng.randint(1, 12))),
                      summary=" ".join(rng.choices(words, k=rng.randint(0, 12))) if rng.random() < 0.7 else None)
        body, _ = feed.page(1, BASE, f"/feeds/city.{kind}")
        fast += _same(_response(body, kind, f"{BASE}/feeds/city.{kind}"), read_fast=None)
    assert fast >= 20  # most are read fast


@pytest.mark.parametrize("change", [
    (b"<title type=\"text\">", b"<title type=\"html\">"),  # another content type
    (b"<entry>", b"<entry xml:base=\"http://elsewhere.example/\">"),  # relative URL base
    (b"<?xml version=\"1.0\" encoding=\"utf-8\"?>", b"<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>"),
    (b"<published>", b"<published> "),  # white space feedparser strips
    (b"<title type=\"text\">", "<title type=\"text\">\u00a0".encode()),
    (b"<summary type=\"html\">", b"<summary type=\"xhtml\">"),
    (b"</entry>", b"<category term=\"roads\"/></entry>"),  # an element not read here
    (b"<?xml version=\"1.0\" encoding=\"utf-8\"?>", b"<?xml version=\"1.0\" encoding=\"utf-8\"?><!DOCTYPE feed>"),
])
def test_what_is_not_read_here_goes_to_feedparser(change: tuple[bytes, bytes]) -> None:
    body, _ = FakeFeed.synthetic(entries=5, page_size=5).page(1, BASE, "/feeds/city.atom")
    changed = body.replace(*change)
    assert changed != body
    assert fastfeed.read(changed) is None
    fast, slow = _both(_response(changed))
    assert fast == slow


def test_a_truncated_page_is_no_feed_either_way() -> None:
    body, _ = FakeFeed.synthetic(entries=20, page_size=20).page(1, BASE, "/feeds/city.atom")
    _same(_response(body[: len(body) // 2]), read_fast=False)
