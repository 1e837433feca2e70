"""RSS 2.0 and Atom (RFC 4287) payloads to observations, via feedparser.

Each entry is an item of kind "entry"; the feed itself is an item of kind "profile", so
changes to the channel's title or description are kept too. Counters that change on every
fetch (YouTube's views and star ratings) are not content: they would make a new version
each harvest without anything having been edited.
"""

from __future__ import annotations

import hashlib
import html
import re
from calendar import timegm
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import feedparser
from feedparser.exceptions import ThingsNobodyCaresAboutButMe

from connectors.base import CapturedResponse, Observation, VersionState
from connectors.rss import fastfeed
from connectors.untrusted import Malformed, clean, isolated

_TAG = re.compile(r"<[^>]+>")
FEED_TYPES = ("xml", "rss", "atom", "rdf")


@dataclass
class FeedPage:
    """One parsed feed document."""

    observations: list[Observation] = field(default_factory=list)
    next_url: str | None = None
    problem: str | None = None  # why this is not a usable feed, if it is not
    newest: str | None = None  # latest published/updated time among its entries (ISO 8601)
    oldest_posted: datetime | None = None  # earliest publication time among its entries


def plain_text(markup: str) -> str:
    """Markup as words. (``str.split`` and the regex's ``\\s`` are the same white space; splitting
    is faster, and text without a tag skips the tag pattern.)"""
    markup = markup or ""
    return " ".join(html.unescape(_TAG.sub(" ", markup) if "<" in markup else markup).split())


def _when(parsed: Any) -> datetime | None:
    """A feedparser time; None for what no calendar holds (year 99999, say: the text stays in content)."""
    try:
        return datetime.fromtimestamp(timegm(parsed), UTC) if parsed else None
    except (ValueError, OverflowError, OSError, TypeError):
        return None


def _links(entry: Any) -> list[dict[str, str]]:
    return [{k: str(v) for k, v in link.items() if k in ("rel", "href", "type", "length", "title")}
            for link in entry.get("links", [])]


def _media(entry: Any) -> list[str]:
    urls: list[str] = []
    for enclosure in entry.get("enclosures", []):
        if enclosure.get("href"):
            urls.append(enclosure["href"])
    for key in ("media_content", "media_thumbnail"):
        for medium in entry.get(key, []) or []:
            if medium.get("url"):
                urls.append(medium["url"])
    return list(dict.fromkeys(urls))


def _raw(entry: Any, key: str) -> Any:
    """A field as the feed had it: feedparser's ``get`` maps a missing "updated" to "published",
    with a deprecation warning, and records must not confuse the two."""
    return dict.get(entry, key)


def entry_id(entry: Any) -> str:
    """The entry's stable id: its id/guid, else its link, else a digest of title and date."""
    for key in ("id", "link"):
        if entry.get(key):
            return clean(str(entry[key]))
    basis = f"{entry.get('title', '')}|{_raw(entry, 'published') or _raw(entry, 'updated') or ''}"
    return "sha256:" + hashlib.sha256(clean(basis).encode()).hexdigest()


def entry_observation(entry: Any) -> Observation:
    content = [c.get("value", "") for c in entry.get("content", [])]
    summary = entry.get("summary", "")
    description = entry.get("media_description", "")  # YouTube's media:description
    normalized = {
        "title": entry.get("title", ""),
        "link": entry.get("link"),
        "summary": summary,
        "content": content,
        "description": description,
        "published": entry.get("published"),
        "updated": _raw(entry, "updated"),
        "author": entry.get("author"),
        "links": _links(entry),
        "enclosures": [dict(e) for e in entry.get("enclosures", [])],
        "tags": [t.get("term") for t in entry.get("tags", [])],
        "media": _media(entry),
    }
    for key in ("yt_videoid", "yt_channelid"):
        if entry.get(key):
            normalized[key] = entry[key]
    words = " ".join(filter(None, [entry.get("title", ""), plain_text(summary), *map(plain_text, content),
                                   plain_text(description)]))
    return Observation(
        platform_id=entry_id(entry),
        kind="entry",
        content=normalized,  # made storable by Observation itself (once: this was half the parsing time)
        text=words,
        url=clean(entry.get("link")),
        author=clean(entry.get("author")),
        posted_at=_when(_raw(entry, "published_parsed") or _raw(entry, "updated_parsed")),
        media_urls=tuple(clean(normalized["media"])),
    )


def feed_observation(feed: Any, url: str) -> Observation:
    """The feed's own description as of this fetch (its profile)."""
    content = {
        "title": feed.get("title", ""),
        "subtitle": feed.get("subtitle", ""),
        "link": feed.get("link"),
        "author": feed.get("author"),
        "language": feed.get("language"),
        "rights": feed.get("rights"),
        "image": (feed.get("image") or {}).get("href"),
    }
    return Observation(
        platform_id=clean(str(feed.get("id") or "feed")),
        kind="profile",
        content=content,
        text=" ".join(filter(None, [content["title"], plain_text(content["subtitle"])])),
        url=clean(feed.get("link") or url),
        author=clean(feed.get("author")),
    )


GONE = (404, 410)


def lookup_observations(response: CapturedResponse) -> list[Observation]:
    """A direct lookup of one entry's page: 404 or 410 is the publisher saying it is gone.

    Anything else says nothing about the entry (a 200 means it merely left the feed's window),
    so nothing is recorded and nothing is deleted.
    """
    if response.lookup is None or response.status not in GONE:
        return []
    return [Observation(platform_id=response.lookup, kind="entry", state=VersionState.DELETED,
                        content={"gone": f"HTTP {response.status} at {response.url}"})]


def _looks_like_feed(response: CapturedResponse) -> bool:
    kind = response.content_type
    return not kind or any(word in kind for word in FEED_TYPES) or kind.startswith("text/")


def _utf8(response: CapturedResponse) -> bool:
    charset = response.headers.get("content-type", "").lower().partition("charset=")[2].strip(' "')
    return charset in ("", "utf-8")


def _feedparser(response: CapturedResponse) -> Any:
    try:
        return feedparser.parse(
            response.body,
            response_headers={"content-location": response.url,
                              "content-type": response.headers.get("content-type", "")},
            sanitize_html=False,  # records keep the markup as published
            resolve_relative_uris=False,
        )
    except Exception as exc:  # feedparser itself failed (e.g. bytes that are not UTF-8 in an XML declaration,
        # a namespace it splits wrongly): the record is quarantined, and a later feedparser may read it
        raise Malformed("feed", "a document feedparser can read", exc) from exc


def parse_feed(response: CapturedResponse) -> FeedPage:
    """Everything in one feed document; ``problem`` says why it is not a feed if it is not."""
    if not _looks_like_feed(response):
        return FeedPage(problem=f"{response.url} answered {response.content_type}, not a feed")
    parsed: Any = fastfeed.read(response.body) if _utf8(response) else None  # the common shapes, fast
    if parsed is None:
        parsed = _feedparser(response)
    flaw = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if (flaw is not None and not isinstance(flaw, ThingsNobodyCaresAboutButMe)) or not (
        parsed.get("entries") or parsed.get("feed", {}).get("title") or parsed.get("version")
    ):
        # Ill-formed XML (a truncated page, most often) would yield half entries that look like
        # edits; the bytes stay in the WARC and nothing from them enters the index.
        reason = str(flaw or "no feed elements").splitlines()[0]
        return FeedPage(problem=f"{response.url} is not a valid RSS or Atom feed ({reason})")
    page = FeedPage()
    if parsed.feed:
        page.observations += isolated(lambda feed: [feed_observation(feed.raw, response.url)], parsed.feed,
                                      kind="profile", where="feed")
    times: list[str] = []
    for index, entry in enumerate(parsed.entries):
        page.observations += isolated(lambda node: [entry_observation(node.raw)], entry, kind="entry",
                                      where=f"entries[{index}]")
        stamp = _when(_raw(entry, "updated_parsed") or _raw(entry, "published_parsed"))
        if stamp:
            times.append(stamp.isoformat())
    page.newest = max(times) if times else None
    posted = [o.posted_at for o in page.observations if o.kind == "entry" and o.posted_at]
    page.oldest_posted = min(posted) if posted else None
    for link in parsed.feed.get("links", []):
        if isinstance(link, dict) and link.get("rel") == "next" and isinstance(link.get("href"), str):
            page.next_url = link["href"]
    return page
