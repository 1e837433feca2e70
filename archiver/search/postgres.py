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
from itertools import islice
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal_column, select
from sqlalchemy.orm import Session

from archiver.index.models import Item, Version

# Versions ranked together: ts_rank costs a few microseconds each, so a slice takes ~10 ms.
RANK_SLICE = 5_000
# ... but for a phrase: the GIN index cannot check word positions, so its newest matches are found
# by reading the newest versions, ~100 for each match of two common words.
PHRASE_SLICE = 1_000
_PHRASE = re.compile(r'"[^"]*\w\W+\w[^"]*"')
_VECTOR = literal_column("versions.search_vector")


def tsquery(user_text: str) -> ColumnElement[Any]:
    """The user's words as a tsquery: every word must occur, "quoted phrases" stay phrases.

    The only place query text becomes PostgreSQL syntax.
    """
    return func.websearch_to_tsquery("english", user_text)


def slice_size(user_text: str) -> int:
    """Versions ranked together for this query (see RANK_SLICE and PHRASE_SLICE)."""
    return PHRASE_SLICE if _PHRASE.search(user_text) else RANK_SLICE


def matching_versions(user_text: str, conditions: list[ColumnElement[bool]]) -> Select[Any]:
    """(version id, item id) of every version matching the words and the filters, unordered."""
    return (select(Version.id, Version.item_id).join(Item, Item.id == Version.item_id)
            .where(_VECTOR.op("@@")(tsquery(user_text)), *conditions))


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


def page_ids(session: Session, user_text: str, conditions: list[ColumnElement[bool]], stop: int,
             skip: int = 0) -> tuple[list[int], int, bool]:
    """The first ``stop`` items in result order; how many items the slices read hold; and whether
    those were every match (then that number is the exact count).

    The first ``skip`` items may come in any order (they precede the caller's page): a slice whose
    items all fall among them is placed without ranking.
    """
    size = slice_size(user_text)
    placed: dict[int, None] = {}
    upper: int | None = None
    while True:
        bounds = [Version.id < upper] if upper is not None else []
        if len(placed) < skip:
            rows = session.connection().execute(matching_versions(user_text, [*conditions, *bounds])
                                   .order_by(Version.id.desc()).limit(size)).all()
            new = dict.fromkeys(item_id for _, item_id in rows if item_id not in placed)
            if len(placed) + len(new) <= skip and len(rows) == size:
                placed.update(new)
                upper = rows[-1][0]
                continue
            if rows:  # this slice holds the page's first items: rank the same versions
                bounds.append(Version.id >= rows[-1][0])
        rows = session.connection().execute(_ranked_rows(user_text, [*conditions, *bounds]).limit(size)).all()
        for item_id in rank_slice(rows, placed):
            placed[item_id] = None
        if len(rows) < size or len(placed) >= stop:
            return list(islice(placed, stop)), len(placed), len(rows) < size
        upper = rows[-1][0]


def count(session: Session, user_text: str, conditions: list[ColumnElement[bool]], cap: int) -> tuple[int, bool]:
    """Matching items, counted up to ``cap`` (then: cap, not exact), newest versions first, unranked."""
    seen: set[int] = set()
    upper: int | None = None
    while len(seen) <= cap:
        bounded = [Version.id < upper] if upper is not None else []
        rows = session.connection().execute(matching_versions(user_text, [*conditions, *bounded])
                               .order_by(Version.id.desc()).limit(RANK_SLICE)).all()
        seen.update(item_id for _, item_id in rows)
        if len(rows) < RANK_SLICE:
            return min(len(seen), cap), len(seen) <= cap
        upper = rows[-1][0]
    return cap, False

