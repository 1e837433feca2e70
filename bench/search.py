"""Search latency at scale: p50/p95 per query shape on a synthetic 1M-item index, SQLite or PostgreSQL.

The index is bench/search_data.py's (generated, built through the real migrations, cached per
schema). Every query goes through ``archiver.search.search`` (the code path of ``archiver search``,
50 per page). Each shape is compared with its floor, run in the same process on the same queries:
one hand-written SQL statement for the page's item ids. Without text the floor is the same page
(same filters, newest first); with text it is the unranked matches through the same filters,
``LIMIT 50`` (with the page's OFFSET): less than any ranked search must do, so ratios are honest.
On SQLite, several words are also tried as their rarest word alone, and the faster counts.

    python bench/search.py                    # 1,000,000 items, SQLite
    python bench/search.py --items 100000 --runs 20
    python bench/search.py --url postgresql+psycopg://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from search_data import ACCOUNTS, AUTHORS, START, cached_index, person, postgres_index, word  # noqa: E402

from archiver.index.db import IndexDB  # noqa: E402
from archiver.search import SearchQuery, search  # noqa: E402
from archiver.search.engine import MMAP_BYTES, fts5_query  # noqa: E402


def timed(runs: list[Callable[[], object]], cpu: list[float] | None = None) -> list[float]:
    """Milliseconds by the clock per run; with ``cpu``, this process's CPU milliseconds go there too
    (steadier than the clock on a machine shared with other jobs)."""
    runs[0]()  # warm the page cache for this shape
    times = []
    for run in runs:
        start, started = time.perf_counter(), time.process_time()
        run()
        times.append((time.perf_counter() - start) * 1000)
        if cpu is not None:
            cpu.append((time.process_time() - started) * 1000)
    return times


def p95(times: list[float]) -> float:
    return sorted(times)[max(0, round(len(times) * 0.95) - 1)]


def shapes(rng: random.Random, runs: int) -> dict[str, list[SearchQuery]]:
    def month() -> tuple[datetime, datetime]:
        start = (START + timedelta(days=rng.randrange(700))).replace(day=1)
        return start, (start + timedelta(days=32)).replace(day=1)

    def window(days: int) -> tuple[datetime, datetime]:
        start = START + timedelta(days=rng.randrange(730 - days))
        return start, start + timedelta(days=days)

    def each(make: Callable[[], SearchQuery]) -> list[SearchQuery]:
        return [make() for _ in range(runs)]

    names = [name for name, _ in ACCOUNTS]
    return {
        "rare word": each(lambda: SearchQuery(text=word(rng.randrange(3000, 9000)))),
        "common word": each(lambda: SearchQuery(text=word(rng.randrange(1, 12)))),
        "two-word phrase": each(lambda: SearchQuery(text=f'"{word(rng.randrange(0, 6))} {word(rng.randrange(0, 6))}"')),
        "two words + account + month": each(lambda: SearchQuery(
            text=f"{word(rng.randrange(0, 40))} {word(rng.randrange(0, 40))}", accounts=(rng.choice(names),),
            since=(m := month())[0], until=m[1])),
        "state=deleted": each(lambda: SearchQuery(states=("deleted",))),
        "deleted + account": each(lambda: SearchQuery(states=("deleted",), accounts=(rng.choice(names),))),
        "author": each(lambda: SearchQuery(author=person(rng.randrange(AUTHORS)).split()[1].lower())),
        "kind + 30-day range": each(lambda: SearchQuery(kinds=("post",), since=(w := window(30))[0], until=w[1])),
        "captured 7-day range": each(lambda: SearchQuery(captured_since=(w := window(7))[0],
                                                         captured_until=w[1])),
        "common word, offset 5000": each(lambda: SearchQuery(text=word(rng.randrange(1, 12)), offset=5000)),
        "no text, offset 5000": each(lambda: SearchQuery(offset=5000)),
        "no text (newest first)": each(lambda: SearchQuery()),
    }


def floor_sql(query: SearchQuery, dialect: str) -> tuple[str, dict[str, Any]]:
    """The floor's statement for ``query``: see the module doc."""
    where, params = [], {"limit": query.limit, "offset": query.offset}
    names = [name for name, _ in ACCOUNTS]
    if query.accounts:
        where.append(f"i.account_id IN ({', '.join(str(names.index(a) + 1) for a in query.accounts)})")
    for key, column, op in (("since", "posted_at", ">="), ("until", "posted_at", "<"),
                            ("captured_since", "first_seen_at", ">="), ("captured_until", "first_seen_at", "<")):
        if getattr(query, key):
            where.append(f"i.{column} {op} :{key}")
            params[key] = getattr(query, key).replace(tzinfo=None)
    if query.states:
        where.append("i.id IN (SELECT item_id FROM versions WHERE state = :state)")
        params["state"] = query.states[0]
    if query.kinds:
        where.append("i.kind = :kind")
        params["kind"] = query.kinds[0]
    if query.author:
        params["author"] = f"%{query.author.lower()}%"
        where.append("lower(i.author) LIKE :author" if dialect != "sqlite" else
                     "i.id IN (SELECT rowid FROM items_author_fts WHERE author LIKE :author)")
    if query.text:
        if dialect == "sqlite":
            source = ("versions_fts f JOIN versions v ON v.id = f.rowid JOIN items i ON i.id = v.item_id "
                      "WHERE versions_fts MATCH :q")
            params["q"] = fts5_query(query.text)
        else:
            source = ("versions v JOIN items i ON i.id = v.item_id "
                      "WHERE v.search_vector @@ websearch_to_tsquery('english', :q)")
            params["q"] = query.text
        return f"SELECT v.item_id FROM {source} {''.join(' AND ' + w for w in where)} " \
               "LIMIT :limit OFFSET :offset", params
    order = "i.posted_at DESC, i.id DESC" if dialect == "sqlite" else "i.posted_at DESC NULLS LAST, i.id DESC"
    if dialect != "sqlite" and (query.captured_since or query.captured_until):  # sorting the window is faster
        order = "i.posted_at IS NULL, i.posted_at DESC, i.id DESC"  # than walking newest first (migration 0030)
    return f"SELECT i.id FROM items i {'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY {order} " \
           "LIMIT :limit OFFSET :offset", params


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30, help="queries per shape (different words and filters)")
    parser.add_argument("--url", help="a PostgreSQL server (SQLAlchemy URL) to run on instead of SQLite; the "
                                      "index is a database created there and kept for reruns")
    parser.add_argument("--shapes", help="only the shapes whose names contain this text")
    parser.add_argument("--cache", type=Path, help="folder for the cached SQLite index (default: system temp)")
    args = parser.parse_args()
    url = postgres_index(args.url, args.items) if args.url else f"sqlite:///{cached_index(args.items, args.cache)}"
    db = IndexDB(url)  # already at this schema (cached by its migration heads)
    print(f"search at {args.items:,} items, {args.runs} queries per shape, {db.dialect}")
    worst = 0.0
    for label, queries in shapes(random.Random(11), args.runs).items():
        if args.shapes and args.shapes not in label:
            continue
        totals: list[str] = []

        def run(query: SearchQuery, totals: list[str] = totals) -> None:
            with db.session() as session:
                page = search(session, query)
            totals.append(page.total_text())

        with db.engine.connect() as connection:
            if db.dialect == "sqlite":  # the floor reads through the same memory map as a search
                connection.exec_driver_sql(f"PRAGMA mmap_size={MMAP_BYTES}")
            variants = [floor_variants(connection, q, db.dialect) for q in queries]
            floors = [min(pair) for pair in zip(*(timed([lambda q=v[n], c=connection: floor(c, q, db.dialect)
                                                        for v in variants]) for n in (0, -1)), strict=True)]
        cpu: list[float] = []
        times = timed([lambda q=q: run(q) for q in queries], cpu)
        worst = max(worst, p95(times))
        print(f"{label:30} p50 {statistics.median(times):7.1f} ms  p95 {p95(times):7.1f} ms  (CPU {p95(cpu):6.1f})  "
              f"floor p95 {p95(floors):6.1f} ms  (x{p95(times) / max(p95(floors), 0.01):.1f} floor; "
              f"totals {', '.join(totals[1:4])})")
    print(f"worst p95 {worst:.1f} ms")
    db.dispose()


def floor_variants(connection: Connection, query: SearchQuery, dialect: str) -> list[SearchQuery]:
    """What a floor may run for ``query``, the faster counting: the query itself; on SQLite with several
    words, also its rarest word alone (one doclist read, none of a common word's merged in)."""
    if dialect != "sqlite" or not query.text or '"' in query.text or len(query.text.split()) < 2:
        return [query]
    vocab = text("SELECT doc FROM versions_fts_vocab WHERE term = :term")
    holding = {w: connection.scalar(vocab, {"term": w}) or 0 for w in query.text.split()}
    return [query, replace(query, text=min(holding, key=holding.__getitem__))]


def floor(connection: Connection, query: SearchQuery, dialect: str) -> list[int]:
    statement, params = floor_sql(query, dialect)
    return list(connection.execute(text(statement), params).scalars())


if __name__ == "__main__":
    main()
