"""What a person types as search words, parsed once for every face (CLI, web, cases, holds, exports)
and translated for both engines (SQLite FTS5 and PostgreSQL full text), so a query means the same
thing everywhere.

    budget hearing        every word must occur (in any version of an item)
    "bike lane"           a phrase: the words in this order, next to each other
    budget OR levy        either; OR binds tighter than the spaces between words, so
                          ``budget OR levy hearing`` is (budget or levy) and hearing
    -parking -"bike lane" leave out items holding the word or phrase in any version (not on its own)
    budg*                 words that begin with budg (at least 2 letters or digits before *)

Terms go to each engine whole, so its own tokenizer splits ``e-mail`` or ``city.gov`` the way it
split the archived text (PostgreSQL's index leaves out very common words, "the", "of": see
``common_words``). Anything else that looks like search syntax (NOT, parentheses, ``author:``,
a lone or inner ``*``) is refused with a hint, never guessed at. Words that are only punctuation
(``"``) search for nothing: such a query matches nothing, and says so, rather than every item.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, func

MIN_PREFIX = 2  # letters or digits before a *: "b*" would read most of the index
MAX_TERMS = 200  # words and phrases in one query: more is a pasted document, not a search
TEXT_CONFIG = "english"  # what versions.search_vector is built with (migration 0001)
# PostgreSQL's English stop words (share/tsearch_data/english.stop): its index holds none of them.
_STOP = """
a about above after again against all am an and any are as at be because been before being below between both
but by can did do does doing don down during each few for from further had has have having he her here hers
herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off on
once only or other our ours ourselves out over own same she should so some such t than that the their theirs
them themselves then there these they this those through to too under until up very was we were what when where
which while who whom why will with you your yours yourself yourselves s
"""
STOP_WORDS = frozenset(_STOP.split())
# What other search boxes offer as fields; here these are filters (--author, --account, …).
_FIELDS = re.compile(r"^(author|account|from|by|user|platform|kind|state|site|in|is):.", re.IGNORECASE)
# A quote without its closing quote is punctuation (as the tokenizers take it).
_TOKEN = re.compile(r'(?P<neg>-?)"(?P<phrase>[^"]*)"|(?P<word>[^\s"]+)')
# How the words are written, for --help and the web form.
WORDS_HELP = ('words that must all occur; "a phrase"; budget OR levy (either; OR binds tighter than spaces); '
              '-word or -"a phrase" leaves items out; '
              'budg* finds words that begin so (2+ letters)')
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # PostgreSQL refuses a NUL in text; none is a word anyway
_WORD = re.compile(r"[^\W_]+")  # a run of letters or digits: what both tokenizers index as (part of) a word


class QueryError(ValueError):
    """A search that cannot run as asked; the message is one line: what is wrong, then how to fix it."""


@dataclass(frozen=True)
class Term:
    text: str  # as typed, less quotes, - and *: each engine's tokenizer splits it as it split the text
    prefix: bool = False  # the last word is the start of words (budg*)

    def fts5(self) -> str:
        return f'"{self.text}"' + (" *" if self.prefix else "")

    def tsquery(self) -> ColumnElement[Any]:
        if not self.prefix:
            return func.phraseto_tsquery(TEXT_CONFIG, self.text)
        head, last = self.text[:self.text.rfind(" ") + 1].strip(), self.text.rsplit(" ", 1)[-1]
        # A stop word is not in the English dictionary's output, so its start is looked up as is.
        start = func.to_tsquery("simple" if last.lower() in STOP_WORDS else TEXT_CONFIG, f"{last}:*")
        return func.tsquery_phrase(func.phraseto_tsquery(TEXT_CONFIG, head), start) if head else start


@dataclass(frozen=True)
class Parsed:
    required: tuple[tuple[Term, ...], ...] = ()  # each group must match: one of its terms (OR)
    excluded: tuple[Term, ...] = ()  # none of these may match
    notes: tuple[str, ...] = ()  # what a person should know (that nothing is searched for)

    @property
    def matches_nothing(self) -> bool:
        return not self.required

    def plain_phrases(self) -> list[str]:
        """The terms when what to find is only words and phrases that must all occur, else [].

        The SQLite ranking shortcuts (search/phrase.py, search/filtered.py) rank such queries only;
        what is left out is one of the filters there.
        """
        plain = all(len(group) == 1 and not group[0].prefix for group in self.required)
        return [group[0].text for group in self.required] if plain else []

    def shown(self) -> list[str]:
        """Words and phrases to mark in what was found (not those left out)."""
        return [term.text for group in self.required for term in group]

    # What to find, matched against each version; what is left out is matched against every version of
    # an item (the engine's filters), so an edit that added a word left out leaves the item out too.
    def fts5(self) -> str:
        """What to find, as an FTS5 query ("" when nothing).

        >>> parse('main street "bike lane"').fts5()
        '"main" "street" "bike lane"'
        >>> parse('budget OR levy budg* -"bike lane"').fts5()
        '("budget" OR "levy") AND "budg" *'
        """
        groups = [group[0].fts5() if len(group) == 1 else "(" + " OR ".join(t.fts5() for t in group) + ")"
                  for group in self.required]
        # FTS5 joins phrases by spaces, but a group in parentheses only by an explicit AND.
        return (" AND " if any(len(group) > 1 for group in self.required) else " ").join(groups)

    def fts5_excluded(self) -> str:
        """What is left out, as an FTS5 query that finds it ("" when nothing is).

        >>> parse('lane -bike -"bike lane"').fts5_excluded()
        '"bike" OR "bike lane"'
        """
        return " OR ".join(term.fts5() for term in self.excluded)

    def tsquery(self) -> ColumnElement[Any]:
        """What to find, for PostgreSQL, built from each term's own tsquery (user text is never syntax)."""
        if not self.required:
            return func.to_tsquery(TEXT_CONFIG, "")
        return _joined("tsquery_and", [_joined("tsquery_or", [term.tsquery() for term in group])
                                       for group in self.required])

    def excluded_tsquery(self) -> ColumnElement[Any]:
        """What is left out, for PostgreSQL: a tsquery that finds it."""
        return _joined("tsquery_or", [term.tsquery() for term in self.excluded])


def _joined(operator: str, queries: list[ColumnElement[Any]]) -> ColumnElement[Any]:
    """``queries`` joined two by two as a balanced tree: a chain 100 deep overflows SQLAlchemy's compiler."""
    if len(queries) == 1:
        return queries[0]
    middle = len(queries) // 2
    return getattr(func, operator)(_joined(operator, queries[:middle]), _joined(operator, queries[middle:]))


@dataclass
class _Raw:
    """A term as typed, before punctuation around it is taken out."""
    text: str
    prefix: bool
    excluded: bool


def _quoted(text: str) -> str:
    text = " ".join(text.split())
    return "'" + (text if len(text) <= 40 else text[:39] + "…") + "'"


def _prefix(text: str, shown: str) -> tuple[str, bool]:
    """The text without a final *, and whether it had one; refuses a * anywhere else."""
    if "*" not in text:
        return text, False
    body = text[:-1]
    last = body.rsplit(" ", 1)[-1]
    if not text.endswith("*") or "*" in body:
        raise QueryError(f"{_quoted(shown)}: * only ends a word (budg* finds budget, budgets); "
                         "inner or leading * is not supported")
    if not _WORD.fullmatch(last) or len(last) < MIN_PREFIX:
        if not body.strip():
            raise QueryError("'*' alone is no search: to list everything leave the words out and use filters, "
                             "or end a word with * (budg*)")
        raise QueryError(f"{_quoted(shown)}: a word ending in * needs at least {MIN_PREFIX} letters or digits "
                         "and no punctuation before the * (budg*)")
    return body, True


def _refuse_syntax(word: str) -> None:
    """Refuse a word that is syntax of other search boxes, which this one does not take."""
    if word == "NOT":
        raise QueryError("NOT is not supported: put - before a word or phrase to leave it out (budget -parking)")
    if "(" in word or ")" in word:
        raise QueryError(f"{_quoted(word)}: parentheses are not supported; OR binds tighter than spaces, so "
                         "budget OR levy hearing means (budget OR levy) hearing")
    if _FIELDS.match(word.lstrip("-")):
        raise QueryError(f"{_quoted(word)}: fields are not search words; use the filters instead "
                         "(--account, --author, --platform, --kind, --state)")


def _raw_term(found: re.Match[str]) -> _Raw:
    """A word or quoted phrase, with its - and * read (and refused where they cannot be)."""
    word = found.group("word")
    if word is not None:
        _refuse_syntax(word)
        excluded = word.startswith("-") and len(word) > 1
        body = word[1:] if excluded else word
    else:
        excluded, body = bool(found.group("neg")), " ".join(found.group("phrase").split())
    body, prefix = _prefix(body.strip(), found.group(0))
    return _Raw(body, prefix, excluded)


def _raw_terms(text: str) -> list[list[_Raw]]:
    """Groups of terms joined by OR, as typed; syntax that is not supported is refused here."""
    groups: list[list[_Raw]] = []
    joining = False  # the last token was OR
    for found in _TOKEN.finditer(text):
        if found.group("word") == "AND":
            continue  # says what spaces already say
        if found.group("word") == "OR":
            if joining or not groups:
                raise QueryError("OR goes between two words or phrases (budget OR levy)")
            joining = True
            continue
        term = _raw_term(found)
        if joining:
            if term.excluded or groups[-1][0].excluded:
                raise QueryError("OR joins words or phrases to find, not ones left out: "
                                 "-parking -garage leaves out both")
            groups[-1].append(term)
            joining = False
        else:
            groups.append([term])
    if joining:
        raise QueryError("OR goes between two words or phrases (budget OR levy)")
    if sum(len(group) for group in groups) > MAX_TERMS:
        raise QueryError(f"{sum(len(group) for group in groups)} words and phrases are too many for one search "
                         f"(at most {MAX_TERMS}); search for the few that matter, or use several searches")
    return groups


def _searchable(raw: _Raw) -> Term | None:
    """The term without leading and trailing punctuation; None if it is only punctuation."""
    words = list(_WORD.finditer(raw.text))
    if not words:
        return None
    return Term(raw.text[words[0].start():words[-1].end()], raw.prefix)


def common_words(parsed: Parsed) -> list[str]:
    """The query's words that PostgreSQL's index leaves out (its English stop words), which there
    match nothing while SQLite finds them: a note for people searching on PostgreSQL."""
    terms = [term for group in parsed.required for term in group] + list(parsed.excluded)
    # A prefix that is one (and*) still finds longer words there (Term.tsquery), but not the word itself.
    words = [word.lower() for term in terms for word in _WORD.findall(term.text)]
    return list(dict.fromkeys(word for word in words if word in STOP_WORDS))


@lru_cache(maxsize=512)
def parse(text: str) -> Parsed:
    """The query ``text`` asks for; raises QueryError (one line with a hint) when it cannot be run.

    >>> parse('budget OR levy -parking').required[0]
    (Term(text='budget', prefix=False), Term(text='levy', prefix=False))
    >>> parse('"').matches_nothing
    True
    """
    required: list[tuple[Term, ...]] = []
    excluded: list[Term] = []
    for group in _raw_terms(_CONTROL.sub(" ", text)):
        terms = [term for term in (_searchable(raw) for raw in group) if term is not None]
        if group[0].excluded:
            excluded.extend(terms)
        elif terms:
            required.append(tuple(dict.fromkeys(terms)))
    if excluded and not required:
        raise QueryError("say what to find as well as what to leave out (budget -parking); "
                         "to list everything except some words, use filters instead")
    notes = []
    if not required:
        notes.append(f"no words to search for in {_quoted(text)}, so nothing matches "
                     "(to list everything, leave the words out)")
    return Parsed(tuple(required), tuple(dict.fromkeys(excluded)), tuple(notes))
