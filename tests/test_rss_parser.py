"""The RSS/Atom parser on the real YouTube channel feed fixture and on RSS 2.0."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from archiver.capture.warc import parse_warc_date
from conftest import FIXTURES, ROOT
from connectors.base import CapturedResponse, Headers, Malformed
from connectors.rss.parser import parse_feed


def response(body: bytes, content_type: str = "application/atom+xml",
             url: str = "https://x/feed.xml") -> CapturedResponse:
    return CapturedResponse(url, 200, Headers([("Content-Type", content_type)]), body,
                            parse_warc_date("2026-11-23T00:00:00.000000Z"))


def test_youtube_channel_feed() -> None:
    page = parse_feed(response((FIXTURES / "rss" / "youtube_channel_videos_feed.xml").read_bytes(), "text/xml"))
    assert page.problem is None and page.next_url is None
    profile, video = page.observations
    assert profile.kind == "profile" and profile.platform_id == "yt:channel:UC7vv3cBq14FRXajteZt6FEg"
    assert profile.content["title"] == "egucom2014"
    assert video.platform_id == "yt:video:palm1QdV8ZI"
    assert video.url == "https://www.youtube.com/watch?v=palm1QdV8ZI"
    assert video.posted_at == datetime(2017, 9, 30, 18, 44, 7, tzinfo=UTC)
    assert video.content["yt_videoid"] == "palm1QdV8ZI"
    assert "Das erste Intro" in video.text
    assert "https://i1.ytimg.com/vi/palm1QdV8ZI/hqdefault.jpg" in video.media_urls
    # View counts change on every fetch; they must not make new versions.
    assert "71" not in str(video.content) and "statistics" not in str(video.content)


def test_rss2_sample_feed() -> None:
    page = parse_feed(response((ROOT / "examples" / "feeds" / "city-news.xml").read_bytes(), "application/rss+xml"))
    entries = [o for o in page.observations if o.kind == "entry"]
    assert [e.platform_id for e in entries] == ["example-gov-news-2026-0311", "example-gov-news-2026-0320",
                                                "example-gov-news-2026-0602"]
    assert entries[0].author == "Public Works Department"
    assert entries[0].content["summary"].startswith("<p>Residents")  # markup kept as published
    assert "bike lanes" in entries[0].text and "<b>" not in entries[0].text
    assert page.newest == "2026-06-02T22:10:00+00:00"


def test_what_is_not_a_feed() -> None:
    assert "not a valid RSS or Atom feed" in (parse_feed(response(b"<feed><entry><title>cut off")).problem or "")
    assert "answered image/jpeg, not a feed" in (parse_feed(response(b"\xff\xd8", "image/jpeg")).problem or "")
    assert parse_feed(response(b'{"data": []}', "application/json")).problem is not None


def test_same_bytes_same_observations() -> None:
    body = (FIXTURES / "rss" / "youtube_channel_videos_feed.xml").read_bytes()
    first, second = parse_feed(response(body)), parse_feed(response(body))
    assert [o.content_hash() for o in first.observations] == [o.content_hash() for o in second.observations]


def test_what_the_fuzzer_found_is_a_problem_or_a_quarantine_never_a_crash() -> None:
    assert parse_feed(response(b"")).problem  # feedparser gave no "version" at all: AttributeError before
    declaration = b'<?xml version="1.0" encoding="ut\xc0f-8"?><feed xmlns="http://www.w3.org/2005/Atom"></feed>'
    with pytest.raises(Malformed, match="expected a document feedparser can read, got UnicodeDecodeError"):
        parse_feed(response(declaration))  # feedparser's own UnicodeDecodeError: the record is quarantined
