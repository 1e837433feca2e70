"""Typed reads of untrusted JSON: every platform field may be missing, null or of the wrong type.

A parser reads fields only through these, and parses each object of a page on its own
(``each``), so one malformed object is left out (its bytes stay in the WARC) and the rest of
the page still counts.

>>> text({"a": 3}, "a"), text({"a": "x"}, "a"), number({"n": "7"}, "n"), mapping({"m": []}, "m")
(None, 'x', None, {})
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, TypeVar

T = TypeVar("T")
PARSE_ERRORS = (TypeError, ValueError, KeyError, AttributeError, IndexError, OverflowError, RecursionError)


def mapping(node: Any, key: str) -> dict[str, Any]:
    value = node.get(key) if isinstance(node, dict) else None
    return value if isinstance(value, dict) else {}


def dicts(node: Any, key: str) -> list[dict[str, Any]]:
    value = node.get(key) if isinstance(node, dict) else None
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def text(node: Any, key: str) -> str | None:
    value = node.get(key) if isinstance(node, dict) else None
    return value if isinstance(value, str) else None


def texts(node: Any, key: str) -> list[str]:
    value = node.get(key) if isinstance(node, dict) else None
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def number(node: Any, key: str) -> int | None:
    value = node.get(key) if isinstance(node, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def flag(node: Any, key: str) -> bool | None:
    value = node.get(key) if isinstance(node, dict) else None
    return value if isinstance(value, bool) else None


def counts(node: Any) -> dict[str, int]:
    """The integer fields of a metrics object (``public_metrics``, ``statistics`` as strings too)."""
    if not isinstance(node, dict):
        return {}
    found = {}
    for key, value in node.items():
        if isinstance(value, int) and not isinstance(value, bool):
            found[str(key)] = value
        elif isinstance(value, str) and value.isdigit() and len(value) < 20:
            found[str(key)] = int(value)
    return found


def timestamp(value: Any) -> datetime | None:
    """``2020-06-25T06:14:19.000Z`` / ``2007-08-23T00:34:43Z`` → aware datetime, else None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def each(objects: Iterable[Any], parse: Callable[[dict[str, Any]], list[T]]) -> Iterator[T]:
    """``parse`` over each dict on its own: a malformed one yields nothing, the rest still count."""
    for node in objects:
        if not isinstance(node, dict):
            continue
        try:
            found = parse(node)
        except PARSE_ERRORS:
            continue
        yield from found
