"""The common feed shapes read fast, giving exactly what feedparser gives for them.

feedparser reads every feed format there is, at ~1-2 ms an entry (it runs a Python handler for
every element and resolves every URL): a large backfill spent two thirds of its time there.
Most feeds an agency archives are plain Atom 1.0 or RSS 2.0 documents built from a handful of
elements. ``read`` parses those with ElementTree (expat, in C) and builds the dictionaries
feedparser would build, for the keys ``connectors.rss.parser`` reads; for anything else — another
format, an element or attribute not listed below, text with surrounding white space, a DTD or
entity declaration, an encoding other than UTF-8 — it returns None and feedparser reads the
document. The choice depends on the bytes alone, so a live harvest and ``reindex`` agree.
``tests/test_fastfeed.py`` checks that both readings give the same observations for every
fixture, every shape the fake platforms serve, and generated feeds.
"""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any

ATOM = "{http://www.w3.org/2005/Atom}"
MEDIA = "{http://search.yahoo.com/mrss/}"
YT = "{http://www.youtube.com/xml/schemas/2015}"
_DECLARATION = re.compile(rb'^<\?xml version="1\.0"(?: encoding="(?:utf-8|UTF-8)")?\?>\s*')
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:Z|[+-]00:00)")
_RFC822 = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
                     r"\d\d:\d\d:\d\d GMT")
_MONTHS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
_URL = re.compile(r"https?://[A-Za-z0-9.:\-]+(/[A-Za-z0-9._~/?=&%+\-]*)?")


class Unsupported(Exception):
    """Not a shape read here: feedparser reads it."""


class FastFeed:
    """What feedparser's result holds for the keys the parser reads."""

    version: str
    bozo = 0

    def __init__(self, version: str, feed: dict[str, Any], entries: list[dict[str, Any]]):
        self.version, self.feed, self.entries = version, feed, entries

    def get(self, key: str, default: Any = None) -> Any:
        return {"version": self.version, "bozo": 0, "feed": self.feed, "entries": self.entries}.get(key, default)


def read(body: bytes) -> FastFeed | None:
    """The feed, or None if it is not a shape read here."""
    declaration = _DECLARATION.match(body)
    if declaration is None or b"<!" in body:  # a DTD, entity declarations, CDATA, comments: feedparser
        return None
    try:
        root = ET.fromstring(body)
        if root.tag == f"{ATOM}feed" and not root.attrib:
            return FastFeed("atom10", *_atom(root))
        if root.tag == "rss" and root.attrib == {"version": "2.0"}:
            return FastFeed("rss20", *_rss(root))
    except (ET.ParseError, Unsupported, ValueError):
        return None
    return None


# Values -------------------------------------------------------------------------------------------
def _text(node: ET.Element) -> str:
    if len(node) or (node.tail and node.tail.strip()):
        raise Unsupported(node.tag)
    text = node.text or ""
    if text != text.strip() or "\r" in text:
        raise Unsupported(f"white space around {node.tag}")
    return text


def _url(value: str | None) -> str:
    if value is None or not _URL.fullmatch(value):
        raise Unsupported(f"url {value!r}")
    return value


def _attrs(node: ET.Element, allowed: set[str]) -> dict[str, str]:
    if not set(node.attrib) <= allowed:
        raise Unsupported(f"attributes of {node.tag}")
    return dict(node.attrib)


def _struct(stamp: str) -> time.struct_time:
    # The fields by position (the patterns fixed them), not strptime: a tenth of a feed's parsing.
    if _RFC3339.fullmatch(stamp):
        parsed = datetime(int(stamp[:4]), int(stamp[5:7]), int(stamp[8:10]), int(stamp[11:13]), int(stamp[14:16]),
                          int(stamp[17:19]))
    elif _RFC822.fullmatch(stamp):
        parsed = datetime(int(stamp[12:16]), _MONTHS[stamp[8:11]], int(stamp[5:7]), int(stamp[17:19]),
                          int(stamp[20:22]), int(stamp[23:25]))
    else:
        raise Unsupported(f"date {stamp!r}")
    return time.struct_time((*parsed.timetuple()[:8], 0))


def _date(target: dict[str, Any], key: str, node: ET.Element) -> None:
    value = _text(node)
    target[key], target[f"{key}_parsed"] = value, _struct(value)


def _once(target: dict[str, Any], key: str) -> None:
    if key in target:
        raise Unsupported(f"{key} twice")


# Atom 1.0 -------------------------------------------------------------------------------------------
def _atom_link(node: ET.Element, feed_level: bool) -> dict[str, str]:
    attrs = _attrs(node, {"rel", "href", "type", "length"})
    link = {"rel": attrs.get("rel", "alternate"), "href": _url(attrs.get("href"))}
    if "type" in attrs:
        link["type"] = attrs["type"]
    elif feed_level and link["rel"] == "self":
        link["type"] = "application/atom+xml"
    elif link["rel"] != "enclosure":
        link["type"] = "text/html"
    if "length" in attrs:
        link["length"] = attrs["length"]
    return {key: link[key] for key in ("rel", "type", "length", "href") if key in link}


def _atom_author(target: dict[str, Any], node: ET.Element) -> None:
    _attrs(node, set())
    _once(target, "author")
    names = [child for child in node if child.tag == f"{ATOM}name"]
    if len(names) != 1 or any(child.tag not in (f"{ATOM}name", f"{ATOM}uri") for child in node):
        raise Unsupported("author")
    target["author"] = _text(names[0])


def _atom(root: ET.Element) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    feed: dict[str, Any] = {"links": []}
    entries = []
    for node in root:
        tag = node.tag
        if tag == f"{ATOM}entry":
            entries.append(_atom_entry(node))
        elif tag == f"{ATOM}link":
            feed["links"].append(_atom_link(node, True))
        elif tag in (f"{ATOM}id", f"{ATOM}title"):
            _attrs(node, set())
            _once(feed, tag[len(ATOM):])
            feed[tag[len(ATOM):]] = _text(node)
        elif tag in (f"{ATOM}updated", f"{ATOM}published"):
            _attrs(node, set())
            _date(feed, tag[len(ATOM):], node)
        elif tag == f"{ATOM}author":
            _atom_author(feed, node)
        elif tag == f"{YT}channelId":
            _attrs(node, set())
            feed["yt_channelid"] = _text(node)
        else:
            raise Unsupported(tag)
    _alternate(feed)
    return feed, entries


def _alternate(target: dict[str, Any]) -> None:
    for link in target["links"]:
        if link["rel"] == "alternate":
            target["link"] = link["href"]
            return


def _atom_entry(node: ET.Element) -> dict[str, Any]:
    _attrs(node, set())
    entry: dict[str, Any] = {"links": []}
    for child in node:
        tag = child.tag
        if tag == f"{ATOM}link":
            entry["links"].append(_atom_link(child, False))
        elif tag in (f"{ATOM}id", f"{ATOM}title"):
            key = tag[len(ATOM):]
            _once(entry, key)
            if _attrs(child, {"type"}).get("type", "text") != "text":
                raise Unsupported("title type")
            entry[key] = _text(child)
        elif tag in (f"{ATOM}published", f"{ATOM}updated"):
            _attrs(child, set())
            _once(entry, tag[len(ATOM):])
            _date(entry, tag[len(ATOM):], child)
        elif tag == f"{ATOM}author":
            _atom_author(entry, child)
        elif tag == f"{ATOM}summary":
            _once(entry, "summary")
            if _attrs(child, {"type"}).get("type", "text") != "html":
                raise Unsupported("summary type")
            entry["summary"] = _text(child)
        elif tag == f"{MEDIA}thumbnail":
            _media_thumbnail(entry, child)
        elif tag == f"{MEDIA}group":
            _media_group(entry, child)
        elif tag in (f"{YT}videoId", f"{YT}channelId"):
            _attrs(child, set())
            entry[f"yt_{tag[len(YT):].lower()}"] = _text(child)
        else:
            raise Unsupported(tag)
    if "id" not in entry:
        raise Unsupported("entry without id")
    _alternate(entry)
    return _enclosures(entry)


def _media_thumbnail(entry: dict[str, Any], node: ET.Element) -> None:
    if "media_thumbnail" in entry:
        raise Unsupported("two thumbnails")
    attrs = _attrs(node, {"url", "width", "height"})
    _url(attrs.get("url"))
    if _text(node):
        raise Unsupported("thumbnail text")
    entry["media_thumbnail"] = [attrs]


def _media_group(entry: dict[str, Any], node: ET.Element) -> None:
    _attrs(node, set())
    if "media_content" in entry or len(node) != 5:
        raise Unsupported("media group")
    title, content, thumbnail, description, community = node
    if (title.tag, content.tag, thumbnail.tag, description.tag, community.tag) != (
            f"{MEDIA}title", f"{MEDIA}content", f"{MEDIA}thumbnail", f"{MEDIA}description", f"{MEDIA}community"):
        raise Unsupported("media group")
    _attrs(title, set())
    _attrs(description, set())
    attrs = _attrs(content, {"url", "type", "width", "height"})
    _url(attrs.get("url"))
    if _text(content) or not _text(title):
        raise Unsupported("media content")
    entry["media_content"] = [attrs]
    _media_thumbnail(entry, thumbnail)
    _once(entry, "summary")
    entry["summary"] = _text(description)  # feedparser's reading of media:description


def _enclosures(entry: dict[str, Any]) -> dict[str, Any]:
    found = [{k: v for k, v in link.items() if k != "rel"} for link in entry["links"] if link["rel"] == "enclosure"]
    if found:
        entry["enclosures"] = found
    return entry


# RSS 2.0 ------------------------------------------------------------------------------------------
def _rss(root: ET.Element) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    if len(root) != 1 or root[0].tag != "channel" or root[0].attrib:
        raise Unsupported("rss")
    feed: dict[str, Any] = {"links": []}
    entries = []
    for node in root[0]:
        tag = node.tag
        if tag == "item":
            entries.append(_rss_item(node))
        elif tag == f"{ATOM}link":
            link = _atom_link(node, True)
            feed["links"].append(link)
        elif tag in ("title", "description", "link"):
            _attrs(node, set())
            key = {"description": "subtitle"}.get(tag, tag)
            _once(feed, key)
            feed[key] = _text(node) if tag != "link" else _url(_text(node))
            if tag == "link":
                feed["links"].insert(0, {"rel": "alternate", "type": "text/html", "href": feed["link"]})
        elif tag == "lastBuildDate":
            _attrs(node, set())
            _date(feed, "updated", node)
        else:
            raise Unsupported(tag)
    return feed, entries


def _rss_item(node: ET.Element) -> dict[str, Any]:
    _attrs(node, set())
    entry: dict[str, Any] = {"links": []}
    enclosure = None
    for child in node:
        tag = child.tag
        if tag in ("title", "description", "link", "author"):
            _attrs(child, set())
            key = {"description": "summary"}.get(tag, tag)
            _once(entry, key)
            entry[key] = _text(child)
        elif tag == "guid":
            if _attrs(child, {"isPermaLink"}) != {"isPermaLink": "false"}:
                raise Unsupported("guid")
            _once(entry, "id")
            entry["id"] = _text(child)
        elif tag == "pubDate":
            _attrs(child, set())
            _once(entry, "published")
            _date(entry, "published", child)
        elif tag == f"{ATOM}updated":
            _attrs(child, set())
            _once(entry, "updated")
            _date(entry, "updated", child)
        elif tag == "enclosure":
            if enclosure is not None or _text(child):
                raise Unsupported("enclosure")
            attrs = _attrs(child, {"url", "length", "type"})
            if set(attrs) != {"url", "length", "type"}:
                raise Unsupported("enclosure")
            enclosure = {"length": attrs["length"], "type": attrs["type"], "href": _url(attrs["url"]),
                         "rel": "enclosure"}
        elif tag == f"{MEDIA}thumbnail":
            _media_thumbnail(entry, child)
        else:
            raise Unsupported(tag)
    if "id" not in entry or "link" not in entry or "author" not in entry:
        raise Unsupported("item")
    entry["link"] = _url(entry["link"])
    entry["links"].append({"rel": "alternate", "type": "text/html", "href": entry["link"]})
    if enclosure is not None:
        entry["links"].append(enclosure)
    author = re.fullmatch(r"([^\s()]+@[^\s()]+) \(([^()]+)\)", entry["author"])
    if author is None:
        raise Unsupported("author")
    entry["author"] = author.group(0)
    return _enclosures(entry)
