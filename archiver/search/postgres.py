"""PostgreSQL text search: the newest matching versions a slice at a time, each slice ranked.

Ranking every version that holds a common word (600,000 at 1M items) before LIMIT took seconds,
and counting them all again as long. As on SQLite (engine._sqlite_ranked), the matches are read
newest version first, ``RANK_SLICE`` versions at a time, and each slice is ranked on its own:
its items by their best ts_rank within the slice, then newest posted first, then by id (the
order the whole result had before). Items already placed by a newer slice keep their place. When
a query matches at most a slice (most searches, and every search a selective filter narrows to
that), this is exactly the ranking over all matches. ts_rank (normalization 0) depends only on
the version's own text and the query, so a slice ranks its versions as the whole result would.

Slices are of the versions matching both the words and the filters, so the newest ``RANK_SLICE``
matches are found by the GIN index or by walking the newest versions (the planner picks), and a
page costs a slice or two whatever the size of the archive. Counting stops past COUNT_CAP
items; the slices a page read usually show that already. Whole selections (exports, cases,
holds) read every match in one ordered pass through the same ranking.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal_column, select
from sqlalchemy.orm import Session

from archiver.index.models import Item, Version
from archiver.search.syntax import parse

# Versions ranked together: a slice of a common word costs ~10 ms (reading ~3,000 versions, ranking
# 2,000); much larger ones make the planner bring in parallel workers, slower on a busy server.
RANK_SLICE = 2_000
# ... but for a phrase: the GIN index cannot check word positions, so its newest matches are found
# by reading the newest versions, ~100 for each match of two common words (a count, going on from
# the page's slices, reads on to the cap unranked).
PHRASE_SLICE = 1_000
_WORD = re.compile(r"[^\W_]+")  # a term of several of these is a phrase to PostgreSQL
_VECTOR = literal_column("versions.search_vector")


def tsquery(user_text: str) -> ColumnElement[Any]:
    """What to find, as a tsquery (search/syntax.py: what is left out is one of the filters)."""
    return parse(user_text).tsquery()


def slice_size(user_text: str) -> int:
    """Versions ranked together for this query (see RANK_SLICE and PHRASE_SLICE)."""
    terms = [term.text for group in parse(user_text).required for term in group]
    return PHRASE_SLICE if any(len(_WORD.findall(text)) > 1 for text in terms) else RANK_SLICE


def matching_versions(user_text: str, conditions: list[ColumnElement[bool]],
                      bounds: Sequence[ColumnElement[bool]] = ()) -> Select[Any]:
    """(version id, item id) of every version matching the words and the filters (``conditions``, on
    items; ``bounds`` on versions), unordered. Items are read only when there are filters."""
    found = select(Version.id, Version.item_id).where(_VECTOR.op("@@")(tsquery(user_text)), *bounds)
    return found.join(Item, Item.id == Version.item_id).where(*conditions) if conditions else found


def _ranked_rows(user_text: str, conditions: list[ColumnElement[bool]]) -> Select[Any]:
    """Matching versions newest first, with what ranking needs: id, item, ts_rank, and the item's
    posted_at as seconds (plain numbers: thousands of rows, read without per-value conversion)."""
    return (select(Version.id, Version.item_id, func.ts_rank(_VECTOR, tsquery(user_text)),
                   func.date_part("epoch", Item.posted_at))
            .join(Item, Item.id == Version.item_id)
            .where(_VECTOR.op("@@")(tsquery(user_text)), *conditions)
            .order_by(Version.id.desc()))


def rank_slice(rows: Sequence[Any], placed: dict[int, None]) -> list[int]:
    """The items of one slice's rows not already ``placed``, best first (see module doc)."""
    best: dict[int, tuple[float, float, int]] = {}
    for _, item_id, rank, posted in rows:
        if item_id not in placed and (item_id not in best or -rank < best[item_id][0]):
            # Best rank first, then newest posted (undated last), then lowest id.
            best[item_id] = (-rank, math.inf if posted is None else -posted, item_id)
    return [key[2] for key in sorted(best.values())]


def ranked_ids(rows: Iterable[Any], size: int = RANK_SLICE) -> Iterator[int]:
    """Item ids in result order from matching rows newest version first (one pass, any length)."""
    placed: dict[int, None] = {}
    source = iter(rows)
    while chunk := list(islice(source, size)):
        for item_id in rank_slice(chunk, placed):
            placed[item_id] = None
            yield item_id


def all_ids(session: Session, user_text: str, conditions: list[ColumnElement[bool]]) -> list[int]:
    """Every matching item in result order: one query, streamed."""
    size = slice_size(user_text)
    rows = session.connection().execute(_ranked_rows(user_text, conditions).execution_options(yield_per=size))
    return list(ranked_ids(rows, size))


@dataclass
class Walk:
    """How far a search read: the matching items seen (in result order, as far as ranked), and the
    lowest version id read (None: every match was read)."""

    placed: dict[int, None] = field(default_factory=dict)
    upper: int | None = None
    exhausted: bool = False


def page_ids(session: Session, user_text: str, conditions: list[ColumnElement[bool]], stop: int,
             skip: int = 0) -> Walk:
    """Matching items in result order, slice by slice, until ``stop`` are placed or none are left.

    The first ``skip`` items may come in any order (they precede the caller's page): a slice whose
    items all fall among them is placed without ranking.
    """
    size = slice_size(user_text)
    walk = Walk()
    while True:
        bounds = [Version.id < walk.upper] if walk.upper is not None else []
        if len(walk.placed) < skip:
            rows = _newest(session, user_text, conditions, walk.upper, size)
            new = dict.fromkeys(item_id for _, item_id in rows if item_id not in walk.placed)
            if len(walk.placed) + len(new) <= skip and len(rows) == size:
                walk.placed.update(new)
                walk.upper = rows[-1][0]
                continue
            if rows:  # this slice holds the page's first items: rank the same versions
                bounds.append(Version.id >= rows[-1][0])
        rows = session.connection().execute(_ranked_rows(user_text, [*conditions, *bounds]).limit(size)).all()
        walk.placed.update(dict.fromkeys(rank_slice(rows, walk.placed)))
        walk.exhausted = len(rows) < size
        walk.upper = None if walk.exhausted else rows[-1][0]
        if walk.exhausted or len(walk.placed) >= stop:
            return walk


def _newest(session: Session, user_text: str, conditions: list[ColumnElement[bool]], upper: int | None,
            limit: int) -> list[Any]:
    """(version id, item id) of the ``limit`` newest matching versions below ``upper``, unranked."""
    bounds = [Version.id < upper] if upper is not None else []
    return list(session.connection().execute(
        matching_versions(user_text, conditions, bounds).order_by(Version.id.desc()).limit(limit)).all())


def count(session: Session, user_text: str, conditions: list[ColumnElement[bool]], cap: int,
          walk: Walk | None = None) -> tuple[int, bool]:
    """Matching items, counted up to ``cap`` (then: cap, not exact), newest versions first, unranked;
    going on from where ``walk`` (a page's slices) stopped."""
    seen = set(walk.placed) if walk else set()
    upper = walk.upper if walk else None
    if walk and walk.exhausted:
        return min(len(seen), cap), len(seen) <= cap
    while len(seen) <= cap:
        # Each version adds at most one item: read no more than could reach past the cap.
        step = max(cap + 1 - len(seen), 100)
        rows = _newest(session, user_text, conditions, upper, step)
        seen.update(item_id for _, item_id in rows)
        if len(rows) < step:
            return min(len(seen), cap), len(seen) <= cap
        upper = rows[-1][0]
    return cap, False
