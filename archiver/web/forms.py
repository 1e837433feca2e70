"""Reading what a page was asked (search filters, dates, item names) and marking words in text.

The search filters are the CLI's (``archiver search --help``), as query parameters of the same
names: ``q``, ``account``, ``platform``, ``since``, ``until``, ``captured_since``,
``captured_until``, ``state``, ``kind`` (repeatable) and ``author``. A bad value is a
``FormError`` naming the field and the expected form; the page shows it.
"""

from __future__ import annotations

import difflib
import re
from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup, escape
from werkzeug.datastructures import MultiDict

from archiver.items import ItemRef
from archiver.search import QueryError, SearchQuery, parse

STATES = ("visible", "edited", "hidden", "deleted", "unavailable")
FACET_STATES = ("visible", "edited", "hidden", "deleted")
FILTERS = ("q", "account", "platform", "since", "until", "captured_since", "captured_until", "state", "kind", "author")


class FormError(ValueError):
    """A value a person typed that cannot be used; the message names the field and the expected form."""


def moment(value: str, field: str) -> datetime | None:
    """A date (midnight UTC) or ISO time (UTC if no zone), or None when empty."""
    value = value.strip()
    if not value:
        return None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise FormError(f"{field}: {value!r} is not a date like 2026-03-01") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def day(value: str, field: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FormError(f"{field}: {value!r} is not a date like 2026-03-01") from None


def search_query(args: MultiDict[str, str], limit: int = 50, offset: int = 0) -> SearchQuery:
    states = tuple(s for s in args.getlist("state") if s)
    unknown = [s for s in states if s not in STATES]
    if unknown:
        raise FormError(f"state: {unknown[0]!r} is not one of {', '.join(STATES)}")
    return SearchQuery(text=args.get("q", "").strip() or None,
                       accounts=tuple(a for a in args.getlist("account") if a),
                       platforms=tuple(p for p in args.getlist("platform") if p),
                       since=moment(args.get("since", ""), "posted since"),
                       until=moment(args.get("until", ""), "posted until"),
                       captured_since=moment(args.get("captured_since", ""), "captured since"),
                       captured_until=moment(args.get("captured_until", ""), "captured until"),
                       states=states, kinds=tuple(k for k in args.getlist("kind") if k),
                       author=args.get("author", "").strip() or None, limit=limit, offset=offset)


def filter_pairs(args: MultiDict[str, str]) -> list[tuple[str, str]]:
    """The search filters among ``args``, as (name, value) pairs to carry in links and hidden fields."""
    return [(k, v) for k in FILTERS for v in args.getlist(k) if v]


def with_filters(args: MultiDict[str, str], **changes: Any) -> str:
    pairs = [(k, v) for k, v in filter_pairs(args) if k not in changes]
    pairs += [(k, str(v)) for k, v in changes.items() if v not in (None, "")]
    return urlencode(pairs)


def _terms(text: str | None) -> list[str]:
    try:
        return parse(text).shown() if text else []
    except QueryError:  # no results are shown for words the parser refuses
        return []


def mark(snippet: str, text: str | None) -> Markup:
    """``snippet`` escaped, with the searched words (and their endings) in <mark>."""
    terms = _terms(text)
    if not terms or not snippet:
        return escape(snippet)
    pattern = re.compile("|".join(r"\b" + re.escape(t) + r"\w*" for t in sorted(terms, key=len, reverse=True)),
                         re.IGNORECASE)
    out, last = Markup(""), 0
    for match in pattern.finditer(snippet):
        out += escape(snippet[last:match.start()]) + Markup("<mark>") + escape(match.group(0)) + Markup("</mark>")
        last = match.end()
    return out + escape(snippet[last:])


def word_diff(before: str, after: str) -> Markup:
    """``after`` against ``before`` word by word: removed words in <del>, added ones in <ins>."""
    old, new = re.findall(r"\S+|\s+", before or ""), re.findall(r"\S+|\s+", after or "")
    out = Markup("")
    for op, a1, a2, b1, b2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if op == "equal":
            out += escape("".join(new[b1:b2]))
            continue
        if a2 > a1:
            out += Markup("<del>") + escape("".join(old[a1:a2])) + Markup("</del>")
        if b2 > b1:
            out += Markup("<ins>") + escape("".join(new[b1:b2])) + Markup("</ins>")
    return out


def stable_id(account: str, platform_id: str) -> str:
    """How items are named outside the index: ``ACCOUNT:PLATFORM-ID`` (survives reindex; see ItemRef)."""
    return str(ItemRef(account, platform_id))
