"""Redaction for public release: personal data in what people wrote, replaced by a visible marker.

Only the package is redacted — the stored WARCs are the record and are never altered
(invariant 1). The words of versions and thread nodes and the text fields of normalized
content are searched; ids, URLs and hashes are not, so a long numeric id never looks like a
phone number. Each replacement is logged (document, item, where, rule), never the value.

>>> redactor = Redactor()
>>> redactor.redact_text("call 555-867-5309 or mail a@b.org")[0]
'call [REDACTED: phone] or mail [REDACTED: email]'
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from archiver.exports.package.parts import CaseDocument
from archiver.items import ItemRef

MARKER = "[REDACTED: {rule}]"
CLERK = "clerk"  # the rule of words a clerk added in the review
_STREET = (r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Drive|Dr|Lane|Ln|Court|Ct|Way|Place|Pl|Terrace|Ter|"
           r"Circle|Cir|Highway|Hwy|Parkway|Pkwy|Trail|Trl")
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
BUILT_IN: dict[str, str] = {
    # Birth dates first: "DOB 04/12/1961" must not be half-taken by a looser rule.
    "dob": rf"(?i:\b(?:DOB|D\.O\.B\.|date of birth|born(?: on)?)\s*[:#-]?\s*"
           rf"(?:\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{2,4}}|{_MONTH}\s+\d{{1,2}},?\s+\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}}))",
    "ssn": r"(?<![\w-])(?!000|666|9\d\d)\d{3}[- ](?!00)\d{2}[- ](?!0000)\d{4}(?![\w-])",
    "email": r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
    "phone": r"(?<![\w+])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?![\w-])",
    "address": rf"\b\d{{1,6}}\s+(?:[NSEW]\.?\s+)?(?:[A-Z][A-Za-z'-]*\s+){{1,3}}(?:{_STREET})\b\.?"
               r"(?:,?\s+(?:Apt|Apartment|Unit|Suite|Ste|#)\.?\s*[\w-]+)?",
}
# Keys of normalized content whose values are people's words; everything else is left alone.
TEXT_FIELDS = frozenset({"message", "text", "title", "summary", "content", "caption", "description", "story",
                         "body", "name_with_text"})


@dataclass(frozen=True)
class Redaction:
    document: str
    item: str  # ACCOUNT:PLATFORM-ID
    field: str  # where: "versions[2].text", "context.replies[0].text"
    rule: str
    count: int

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def words_sha256(words: str) -> str:
    """How a clerk's undone redaction names the matched words without keeping them."""
    return hashlib.sha256(words.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Decisions:
    """A clerk's review of a release: automatic redactions undone, and words added, per item."""

    undone: frozenset[tuple[str, str, str]] = frozenset()  # (ACCOUNT:PLATFORM-ID, rule, sha256 of the words)
    added: dict[str, tuple[str, ...]] = field(default_factory=dict)  # ACCOUNT:PLATFORM-ID → words to redact


@dataclass(frozen=True)
class Found:
    """One replacement, for the review screen: where, which rule, the words (shown to the clerk only)."""

    document: str
    item: str
    field: str
    rule: str
    words: str
    undone: bool


class Redactor:
    def __init__(self, extra: Iterable[tuple[str, str]] = (), decisions: Decisions | None = None,
                 collect: bool = False):
        rules = {**BUILT_IN, **dict(extra)}
        self.rules = [(name, re.compile(pattern)) for name, pattern in rules.items()]
        self.decisions = decisions or Decisions()
        self.found: list[Found] | None = [] if collect else None  # every replacement, for review
        self._where: tuple[str, str] = ("", "")  # (document, field) being redacted, for ``found``

    def redact_text(self, text: str, item: str = "") -> tuple[str, dict[str, int]]:
        """The text with every match replaced by the marker, and how many of each rule.

        A match the clerk undid for ``item`` stays; words the clerk added for it go (rule "clerk").
        """
        found: dict[str, int] = {}

        def replace(rule: str, match: re.Match[str]) -> str:
            words = match.group(0)
            undone = (item, rule, words_sha256(words)) in self.decisions.undone
            if self.found is not None:
                self.found.append(Found(*self._where, item, rule, words, undone))
            if undone:
                return words
            found[rule] = found.get(rule, 0) + 1
            return MARKER.format(rule=rule)

        for name, pattern in self.rules:
            text = pattern.sub(lambda m, name=name: replace(name, m), text)
        for words in self.decisions.added.get(item, ()):
            text = re.sub(re.escape(words), lambda m: replace(CLERK, m), text, flags=re.IGNORECASE)
        return text, found

    def _log(self, document: CaseDocument, where: str, found: dict[str, int]) -> None:
        item = _key(document)
        document.redactions.extend(Redaction(document.doc_id, item, where, rule, count).as_dict()
                                   for rule, count in found.items())

    def _content(self, document: CaseDocument, value: Any, where: str) -> Any:
        if isinstance(value, dict):
            return {key: (self._words(document, inner, f"{where}.{key}") if key in TEXT_FIELDS
                          and isinstance(inner, str) else self._content(document, inner, f"{where}.{key}"))
                    for key, inner in value.items()}
        if isinstance(value, list):
            return [self._content(document, inner, f"{where}[{i}]") for i, inner in enumerate(value)]
        return value

    def _words(self, document: CaseDocument, text: str, where: str, item: str | None = None) -> str:
        self._where = (document.doc_id, where)
        redacted, found = self.redact_text(text, item or _key(document))
        if found:
            self._log(document, where, found)
        return redacted

    def _nodes(self, document: CaseDocument, nodes: list[dict[str, Any]], where: str) -> None:
        for index, node in enumerate(nodes):
            item = str(ItemRef(document.history["account"], str(node.get("platform_id", ""))))
            node["text"] = self._words(document, node.get("text") or "", f"{where}[{index}].text", item)
            self._nodes(document, node.get("replies", []), f"{where}[{index}].replies")

    def __call__(self, document: CaseDocument) -> None:
        """Redact ``document`` in place and log what was replaced in ``document.redactions``."""
        for index, version in enumerate(document.history["versions"]):
            version["text"] = self._words(document, version.get("text") or "", f"versions[{index}].text")
            version["content"] = self._content(document, version.get("content") or {}, f"versions[{index}].content")
        context = document.context
        self._nodes(document, context.get("above", []), "context.above")
        if context.get("item"):
            self._nodes(document, [context["item"]], "context.item")
        self._nodes(document, context.get("replies", []), "context.replies")


def _key(document: CaseDocument) -> str:
    return str(ItemRef(document.history["account"], document.history["platform_id"]))
