"""YouTube push (WebSub): the topic of a channel, the hub's signature, and what a push names.

YouTube publishes a channel's uploads and title/description changes to the hub
(``https://pubsubhubbub.appspot.com``) as an Atom feed with one ``entry`` per video
(``yt:videoId``, ``yt:channelId``); a deletion (and often a video made private) arrives as an
RFC 6721 tombstone, ``<at:deleted-entry ref="yt:video:ID">``. A push is a hint, never evidence
of a change by itself: an entry becomes a re-fetch of the video (``post:ID``), a tombstone a
re-fetch and a check (``tombstone:ID``): still in the channel's uploads, nothing is deleted (a
private video is unavailable); else a direct lookup, where only an empty ``items`` (or notFound)
deletes.

A push is untrusted input: it is read with ``defusedxml`` (no DTD, no entities), at most
``MAX_ENTRIES`` entries, ids of the characters YouTube uses; anything else is a ``PushProblem``.
With ``hub.secret`` set on the subscription, the hub signs each push with
``X-Hub-Signature: sha1=<hex HMAC-SHA1 of the raw body>``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from connectors.base import HarvestContext, ItemRef, Page
from connectors.jsonfields import dicts, mapping, text
from connectors.youtube import parser

if TYPE_CHECKING:
    from collections.abc import Iterator

    from connectors.youtube.api import YouTubeApi
    from connectors.youtube.client import YouTubeConnector

HUB_URL = "https://pubsubhubbub.appspot.com/subscribe"
TOPIC_PREFIX = "https://www.youtube.com/xml/feeds/videos.xml?channel_id="
WEBSUB_PREFIX = "urn:archiver:webhook:websub:"  # the archived push: this + the SHA-256 of its body
TOMBSTONE = "tombstone:"  # a re-fetch target: look the video up, delete only on the API's word
MAX_ENTRIES = 50
ATOM = "{http://www.w3.org/2005/Atom}"
YT = "{http://www.youtube.com/xml/schemas/2015}"
AT = "{http://purl.org/atompub/tombstones/1.0}"
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CHANNEL_URL = re.compile(r"https?://www\.youtube\.com/channel/([A-Za-z0-9_-]{1,64})/?")


class PushProblem(ValueError):
    """A push that is not a YouTube WebSub feed; the message says what is wrong."""


@dataclass(frozen=True)
class PushEntry:
    video_id: str
    channel_id: str | None
    deleted: bool  # a tombstone: the hub says the video is gone (to be confirmed by the API)

    @property
    def target(self) -> str:
        return f"{TOMBSTONE}{self.video_id}" if self.deleted else f"post:{self.video_id}"


def topic(channel_id: str) -> str:
    """The hub topic of a channel's uploads.

    >>> topic("UC_x5XG1OV2P6uZZ5FSM9Ttw")
    'https://www.youtube.com/xml/feeds/videos.xml?channel_id=UC_x5XG1OV2P6uZZ5FSM9Ttw'
    """
    return TOPIC_PREFIX + channel_id


def channel_of_topic(url: str) -> str | None:
    """The channel id a topic URL names, or None if it is not a YouTube channel topic.

    >>> channel_of_topic(topic("UC1")), channel_of_topic("https://example.org/feed?channel_id=UC1")
    ('UC1', None)
    """
    parts = urlsplit(url)
    if f"{parts.scheme}://{parts.netloc}{parts.path}?" != TOPIC_PREFIX.split("channel_id=")[0]:
        return None
    found = parse_qs(parts.query).get("channel_id", [])
    return found[0] if len(found) == 1 and _ID.fullmatch(found[0]) else None


def signed(body: bytes, header: str | None, secret: bytes) -> bool:
    """Whether ``header`` is the hub's ``sha1=`` HMAC of ``body`` with ``secret`` (constant time).

    >>> good = "sha1=" + hmac.new(b"s3cret", b"<feed/>", hashlib.sha1).hexdigest()
    >>> signed(b"<feed/>", good, b"s3cret"), signed(b"<feed/>", good, b"other"), signed(b"<feed/>", None, b"s")
    (True, False, False)
    """
    scheme, _, given = (header or "").partition("=")
    expected = hmac.new(secret, body, hashlib.sha1).hexdigest()
    return scheme.strip().lower() == "sha1" and hmac.compare_digest(expected.encode(), given.strip().lower().encode())


def _id(value: str | None, what: str) -> str:
    value = (value or "").strip()
    if not _ID.fullmatch(value):
        raise PushProblem(f"{what} is not a YouTube id")
    return value


def _channel(node: Element, path: str) -> str | None:
    uri = node.findtext(path)
    match = _CHANNEL_URL.fullmatch((uri or "").strip())
    return match.group(1) if match else None


def parse_push(body: bytes) -> list[PushEntry]:
    """The videos a push names, or ``PushProblem`` for anything but a YouTube WebSub feed.

    >>> feed = (b'<feed xmlns="http://www.w3.org/2005/Atom" xmlns:yt="http://www.youtube.com/xml/schemas/2015">'
    ...         b'<entry><yt:videoId>abc</yt:videoId><yt:channelId>UC1</yt:channelId></entry></feed>')
    >>> parse_push(feed)
    [PushEntry(video_id='abc', channel_id='UC1', deleted=False)]
    >>> try:
    ...     parse_push(b'{"object": "page"}')
    ... except PushProblem as problem:
    ...     print(problem)
    not XML (not well-formed (invalid token): line 1, column 0)
    """
    try:
        root = fromstring(body, forbid_dtd=True)
    except ParseError as exc:
        raise PushProblem(f"not XML ({exc})") from None
    except DefusedXmlException:
        raise PushProblem("the XML declares a DTD or entities, which a push never does") from None
    except (ValueError, RecursionError):
        raise PushProblem("not readable XML") from None
    if root.tag != f"{ATOM}feed":
        raise PushProblem(f"the document is not an Atom feed (root element {root.tag[:80]!r})")
    entries = root.findall(f"{ATOM}entry") + root.findall(f"{AT}deleted-entry")
    if not entries:
        raise PushProblem("the feed has no entry and no deleted-entry")
    if len(entries) > MAX_ENTRIES:
        raise PushProblem(f"the feed has {len(entries)} entries (a push names a few; limit {MAX_ENTRIES})")
    self_link = next((link.get("href") for link in root.findall(f"{ATOM}link") if link.get("rel") == "self"), None)
    fallback = channel_of_topic(self_link) if self_link else None
    found = []
    for n, node in enumerate(entries):
        if node.tag == f"{ATOM}entry":
            video = _id(node.findtext(f"{YT}videoId"), f"entry[{n}] yt:videoId")
            channel = node.findtext(f"{YT}channelId")
            found.append(PushEntry(video, _id(channel, f"entry[{n}] yt:channelId") if channel else fallback, False))
        else:
            ref = node.get("ref") or ""
            if not ref.startswith("yt:video:"):
                raise PushProblem(f"deleted-entry[{n}] ref is not yt:video:ID")
            video = _id(ref[len("yt:video:"):], f"deleted-entry[{n}] ref")
            found.append(PushEntry(video, _channel(node, f"{AT}by/{ATOM}uri") or fallback, True))
    return found


def tombstoned(targets: tuple[str, ...]) -> list[ItemRef]:
    """The videos of ``tombstone:ID`` targets, as the lookups that confirm (or not) a deletion.

    >>> [r.platform_id for r in tombstoned(("post:a", "tombstone:b"))]
    ['b']
    """
    return [ItemRef(t[len(TOMBSTONE):], "post", f"https://www.youtube.com/watch?v={t[len(TOMBSTONE):]}", None)
            for t in targets if t.startswith(TOMBSTONE)]


def refetched(targets: tuple[str, ...]) -> list[str]:
    """The video ids a targeted harvest lists again: all of them (a tombstone's video may only have
    changed its privacy, which is a new version).

    >>> refetched(("post:a", "tombstone:b", "c"))
    ['a', 'b', 'c']
    """
    return list(dict.fromkeys(t.partition(":")[2] or t for t in targets))


def uploads_playlist(context: HarvestContext) -> str | None:
    """The channel's uploads playlist, as its last harvest found it (or derived from a ``UC`` id)."""
    known = context.cursor.get("uploads")
    if isinstance(known, str) and known:
        return known
    account_id = str(context.cursor.get("channel_id") or context.account.id)
    return f"UU{account_id[2:]}" if account_id.startswith("UC") else None


def confirm_tombstones(connector: YouTubeConnector, context: HarvestContext, api: YouTubeApi) -> Iterator[Page]:
    """The tombstones' videos checked against the API: still in the channel's uploads (made private
    shows there as private: unavailable), nothing deleted; else looked up by id, where only an
    empty ``items`` (or notFound) deletes. A key alone sees no private video in ``videos.list``,
    so the uploads listing goes first."""
    refs = tombstoned(context.targets)
    uploads = uploads_playlist(context) if refs else None
    if refs and uploads is None:
        context.notes.append(f"{len(refs)} deletion push(es) not checked: the channel has not been harvested yet")
        return
    gone = []
    for ref in refs:
        exchange, body = api.get_json("playlistItems", part="snippet,contentDetails,status", playlistId=uploads,
                                      videoId=ref.platform_id, maxResults=1)
        yield Page(exchange, parser.parse(exchange.response))
        listed = [item for item in dicts(body, "items")
                  if text(mapping(item, "contentDetails"), "videoId") == ref.platform_id]
        if listed:
            privacy = text(mapping(listed[0], "status"), "privacyStatus") or "listed"
            context.notes.append(f"deletion push for {ref.platform_id}: still in the channel's uploads ({privacy})")
        else:
            gone.append(ref)
    yield from connector.confirm(context, gone)
