"""SQLite ranking of a search for one quoted phrase alone, without FTS5's bm25 call.

FTS5's bm25 weighs each term by how many rows of the whole index hold it, and it counts them for
every query: for a phrase of two common words that means matching the phrase over the whole index
(~90 ms at 1M versions), once per ranked slice. With a single term that weight is the same for
every row, so it cannot change the order: rows sort by the rest of bm25,
f = tf·(k1+1) / (tf + k1·(1 - b + b·dl/avgdl)), best first, ties by rowid (FTS5 sorts its rows,
read in rowid order, with SQLite's stable sorter). A single word stays with FTS5: counting its
rows reads one doclist, which is faster than reading the texts as done here.

Per slice, FTS5 still finds the matches (a doclist merge, no scoring). Its own highlight() marks
each phrase occurrence in each row, so tf is counted with FTS5's tokenizer and phrase matching,
not an imitation; dl is the row's token count from FTS5's docsize table; avgdl comes from FTS5's
averages record. Occurrences that overlap (``"budget budget"`` in "budget budget budget") are
marked as one span, so for a phrase that can overlap itself the spans of the texts where that
happens (found by FTS5 with the longer phrase) are tokenized again and their occurrences counted.

Where two different rows' f values differ by less than rounding could blur once multiplied by the
term's weight, or a text holds highlight's marks itself, the slice is left to FTS5's ranking
(the caller's statement), so the order is always FTS5's.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from sqlalchemy import ColumnElement, column, select, table
from sqlalchemy.orm import Session

from archiver.index.models import Item, Version
from archiver.search.filtered import _B, _K1, _Tokens, _varint, _word_rows

# Tests turn this off to compare with FTS5's ranking of the same slices.
RANK_IN_PYTHON = True
# Only phrases: for one word, FTS5 counts its rows from one doclist, faster than reading the texts.
MIN_TOKENS = 2
_FTS = table("versions_fts", column("rowid"), column("text"), column("versions_fts"))
_SIZES = table("versions_fts_docsize", column("id"), column("sz"))
_OPEN, _CLOSE = "\x01", "\x02"
# A slice, newest first, row by row as FTS5 hands it over (subqueries, so no join order can put
# FTS5 inside a loop): version, item, token count (FTS5's docsize), text length, marked text.
_SLICE = ("SELECT rowid, (SELECT item_id FROM versions WHERE id = versions_fts.rowid), "
          "(SELECT sz FROM versions_fts_docsize WHERE id = versions_fts.rowid), length(text), "
          "highlight(versions_fts, 0, char(1), char(2)) FROM versions_fts WHERE versions_fts MATCH ? {} "
          "ORDER BY rowid DESC LIMIT ?")
# Two rows whose f differ by less than this (relatively) might tie in FTS5's score: see module doc.
_NEAR = 1e-9


@dataclass(frozen=True)
class OneTerm:
    tokens: tuple[str, ...]  # the term as FTS5's tokenizer gives it
    overlaps: bool  # whether two occurrences can share tokens
    avgdl: float
    # For a term that overlaps itself: an FTS5 query for the texts where two occurrences do
    # ("budget budget budget" for "budget budget"); None: treat every text as one that may.
    overlapping: str | None = None


def one_term(session: Session, phrases: list[str]) -> OneTerm | None:
    """The query's single term, or None when this path does not apply (several terms, none)."""
    if not RANK_IN_PYTHON or len(phrases) != 1 or session.get_bind().dialect.name != "sqlite":
        return None
    if MIN_TOKENS > 1 and phrases[0].isalnum():  # one word, without starting a tokenizer
        return None  # (were it several tokens to FTS5 after all, FTS5 ranking it is still right)
    tokenizer = _Tokens(session)
    try:
        tokens = tuple(tokenizer.split({1: phrases[0]})[1])
        shifts = [shift for shift in range(1, len(tokens)) if tokens[shift:] == tokens[:-shift]]
        # Occurrences ``shift`` tokens apart overlap: the term followed by its last ``shift`` tokens.
        longer = [" ".join(tokens + tokens[len(tokens) - shift:]) for shift in shifts]
        # Only if the tokenizer gives the tokens back unchanged (stemming a stem again may not).
        again = tokenizer.split({n + 2: words for n, words in enumerate(longer)}) if longer else {}
        exact = all(" ".join(again[n + 2]) == words for n, words in enumerate(longer))
    finally:
        tokenizer.close()
    if len(tokens) < max(MIN_TOKENS, 1):
        return None
    rows, total, _ = _word_rows(session, [])
    overlapping = " OR ".join(f'"{words}"' for words in longer) if longer and exact else None
    return OneTerm(tokens, bool(shifts), total / (rows if rows > 0 else 1), overlapping)


def _f(freq: float, length: float, avgdl: float) -> float:
    """bm25 of one row without the term weight, operation for operation as fts5_aux.c has it."""
    return (freq * (_K1 + 1.0)) / (freq + _K1 * (1 - _B + _B * length / avgdl))


def order(found: dict[int, tuple[int, int]], avgdl: float) -> list[int] | None:
    """Row ids by FTS5's bm25 order given each row's (tf, dl); None where rounding could decide."""
    scores = {key: _f(float(key[0]), float(key[1]), avgdl) for key in set(found.values())}
    distinct = sorted(set(scores.values()))
    if any(high - low <= _NEAR * high for low, high in pairwise(distinct)):
        return None
    return sorted(found, key=lambda rowid: (-scores[found[rowid]], rowid))


def _span_counts(session: Session, term: OneTerm, marked: dict[int, str]) -> dict[int, int]:
    """Per row, the term's occurrences inside its marked spans (for a term that overlaps itself)."""
    spans: list[tuple[int, str]] = []
    owner: list[int] = []
    for rowid, text in marked.items():
        for piece in text.split(_OPEN)[1:]:
            owner.append(rowid)
            spans.append((len(spans), piece.split(_CLOSE, 1)[0]))
    tokenizer = _Tokens(session)  # the index's tokenizer, on the few words of each span
    try:
        tokenizer.db.executemany("INSERT INTO t (rowid, text) VALUES (?, ?)", spans)
        at: dict[int, dict[int, str]] = {}
        for token, span, offset in tokenizer.db.execute("SELECT term, doc, offset FROM v"):
            at.setdefault(span, {})[offset] = token
    finally:
        tokenizer.close()
    counts = dict.fromkeys(marked, 0)
    size = len(term.tokens)
    for span, tokens_at in at.items():
        tokens = tuple(tokens_at[n] for n in sorted(tokens_at))
        counts[owner[span]] += sum(tokens[n:n + size] == term.tokens for n in range(len(tokens) - size + 1))
    return counts


def ranked_slice(session: Session, term: OneTerm, fts_query: str, size: int, upper: int | None,
                 conditions: list[ColumnElement[bool]]) -> tuple[list[int] | None, int | None]:
    """The ``size`` newest matching versions below ``upper``: their item ids best first (an item
    may repeat), and the lowest version id among them (None when fewer matched: the last slice).

    The item ids are None when FTS5 should rank this slice itself (see module doc).
    """
    words = _FTS.c.versions_fts.op("MATCH")(fts_query)
    # Straight to the driver: building thousands of result rows costs SQLAlchemy several ms.
    cursor = session.connection().connection.cursor()
    try:
        rows = cursor.execute(_SLICE.format("AND rowid < ?" if upper is not None else ""),
                              [fts_query, *([upper] if upper is not None else []), size]).fetchall()
    finally:
        cursor.close()
    lower = rows[-1][0] if len(rows) == size else None
    bounds = [*([_FTS.c.rowid >= lower] if lower is not None else []),
              *([_FTS.c.rowid < upper] if upper is not None else [])]
    owners = {rowid: item_id for rowid, item_id, *_ in rows}
    if conditions:
        kept = select(Version.id).join(Item, Item.id == Version.item_id).where(
            Version.id.in_(select(_FTS.c.rowid).where(words, *bounds)), *conditions)
        owners = {rowid: owners[rowid] for rowid in session.scalars(kept)}
    counts: dict[int, int] = {}  # occurrences: one per span highlight() marks ...
    lengths: dict[int, int] = {}
    marked: dict[int, str] = {}
    for rowid, _, sz, length, text in rows:
        if rowid in owners:
            # One opening and one closing mark per span: a text that already held the marks
            # would be miscounted, so FTS5 ranks such a slice.
            if text.count(_OPEN) * 2 != len(text) - length:
                return None, lower
            counts[rowid], lengths[rowid], marked[rowid] = text.count(_OPEN), _varint(sz, 0)[0], text
    if term.overlaps:  # ... unless occurrences overlap: then a span may hold several
        merged = set(owners) if term.overlapping is None else set(session.scalars(
            select(_FTS.c.rowid).where(_FTS.c.versions_fts.op("MATCH")(term.overlapping), *bounds)))
        counts.update(_span_counts(session, term, {rowid: marked[rowid] for rowid in merged & set(owners)}))
    ranked = order({rowid: (counts[rowid], lengths[rowid]) for rowid in owners}, term.avgdl)
    return (None if ranked is None else [owners[rowid] for rowid in ranked]), lower
