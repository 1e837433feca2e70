"""Values every Graph parser needs: times, stable media identities, the JSON of a response.

Payloads are untrusted (``connectors.untrusted``): ``graph_body`` hands a parser the top-level
object as ``Fields``; the lenient helpers (``graph_time``, ``edge_count``, ``stable_media_url``)
give None for anything they cannot read, for code that only follows a listing or reads metrics.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from connectors.base import CapturedResponse
from connectors.untrusted import Fields, Malformed, clean

# Target URI of a Meta webhook delivery as archived by ``archiver serve`` (the body, as received).
WEBHOOK_PREFIX = "urn:archiver:webhook:meta:"
# Query parameters of Meta CDN URLs that sign or expire them: they change on every fetch, so an
# item's content names its media without them (the full URL is still fetched and archived).
_VOLATILE = frozenset({"oe", "oh", "ccb", "edm", "efg", "stp", "vs"})


def graph_time(value: Any) -> datetime | None:
    """
    >>> graph_time("2021-07-09T19:09:52+0000").isoformat()
    '2021-07-09T19:09:52+00:00'
    """
    try:
        return Fields({"time": value}).timestamp("time")  # in UTC; "+0000" offsets parse too
    except Malformed:
        return None


def stable_media_url(url: Any) -> str | None:
    """A CDN URL without its signature and expiry parameters.

    >>> stable_media_url("https://scontent.xx.fbcdn.net/v/t1/p720x720/2118_n.jpg?_nc_cat=101&ccb=1-3&oh=92a&oe=60F1D543")
    'https://scontent.xx.fbcdn.net/v/t1/p720x720/2118_n.jpg'
    """
    if not isinstance(url, str) or not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL at all (an unbalanced "[", say): named as given
        return clean(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if k not in _VOLATILE and not k.startswith("_nc_")]
    return clean(urlunsplit(parts._replace(query=urlencode(kept))))


def response_json(response: CapturedResponse) -> Any | None:
    """The body as JSON, or None if it does not parse (the bytes stay in the WARC either way)."""
    try:
        return json.loads(response.body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested past Python's stack
        return None


def graph_body(response: CapturedResponse) -> Fields | None:
    """The top-level object of a Graph answer; None if the body is not JSON at all (the client
    reports that live). JSON that is not an object raises ``Malformed``: the record is quarantined."""
    body = response_json(response)
    return None if body is None else Fields(body, "payload")


def edge_count(node: Any) -> int | None:
    """``{"summary": {"total_count": 13}}`` or ``{"count": 10}`` → 13 / 10."""
    if not isinstance(node, dict):
        return None
    summary = node.get("summary")
    total = Fields(summary).count("total_count") if isinstance(summary, dict) else None
    return total if total is not None else Fields(node).count("count")


def request_fields(url: str) -> str:
    """The ``fields`` parameter a request asked for ("" if none)."""
    try:
        return dict(parse_qsl(urlsplit(url).query)).get("fields", "")
    except ValueError:
        return ""


def edge_path(url: str) -> list[str]:
    """The path of a Graph URL after the version: ``/v26.0/1_2/comments`` → ["1_2", "comments"]."""
    try:
        parts = [p for p in urlsplit(url).path.split("/") if p]
    except ValueError:
        return []
    for index, part in enumerate(parts):  # a base_url may put a path before the version
        if part.startswith("v") and part[1:].replace(".", "").isdigit() and "." in part:
            return parts[index + 1:]
    return parts


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True).encode()
