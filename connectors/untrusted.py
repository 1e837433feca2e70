"""Reading platform payloads as untrusted input: typed fields, and one object's problem kept to itself.

A platform on a bad day sends a ``message`` that is an object, an ``id`` that is a number, a
``comments`` edge that is a string. A parser reads every field through ``Fields``, which hands
back the type asked for or raises ``Malformed`` naming the field; ``each`` and ``isolated`` run
the parser object by object, so a malformed object becomes one *problem observation* (named by
its id when it has a readable one) while the rest of the page is read as usual::

    from connectors.base import Observation
    from connectors.untrusted import Fields, each

    def post(node: Fields) -> list[Observation]:
        return [Observation(node.identifier(), "post", {"message": node.text("message")},
                            text=node.text("message") or "", posted_at=node.timestamp("created_time"))]

    page = Fields({"data": [{"id": 1, "message": "Road closed"}, {"id": "2", "message": {"x": 1}}]})
    found = each(post, page.array("data"), kind="post", where="data")
    assert [(o.platform_id, o.problem) for o in found] == [
        ("1", None), ("2", "post 2 (data[1]): message: expected text, got an object")]

What the index does with a problem observation (no version, the record kept as evidence, never
a deletion) is in ARCHITECTURE.md, "Untrusted payloads". A page whose container itself is
malformed (``data`` is not a list) raises ``Malformed`` out of ``parse``: the harvest and reindex
quarantine that record (``archiver.quarantine``) instead of indexing it.

Strings are made storable (NUL and lone surrogates become U+FFFD), floats finite, nesting
bounded, so nothing a parser returns can make the index, JSON or a hash fail.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, overload

if TYPE_CHECKING:  # connectors.base imports this module
    from connectors.base import Observation

__all__ = ["Fields", "Malformed", "clean", "each", "isolated", "problem", "storable", "strict"]

MAX_DEPTH = 64  # nesting kept in a value; deeper is malformed (real payloads nest a few levels)
MAX_IDENTIFIER = 1024  # characters; platform ids are far shorter
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_PLAIN_ID = re.compile(r"[\w.:@/+=-]+")  # ids as platforms write them: nothing to clean or strip
_strict: ContextVar[bool] = ContextVar("untrusted_strict", default=False)
# What a parser may raise on a value it did not expect: one object's problem, not the page's.
_OBJECT_ERRORS = (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError, RecursionError)


class Malformed(ValueError):
    """A payload value does not have the shape a parser needs; the message names where."""

    def __init__(self, path: str, expected: str, got: Any = None, *, missing: bool = False):
        self.path = path
        found = "nothing" if missing else kind_of(got)
        super().__init__(f"{path}: expected {expected}, got {found}")


def kind_of(value: Any) -> str:
    """A JSON value's kind, as a message names it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def clean(value: Any, path: str = "value", depth: int = 0) -> Any:
    """A JSON value made safe to store and hash: text without NUL or lone surrogates, finite
    numbers, nesting at most ``MAX_DEPTH`` deep, anything else as its text.

    >>> clean({"a": ["x\\x00", float("nan"), 3]})
    {'a': ['x\ufffd', 'nan', 3]}
    """
    try:
        return _clean_fast(value, depth)
    except Malformed:  # rare: read again, tracking the path, so the message names where
        return _clean_named(value, path, depth)


def storable(text: str) -> str:
    """``clean`` of a ``str`` (exactly that type), without its dispatch."""
    # An ASCII string (a flag CPython keeps, so this is O(1)) can only hold NUL of the unstorable.
    if text.isascii():
        return text.replace("\x00", "\ufffd") if "\x00" in text else text
    return _UNSTORABLE.sub("\ufffd", text) if _UNSTORABLE.search(text) else text


def _clean_fast(value: Any, depth: int) -> Any:
    """``clean`` without building a path for every value (most of a harvest's parsing time was
    spent formatting paths no message needed); exact built-in types only, the rest as before."""
    kind = type(value)
    if kind is str:
        return storable(value)
    if value is None or kind is int or kind is bool:
        return value
    if kind is dict:
        if depth >= MAX_DEPTH:
            raise Malformed("value", f"at most {MAX_DEPTH} levels of nesting", value)
        return {(storable(k) if type(k) is str else clean(str(k))): _clean_fast(v, depth + 1)
                for k, v in value.items()}
    if kind is list or kind is tuple:
        if depth >= MAX_DEPTH:
            raise Malformed("value", f"at most {MAX_DEPTH} levels of nesting", value)
        return [_clean_fast(v, depth + 1) for v in value]
    return _clean_named(value, "value", depth)


def _clean_named(value: Any, path: str, depth: int) -> Any:
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value) if _UNSTORABLE.search(value) else value
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if depth >= MAX_DEPTH:
        raise Malformed(path, f"at most {MAX_DEPTH} levels of nesting", value)
    if isinstance(value, dict):
        return {clean(str(k)): _clean_named(v, f"{path}.{k}", depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_named(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
    return clean(str(value))  # a time or another object a parser kept: as content hashing writes it


class Fields:
    """One JSON object of a payload, read field by field with the types the parser expects.

    Every accessor treats a missing field and ``null`` alike (``None``, ``{}``, ``[]``, False) and
    raises ``Malformed`` for any other type, so a parser never guesses.
    """

    __slots__ = ("path", "raw")

    def __init__(self, raw: Any, path: str = "payload"):
        if not isinstance(raw, dict):
            raise Malformed(path, "an object", raw)
        self.raw: dict[str, Any] = raw
        self.path = path

    def _at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path != "payload" else key

    def has(self, key: str) -> bool:
        """Whether ``key`` is present and not null."""
        return self.raw.get(key) is not None

    @overload
    def text(self, key: str, *, required: Literal[True]) -> str: ...

    @overload
    def text(self, key: str, *, required: bool = False) -> str | None: ...

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self.raw.get(key)
        if type(value) is str:  # the common case first: parsers call this for every field
            return value if _UNSTORABLE.search(value) is None else _UNSTORABLE.sub("\ufffd", value)
        if value is None:
            if required:
                raise Malformed(self._at(key), "text", missing=True)
            return None
        raise Malformed(self._at(key), "text", value)

    @overload
    def identifier(self, key: str = "id", *, required: Literal[True] = True) -> str: ...

    @overload
    def identifier(self, key: str = "id", *, required: bool) -> str | None: ...

    def identifier(self, key: str = "id", *, required: bool = True) -> str | None:
        """A platform id: text or a whole number, never empty; ``"123"`` and ``123`` are the same id."""
        value = self.raw.get(key)
        if type(value) is str and 0 < len(value) <= MAX_IDENTIFIER and _PLAIN_ID.fullmatch(value):
            return value  # the common case first
        if value is None or value == "":
            if required:
                raise Malformed(self._at(key), "an identifier", missing=True)
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise Malformed(self._at(key), "an identifier (text or a whole number)", value)
        found = clean(str(value)).strip()
        if not found or len(found) > MAX_IDENTIFIER:
            raise Malformed(self._at(key), f"an identifier of 1 to {MAX_IDENTIFIER} characters", value)
        return found

    def integer(self, key: str) -> int | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise Malformed(self._at(key), "a whole number", value)
        return value

    def count(self, key: str) -> int | None:
        """A counter (likes, shares): a whole number of zero or more, else None. Counters are
        metrics, never content, so a strange one is dropped rather than failing the object."""
        value = self.raw.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None

    def flag(self, key: str) -> bool:
        value = self.raw.get(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise Malformed(self._at(key), "true or false", value)
        return value

    def timestamp(self, key: str, *, epoch: Literal["s", "ms"] | None = None) -> datetime | None:
        """An ISO 8601 time (``2021-07-09T19:09:52+0000``, ``…Z``) in UTC, a time without an offset
        taken as UTC; with ``epoch``, a number of seconds or milliseconds since 1970 instead."""
        value = self.raw.get(key)
        if value is None or value == "":
            return None
        try:
            if epoch is not None:
                if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                    raise Malformed(self._at(key), f"a time in {'milli' if epoch == 'ms' else ''}seconds", value)
                moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=value / (1000 if epoch == "ms" else 1))
            elif not isinstance(value, str):
                raise Malformed(self._at(key), "a time (ISO 8601 text)", value)
            else:
                moment = datetime.fromisoformat(value)
                moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
        except (ValueError, OverflowError) as exc:
            if isinstance(exc, Malformed):
                raise
            raise Malformed(self._at(key), "a time (ISO 8601)", value) from None
        return moment

    def mapping(self, key: str) -> Fields:
        """A nested object (``{}`` when missing)."""
        value = self.raw.get(key)
        return Fields({} if value is None else value, self._at(key))

    def array(self, key: str) -> list[Any]:
        """A list of raw values (``[]`` when missing); read each with ``Fields`` or ``each``."""
        value = self.raw.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise Malformed(self._at(key), "a list", value)
        return value

    def objects(self, key: str) -> Iterator[Fields]:
        """The objects of a list, skipping anything else: for code that only follows a listing
        (paging, thread links), where the parser already reported what it could not read."""
        for index, value in enumerate(self.array(key)):
            if isinstance(value, dict):
                yield Fields(value, f"{self._at(key)}[{index}]")

    def value(self, key: str) -> Any:
        """Any JSON value kept as it is in content (tags, locations), made storable by ``clean``."""
        return clean(self.raw.get(key), self._at(key))


def _readable_id(node: Any, key: str = "id") -> str | None:
    try:
        return Fields(node).identifier(key, required=False)
    except Malformed:
        return None


def problem(node: Any, kind: str, reason: str, *, where: str = "", parent_id: str | None = None) -> Observation:
    """The observation of an object that could not be read: named by its id if that is readable
    (else ``platform_id`` is empty and only the record is known to hold a problem)."""
    from connectors.base import Observation

    found = _readable_id(node) or ""
    name = f"{kind} {found}" if found else kind
    place = f" ({where})" if where else ""
    return Observation(platform_id=found, kind=kind, content={}, problem=f"{name}{place}: {reason}",
                       parent_id=parent_id)


def isolated(read: Callable[[Fields], list[Observation]], node: Any, *, kind: str, where: str = "",
             parent_id: str | None = None) -> list[Observation]:
    """``read(Fields(node))``, or one problem observation if the object is malformed."""
    try:
        return read(Fields(node, where or "payload"))
    except Malformed as exc:
        return [problem(node, kind, str(exc).removeprefix(f"{where}."), where=where, parent_id=parent_id)]
    except _OBJECT_ERRORS as exc:
        if _strict.get():
            raise
        reason = f"could not be read ({type(exc).__name__}: {str(exc)[:200]})"
        return [problem(node, kind, reason, where=where, parent_id=parent_id)]


def each(read: Callable[[Fields], list[Observation]], nodes: list[Any], *, kind: str, where: str,
         parent_id: str | None = None) -> list[Observation]:
    """Every object of a listing through ``read``, each on its own (see ``isolated``)."""
    return [found for index, node in enumerate(nodes)
            for found in isolated(read, node, kind=kind, where=f"{where}[{index}]", parent_id=parent_id)]


@contextmanager
def strict() -> Iterator[None]:
    """Within this block a parser defect (an exception other than ``Malformed``) is raised rather
    than kept as a problem observation: for tests and the fuzz harness, which must see defects."""
    token = _strict.set(True)
    try:
        yield
    finally:
        _strict.reset(token)
