"""Mutations of recorded payloads, the way a platform's bad day (or an attacker) shapes them.

JSON: a value's type swapped, a field dropped, a null, a huge or hostile string, odd numbers
(NaN, 1e400, huge integers), deep nesting, a container of the wrong kind, a listing repeated.
XML: an element dropped or repeated, hostile text, impossible dates, deep nesting, broken
markup. Any body: invalid UTF-8 spliced in, a cut. Every case is reproducible from its seed::

    import random
    from mutations import mutate

    body, applied = mutate(b'{"data": [{"id": "1", "message": "hi"}]}', random.Random("7:0"))
"""

from __future__ import annotations

import copy
import json
import random
import re
from typing import Any

DEEP = "\u0000DEEP\u0000"  # a placeholder the serializer replaces with nesting json.dumps cannot write
HOSTILE_TEXT = ["", " ", "x" * 100_000, "é" * 20_000, "nul\u0000inside", "lone \ud800 surrogate", "\udfff",
                "\u202eevil rtl", "<script>alert(1)</script>", "=cmd|' /C calc'!A0", "\ufeffbom", "💥" * 1000,
                "2021-13-45T99:99:99+0000", "9999-12-31T23:59:59-2359", "0001-01-01T00:00:00+1400", "null",
                "https://[broken/url", "http://example.com/" + "a" * 5000, "%s%n%x", "\r\n\t"]
ODD_VALUES: list[Any] = [{}, [], 0, -1, 1.5, True, False, None, 10**40, -(10**40), float("nan"), float("inf"),
                         float("-inf"), 1e308, {"nested": {"deeper": [1, {"x": None}]}}, ["a", 1, None, {}],
                         [[[]]], {"id": {"id": "1"}}, *HOSTILE_TEXT[:12]]
BAD_BYTES = [b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\x80", b"\x00"]


def _positions(doc: Any, limit: int = 400) -> list[tuple[Any, Any]]:
    """(container, key or index) of every value in a document, breadth first, up to ``limit``."""
    found: list[tuple[Any, Any]] = []
    queue = [doc]
    while queue and len(found) < limit:
        node = queue.pop(0)
        children = list(node.items()) if isinstance(node, dict) else list(enumerate(node)) \
            if isinstance(node, list) else []
        for key, value in children:
            found.append((node, key))
            queue.append(value)
    return found


def _mutate_tree(doc: Any, rng: random.Random) -> tuple[Any, str]:
    positions = _positions(doc)
    operation = rng.choice(["swap", "swap", "drop", "null", "text", "number", "deep", "repeat", "root"])
    if operation == "root" or not positions:
        return rng.choice([[doc], "a string", 42, None, {"data": doc}]), "root replaced"
    parent, key = rng.choice(positions)
    if operation == "drop":
        del parent[key]
        return doc, f"dropped {key!r}"
    if operation == "repeat" and isinstance(parent[key], list | dict):
        parent[key] = [copy.deepcopy(parent[key]) for _ in range(rng.choice([2, 20]))]
        return doc, f"repeated {key!r}"
    value: Any = {"swap": lambda: copy.deepcopy(rng.choice(ODD_VALUES)), "null": lambda: None,
                  "text": lambda: rng.choice(HOSTILE_TEXT),
                  "number": lambda: rng.choice([float("nan"), 1e400, 10**60, -0.0, 2**63, -(2**63) - 1]),
                  "deep": lambda: DEEP, "repeat": lambda: copy.deepcopy(rng.choice(ODD_VALUES))}[operation]()
    parent[key] = value
    return doc, f"{operation} at {key!r}"


def _serialize(doc: Any, rng: random.Random) -> bytes:
    text = json.dumps(doc, ensure_ascii=rng.random() < 0.5, allow_nan=True)
    marker = json.dumps(DEEP)  # control characters are escaped either way
    while marker in text:
        depth = rng.choice([40, 200, 900, 3000, 50_000])
        nested = ("[" * depth + "1" + "]" * depth) if rng.random() < 0.5 else ('{"a":' * depth + "1" + "}" * depth)
        text = text.replace(marker, nested, 1)
    return text.encode("utf-8", "surrogatepass")  # a lone surrogate becomes bytes no UTF-8 decoder accepts


def _mutate_xml(body: bytes, rng: random.Random) -> tuple[bytes, str]:
    text = body.decode("utf-8", "surrogateescape")  # undecodable bytes come back as lone surrogates
    elements = list(re.finditer(r"<([A-Za-z][\w:.-]*)(?:\s[^>]*)?>(.*?)</\1>", text, re.S))
    operation = rng.choice(["drop", "repeat", "text", "date", "deep", "markup", "attribute"])
    if not elements or operation == "markup":
        cut = rng.randrange(len(text) + 1)
        return (text[:cut] + rng.choice(["<", "</entry>", "<![CDATA[", "&undefined;", "<x y=>", "]]>"]) +
                text[cut:]).encode("utf-8", "surrogatepass"), "markup broken"
    element = rng.choice(elements)
    start, end = element.span()
    inner_start, inner_end = element.span(2)
    if operation == "drop":
        text = text[:start] + text[end:]
    elif operation == "repeat":
        text = text[:end] + element.group(0) * rng.choice([2, 20]) + text[end:]
    elif operation in ("text", "date"):
        value = rng.choice(HOSTILE_TEXT) if operation == "text" else rng.choice(
            ["9999-99-99", "Thu, 01 Jan 99999 00:00:00 GMT", "-1", "0000-00-00T00:00:00Z", "2026-02-30T25:61:61Z",
             "Mon, 32 Foo 2026 99:99:99 +9999", "1e400", ""])
        value = value.replace("&", "&amp;").replace("<", "&lt;").replace("\u0000", "&#0;")
        text = text[:inner_start] + value + text[inner_end:]
    elif operation == "deep":
        depth = rng.choice([50, 500])
        text = text[:inner_start] + "<x>" * depth + "deep" + "</x>" * depth + text[inner_end:]
    else:  # attribute
        text = text[:start] + re.sub(r'="[^"]*"', lambda _: '="' + rng.choice(
            ["", "javascript:alert(1)", "x" * 50_000, "&#0;", "http://[::1"]) + '"', element.group(0), count=1) + \
            text[end:]
    return text.encode("utf-8", "surrogatepass"), f"{operation} <{element.group(1)}>"


def _mutate_bytes(body: bytes, rng: random.Random) -> tuple[bytes, str]:
    if rng.random() < 0.5 and body:
        cut = rng.randrange(len(body))
        return body[:cut], f"cut at {cut}"
    at = rng.randrange(len(body) + 1)
    return body[:at] + rng.choice(BAD_BYTES) * rng.choice([1, 3]) + body[at:], f"invalid UTF-8 at {at}"


def mutate(body: bytes, rng: random.Random, xml: bool = False) -> tuple[bytes, list[str]]:
    """One case: 1 to 3 mutations of ``body`` (JSON, XML when ``xml``, else bytes); what was done."""
    applied: list[str] = []
    try:
        doc = None if xml else json.loads(body)
    except (ValueError, RecursionError):
        doc = None
    if doc is not None:
        for _ in range(rng.randint(1, 3)):
            doc, done = _mutate_tree(doc, rng)
            applied.append(done)
        body = _serialize(doc, rng)
    elif xml:
        for _ in range(rng.randint(1, 3)):
            body, done = _mutate_xml(body, rng)
            applied.append(done)
    if (doc is None and not xml) or rng.random() < 0.15:
        body, done = _mutate_bytes(body, rng)
        applied.append(done)
    return body, applied
