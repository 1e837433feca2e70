"""SQLite text search with selective filters: read the filtered items first, rank them here.

When words are moderately common and the filters keep a few thousand items (one account, one
month), streaming bm25-ranked matches through the filters reads tens of thousands of matches to
fill a page. Here the filtered version ids come from the filter indexes, FTS5 hands over its
matches unranked (a merge of doclists, no scoring), and only the intersection is ranked. When the
words are so common that their doclists hold far more rows than the filters keep (two of the ten
commonest words: a million rows at 1M items, ~200 ms), the filtered texts are tokenized instead
and the matches are those holding every word (the same set: FTS5's tokenizer decides both).

Ranking is FTS5's own bm25, computed in Python with the same inputs FTS5 uses: the row count and
total tokens of the index (its averages record), how many rows hold each word (fts5vocab, migration
0011), and per matched version its token count and word frequencies. Those come from tokenizing
the matched texts with the index's own tokenizer in an in-memory FTS5 table (same SQLite library),
so stemming and case folding are FTS5's, not an imitation: all texts as one document, a marker
word after each (see _Tokens.document). Ranking the intersection with FTS5
itself (``MATCH ... AND rowid IN (...)``) would recount each word's rows for every rowid.

The result is a true bm25 order over every match, which is what the streamed path gives whenever
a word matches fewer versions than a slice. Quoted phrases of several words are left to the
streamed path: their bm25 weight needs a count of the phrase's rows over the whole index.
"""

from __future__ import annotations

import bisect
import math
import re
import sqlite3
from collections import Counter
from functools import partial
from itertools import pairwise
from typing import Any

from sqlalchemy import ColumnElement, Select, column, func, select, table, text
from sqlalchemy.orm import Session

from archiver.index.models import Item, Version

# Filter first only when the filters keep at most this many items (their versions' ids are read
# into a temporary index at ~2 µs each) ...
MAX_CANDIDATES = 20_000
# ... and about this many of them are expected to match: each costs ~20 µs to read and rank,
# while with so many the streamed path fills a page from its first slices.
MAX_MATCHES = 5_000
# How many rows hold a word, by index state: counting reads the word's whole doclist (30 ms for
# the commonest words at 1M versions), and searches repeat words. The state (database and FTS5
# averages record, rewritten by every change to the index) is part of the key, so a count is
# never used after the index changed, even with threads racing.
_WORD_ROWS: dict[tuple[str, bytes, str], int] = {}
_K1, _B = 1.2, 0.75
# Matched versions: their item ids, token counts, and how often each word occurs in each.
_Found = tuple[dict[int, int], dict[int, int], dict[tuple[int, str], int]]
# Merging a doclist costs FTS5 about this many rows for what reading and tokenizing one
# filtered item's texts costs (measured at 1M items): see by_tokens.
DOCLIST_ROWS_PER_ITEM = 140
_FTS = table("versions_fts", column("rowid"), column("versions_fts"))
# Ends each text in _Tokens.document: a word no one writes (were it written, the counts say so).
_MARKER = "zqxjendoftextqzxj"


def _varint(blob: bytes, at: int) -> tuple[int, int]:
    """An SQLite varint (FTS5 writes its records with them): value and the next offset."""
    value = 0
    for _ in range(8):
        byte = blob[at]
        at += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, at
    return (value << 8) | blob[at], at + 1


def _word_rows(session: Session, words: list[str]) -> tuple[int, int, list[int]]:
    """Rows and tokens in versions_fts, and how many rows hold each word (bm25's inputs).

    The totals come from FTS5's averages record, which changes with every write to the index,
    so it also tells whether the cached word counts still hold.
    """
    blob = session.scalar(text("SELECT block FROM versions_fts_data WHERE id = 1")) or b"\0\0"
    rows, at = _varint(blob, 0)
    tokens, _ = _varint(blob, at)
    vocab = text("SELECT doc FROM versions_fts_vocab WHERE term = :term")
    counts = []
    for word in words:
        key = (str(session.get_bind().url), blob, word)
        if key not in _WORD_ROWS:
            if len(_WORD_ROWS) >= 10_000:
                _WORD_ROWS.clear()
            _WORD_ROWS[key] = session.scalar(vocab, {"term": word}) or 0
        counts.append(_WORD_ROWS[key])
    return rows, tokens, counts


class _Tokens:
    """The index's own tokenizer, run on a few texts in a private in-memory FTS5 table."""

    def __init__(self, session: Session):
        schema = session.scalar(text("SELECT sql FROM sqlite_master WHERE name = 'versions_fts'")) or ""
        found = re.search(r"tokenize\s*=\s*'([^']*)'", schema)
        self.tokenize = found.group(1) if found else "unicode61"
        self.marker: list[str] | None = None  # _MARKER's tokens, once document() is used
        self.db = sqlite3.connect(":memory:")
        self.db.execute(f"CREATE VIRTUAL TABLE t USING fts5(text, tokenize='{self.tokenize}')")
        self.db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")

    def split(self, texts: dict[int, str]) -> dict[int, list[str]]:
        """Tokens of each text in order, keyed like ``texts`` (for the user's few words)."""
        self.db.executemany("INSERT INTO t (rowid, text) VALUES (?, ?)", texts.items())
        found: dict[int, dict[int, str]] = {key: {} for key in texts}
        marks = ",".join("?" * len(texts))
        for term, doc, offset in self.db.execute(f"SELECT term, doc, offset FROM v WHERE doc IN ({marks})",
                                                 list(texts)):
            found[doc][offset] = term
        return {key: [at[n] for n in sorted(at)] for key, at in found.items()}

    def counts(self, texts: dict[int, str], words: list[str]) -> tuple[dict[int, int], dict[tuple[int, str], int]]:
        """Per text its token count, and per (text, word) how often the word occurs in it."""
        self.db.executemany("INSERT INTO t (rowid, text) VALUES (?, ?)", sorted(texts.items()))
        lengths = {key: _varint(size, 0)[0] for key, size in self.db.execute("SELECT id, sz FROM t_docsize")
                   if key in texts}
        unique = sorted(set(words))
        marks = ",".join("?" * len(unique))
        frequencies = dict(((doc, term), n) for doc, term, n in self.db.execute(
            f"SELECT doc, term, count(*) FROM v WHERE term IN ({marks}) GROUP BY doc, term", unique))
        return lengths, frequencies

    def document(self, texts: list[str], words: list[str]) -> tuple[list[int], dict[str, Counter[int]]] | None:
        """As counts, for many texts at once: their token counts, and per word how often it occurs in
        each (by the text's position in ``texts``).

        A row costs FTS5 several microseconds, so the texts go in as one document, each followed by
        a marker word; tokens never span whitespace, so each text's tokens are the same as alone.
        None when a text or a word holds the marker's token (the counts would be ambiguous).
        """
        if self.marker is None:
            self.marker = self.split({10**12: _MARKER})[10**12]
        if len(self.marker) != 1 or self.marker[0] in words or re.search("tokenchars|separators|categories",
                                                                         self.tokenize):
            return None
        marker = self.marker[0]
        if not texts:
            return [], {word: Counter() for word in words}
        db = sqlite3.connect(":memory:")  # contentless, no sizes: only the tokens' positions are kept
        try:
            db.execute(f"CREATE VIRTUAL TABLE d USING fts5(text, tokenize='{self.tokenize}', content='', "
                       "columnsize=0)")
            db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(d, 'instance')")
            db.execute("INSERT INTO d (rowid, text) VALUES (1, ?)", [f" {_MARKER} ".join(texts) + f" {_MARKER}"])
            # One term at a time: FTS5 reads just that term's positions.
            at = {word: [offset for (offset,) in db.execute("SELECT offset FROM v WHERE term = ?", [word])]
                  for word in {*words, marker}}
        finally:
            db.close()
        ends = sorted(at.pop(marker))
        if len(ends) != len(texts):
            return None
        lengths = [end - start - 1 for start, end in pairwise([-1, *ends])]
        # Each occurrence belongs to the text whose end marker follows it.
        return lengths, {word: Counter(map(partial(bisect.bisect_left, ends), offsets)) for word, offsets in at.items()}

    def close(self) -> None:
        self.db.close()


def ranked_items(session: Session, phrases: list[str], conditions: list[ColumnElement[bool]],
                 fts_query: str) -> list[int] | None:
    """Every matching item id, best first; None when this path does not apply (see module doc).

    ``phrases`` are the user's quoted terms (as fts5_query builds them), ``fts_query`` the
    FTS5 query made of them, ``conditions`` the filters on items.
    """
    if not conditions or not phrases:
        return None
    # A count through the filter indexes alone (no versions read) says whether they are selective.
    filtered = session.scalar(select(func.count()).select_from(
        select(Item.id).where(*conditions).limit(MAX_CANDIDATES + 1).subquery())) or 0
    if filtered > MAX_CANDIDATES:
        return None
    tokens = _Tokens(session)
    try:
        terms = tokens.split({-(n + 1): phrase for n, phrase in enumerate(phrases)})
        if any(len(terms[-(n + 1)]) != 1 for n in range(len(phrases))):
            return None  # a phrase of several words (or none): the streamed path ranks it
        words = [terms[-(n + 1)][0] for n in range(len(phrases))]
        rows, total_tokens, holding = _word_rows(session, words)
        if not filtered or min(holding) == 0:
            return []
        # Matches expected among the filtered items if words and filters are independent: past
        # MAX_MATCHES, ranking them all costs more than the streamed path needs for a page.
        expected = filtered * math.prod(hits / rows for hits in dict(zip(words, holding, strict=True)).values())
        if expected > MAX_MATCHES:
            return None
        found = _matched_by_tokens(session, tokens, conditions, words) if by_tokens(filtered, holding) else None
        if found is None:
            if len(set(words)) < len(words):  # "budget budgets": FTS5 would merge one doclist twice
                fts_query = " ".join(f'"{phrase}"' for phrase in dict(zip(words, phrases, strict=True)).values())
            found = _matched_by_index(session, tokens, conditions, words, fts_query)
    finally:
        tokens.close()
    owners, lengths, frequencies = found
    scores = _bm25(lengths, frequencies, words, holding, rows, total_tokens)
    order = sorted(owners, key=lambda version_id: (scores[version_id], version_id))
    return list(dict.fromkeys(owners[version_id] for version_id in order))


def by_tokens(filtered: int, holding: list[int]) -> bool:
    """Whether reading the filtered versions' texts is cheaper than merging the words' doclists."""
    return sum(holding) > DOCLIST_ROWS_PER_ITEM * filtered


def _plain_rows(session: Session, statement: Select[Any]) -> list[Any]:
    """The rows as the driver hands them over (ids and texts need no conversion): SQLAlchemy's
    rows cost ~1 µs each, milliseconds for the thousands of filtered versions."""
    result = session.connection().execute(statement)
    try:
        return result.cursor.fetchall()  # type: ignore[attr-defined]
    finally:
        result.close()


def _matched_by_tokens(session: Session, tokens: _Tokens, conditions: list[ColumnElement[bool]],
                       words: list[str]) -> _Found | None:
    """The filtered versions holding every word, found by tokenizing all of their texts."""
    rows = _plain_rows(session, select(Version.id, Version.item_id, Version.text)
                       .join(Item, Item.id == Version.item_id).where(*conditions))
    counted = tokens.document([words_text for _, _, words_text in rows], words)
    if counted is None:
        return None
    sizes, counts = counted
    # Texts holding every word: positions counted for each of them.
    holding = set.intersection(*(set(found) for found in counts.values()))
    owners = {rows[n][0]: rows[n][1] for n in holding}
    lengths = {rows[n][0]: sizes[n] for n in holding}
    frequencies = {(rows[n][0], word): found[n] for word, found in counts.items() for n in holding}
    return owners, lengths, frequencies


def _matched_by_index(session: Session, tokens: _Tokens, conditions: list[ColumnElement[bool]],
                      words: list[str], fts_query: str) -> _Found:
    """The filtered versions holding every word, found by FTS5 merging the words' doclists."""
    # Each match is checked against the filtered versions, which SQLite reads once into a
    # temporary index ("+ 0" keeps FTS5 from taking the list as rowid lookups, each of which
    # would rerun the whole query).
    versions = select(Version.id).join(Item, Item.id == Version.item_id).where(*conditions)
    in_text = select(_FTS.c.rowid).where(_FTS.c.versions_fts.op("MATCH")(fts_query),
                                         (_FTS.c.rowid + 0).in_(versions))
    rows = _plain_rows(session, select(Version.id, Version.item_id, Version.text).where(Version.id.in_(in_text)))
    owners = {version_id: item_id for version_id, item_id, _ in rows}
    counted = tokens.document([words_text for _, _, words_text in rows], words)
    if counted is None:
        return (owners, *tokens.counts({version_id: words_text for version_id, _, words_text in rows}, words))
    lengths = {version_id: length for (version_id, _, _), length in zip(rows, counted[0], strict=True)}
    frequencies = {(rows[n][0], word): count for word, found in counted[1].items() for n, count in found.items()}
    return owners, lengths, frequencies


def _bm25(lengths: dict[int, int], frequencies: dict[tuple[int, str], int], words: list[str],
          holding: list[int], rows: int, total_tokens: int) -> dict[int, float]:
    """FTS5's bm25 (fts5_aux.c), operation for operation, so scores match it to the last bit."""
    avgdl = total_tokens / rows
    idf = []
    for hits in holding:
        weight = math.log((rows - hits + 0.5) / (hits + 0.5))
        idf.append(weight if weight > 0.0 else 1e-6)
    scores: dict[int, float] = {}
    for version_id, size in lengths.items():
        length = float(size)
        score = 0.0
        for word, weight in zip(words, idf, strict=True):
            freq = float(frequencies.get((version_id, word), 0))
            score += weight * ((freq * (_K1 + 1.0)) / (freq + _K1 * (1 - _B + _B * length / avgdl)))
        scores[version_id] = -1.0 * score
    return scores

