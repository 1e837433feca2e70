"""Search latency at scale: p50/p95 per query shape on a synthetic SQLite index.

The index is built through the real migrations (``open_index``), then filled with bulk inserts
on a raw connection: a few accounts on three platforms, posts and comments over two years,
about 5% edited (two versions), some hidden or deleted, authors from a pool, and text drawn from
a vocabulary with Zipf-like word frequencies, so there are common and rare words. The file is
cached under the system temp folder, keyed by item count and generator version, so reruns start
at once (later migrations are applied to the cached file by ``open_index``).

Every query goes through ``archiver.search.search`` (the code path of ``archiver search``, 50
per page). The baseline, measured in the same process on the same words, is a bare FTS5
``MATCH ... ORDER BY rank LIMIT 50`` on the same table: the least any ranked text search costs.

    python bench/search.py                    # 1,000,000 items
    python bench/search.py --items 100000 --runs 20
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archiver.index.db import IndexDB, open_index  # noqa: E402
from archiver.search import SearchQuery, search  # noqa: E402

GENERATOR = 2  # bump when the synthetic data changes, so cached indexes are rebuilt
START = datetime(2024, 11, 1, tzinfo=UTC)
SPAN = timedelta(days=730)
ACCOUNTS = [("citynews", "rss"), ("mayor", "facebook"), ("police", "facebook"), ("parks", "instagram"),
            ("library", "rss"), ("transit", "facebook")]
VOCABULARY = 30_000
AUTHORS = 20_000
SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]


def word(rank: int) -> str:
    """A pronounceable, distinct word per rank (three syllables: 70**3 > the vocabulary)."""
    a, rest = divmod(rank, len(SYLLABLES) ** 2)
    b, c = divmod(rest, len(SYLLABLES))
    return SYLLABLES[a] + SYLLABLES[b] + SYLLABLES[c] + "x"  # the x keeps the stemmer off the ending


def person(n: int) -> str:
    return f"{word(n).capitalize()} {word(n * 7 + 3).capitalize()}"


class Words:
    """Zipf-distributed draws from the vocabulary (rank 0 is the most frequent word)."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.cumulative = list(itertools.accumulate(1 / (rank + 1) ** 1.05 for rank in range(VOCABULARY)))

    def text(self, count: int) -> str:
        total = self.cumulative[-1]
        picks = [bisect.bisect(self.cumulative, self.rng.random() * total) for _ in range(count)]
        return " ".join(word(rank) for rank in picks)


def index_path(items: int) -> Path:
    return Path(tempfile.gettempdir()) / "archiver-bench-search" / f"index-{items}-g{GENERATOR}.sqlite"


def build(path: Path, items: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".building")
    partial.unlink(missing_ok=True)
    open_index(f"sqlite:///{partial}").dispose()  # the real schema, every migration
    rng = random.Random(5)
    words = Words(rng)
    raw = sqlite3.connect(partial)
    raw.execute("PRAGMA journal_mode=OFF")
    raw.execute("PRAGMA synchronous=OFF")
    # Filling the FTS table once at the end is several times faster than the per-row trigger.
    trigger = raw.execute("SELECT sql FROM sqlite_master WHERE name = 'versions_fts_insert'").fetchone()[0]
    raw.execute("DROP TRIGGER versions_fts_insert")
    now = datetime(2026, 11, 1)
    raw.executemany("INSERT INTO accounts (id, name, platform, platform_account_id, cursor, status, created_at) "
                    "VALUES (?, ?, ?, ?, '{}', 'active', ?)",
                    [(n + 1, name, platform, name, START.replace(tzinfo=None)) for n, (name, platform)
                     in enumerate(ACCOUNTS)])
    raw.execute("INSERT INTO warc_files (id, key, account_id, month, state) VALUES (1, 'bench.warc.gz', 1, "
                "'2026/11', 'stored')")
    raw.execute("INSERT INTO evidence (id, warc_file_id, record_id, record_type, offset, length, target_uri, "
                "captured_at, block_digest) VALUES (1, 1, 'urn:uuid:bench', 'response', 0, 1, 'https://x', ?, 'x')",
                (now,))
    version_id = 0
    started = time.perf_counter()
    for chunk in range(0, items, 50_000):
        item_rows, version_rows = [], []
        for item_id in range(chunk + 1, min(chunk + 50_000, items) + 1):
            account = rng.randrange(len(ACCOUNTS)) + 1
            is_post = rng.random() < 0.2
            posted = (START + SPAN * rng.random()).replace(tzinfo=None, microsecond=0)
            seen = posted + timedelta(seconds=rng.randrange(3 * 86400))
            author = ACCOUNTS[account - 1][0] if is_post else person(rng.randrange(AUTHORS))
            first = words.text(rng.randint(25, 60) if is_post else rng.randint(5, 25))
            fate = rng.random()
            later = [] if fate >= 0.08 else [("edited", words.text(rng.randint(5, 25)))] if fate < 0.05 else \
                [("hidden", "")] if fate < 0.065 else [("deleted", "")]
            states = [("visible", first), *later]
            for seq, (state, body) in enumerate(states, start=1):
                version_id += 1
                observed = seen + timedelta(days=seq - 1)
                version_rows.append((version_id, item_id, seq, f"h{version_id}", state, "{}", body, "[]",
                                     observed, observed, 1, 1))
            item_rows.append((item_id, account, f"p{item_id}", "post" if is_post else "comment",
                              None if is_post else f"p{item_id - 1}", f"https://example.org/{item_id}", author,
                              posted, seen, seen + timedelta(days=len(states) - 1), states[-1][0], len(states),
                              f"h{version_id}"))
        raw.executemany("INSERT INTO items (id, account_id, platform_id, kind, parent_platform_id, url, author, "
                        "posted_at, first_seen_at, last_seen_at, state, version_count, latest_hash) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", item_rows)
        raw.executemany("INSERT INTO versions (id, item_id, seq, content_hash, state, content, text, media_urls, "
                        "first_observed_at, last_observed_at, first_evidence_id, last_evidence_id) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", version_rows)
        print(f"  {item_rows[-1][0]:,} items ({time.perf_counter() - started:.0f}s)", file=sys.stderr)
    raw.execute("INSERT INTO versions_fts(versions_fts) VALUES ('rebuild')")
    raw.execute(trigger)
    raw.commit()  # no ANALYZE: the archiver never runs it, so the planner works without statistics here too
    raw.close()
    partial.rename(path)
    print(f"  built in {time.perf_counter() - started:.0f}s: {path}", file=sys.stderr)


def timed(runs: list[Callable[[], object]]) -> list[float]:
    runs[0]()  # warm the page cache for this shape
    times = []
    for run in runs:
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30, help="queries per shape (different words and filters)")
    args = parser.parse_args()
    path = index_path(args.items)
    if not path.exists():
        print(f"building a synthetic index of {args.items:,} items (cached for reruns)", file=sys.stderr)
        build(path, args.items)
    db: IndexDB = open_index(f"sqlite:///{path}")
    rng = random.Random(11)
    baseline_words = [word(rng.randrange(1, 12)) for _ in range(args.runs)]
    with db.engine.connect() as connection:
        bare = text("SELECT rowid FROM versions_fts WHERE versions_fts MATCH :q ORDER BY rank LIMIT 50")
        base = timed([lambda w=w: connection.execute(bare, {"q": f'"{w}"'}).all() for w in baseline_words])
    base_p50, base_p95 = statistics.median(base), p95(base)
    print(f"search at {args.items:,} items, {args.runs} queries per shape, SQLite")
    print(f"{'baseline: bare FTS5, common':30} p50 {base_p50:7.1f} ms  p95 {base_p95:7.1f} ms")
    worst = 0.0
    for label, queries in shapes(rng, args.runs).items():
        totals: list[str] = []

        def run(query: SearchQuery, totals: list[str] = totals) -> None:
            with db.session() as session:
                page = search(session, query)
            totals.append(page.total_text())

        times = timed([lambda q=q: run(q) for q in queries])
        worst = max(worst, p95(times))
        print(f"{label:30} p50 {statistics.median(times):7.1f} ms  p95 {p95(times):7.1f} ms  "
              f"(x{p95(times) / base_p95:.2f} baseline p95; totals {', '.join(totals[1:4])})")
    print(f"worst p95 {worst:.1f} ms")
    db.dispose()


if __name__ == "__main__":
    main()
