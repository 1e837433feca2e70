"""Web app server time on the synthetic 1M-item search index: search and item pages, p50/p95,
next to the domain calls they make and next to the floor, with ratios.

The index is bench/search.py's (built and cached on first use), copied into a temporary folder
for the run: the app writes a user, sessions and audit entries as it serves, and those go into
the copy, deleted afterwards, so the cached index is left exactly as it was. (Later migrations
are applied to the copy only.)

Each page is requested through the whole Flask app in this process (sign-in, session check, the
view, its audit entry, the template), so its time is the server's, without network. For each
query, measured in turn after one unmeasured warm-up of each:

- **page**: ``GET /search?...`` or ``GET /items/ACCOUNT:ID``;
- **domain**: the domain calls the view makes: ``search`` + ``state_facets``; ``find_item`` +
  ``item_history`` + ``thread`` + ``fill_last_words``;
- **floor**: the fastest known way to get the same answer, in bare SQL on a connection of its
  own: the page of ids unranked (the faster of letting the text or the filters drive), the hits'
  rows and latest words, and the counts (total and per state) by the cheapest equivalent query
  known for the case (the minimum over the alternatives, query by query); for an item, its row,
  versions, evidence, media captures, the thread by a recursive query and the last words of
  hidden and deleted replies.

Shapes the page does not search (no filter at all: the page asks for one) are left out.
Targets (issue 15): search page p95 <= 300 ms, item page p95 <= 200 ms.

    python bench/web.py                 # 1,000,000 items
    python bench/web.py --items 20000 --runs 5
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import Connection, bindparam, text
from werkzeug.datastructures import MultiDict

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from search import p95, shapes  # noqa: E402
from search_data import ACCOUNTS, cached_index  # noqa: E402

from archiver.config import parse_config  # noqa: E402
from archiver.facets import CHANGED, state_facets  # noqa: E402
from archiver.index.db import IndexDB, open_index  # noqa: E402
from archiver.items import find_item, item_history  # noqa: E402
from archiver.search import COUNT_CAP, SearchQuery, fts5_query, search  # noqa: E402
from archiver.search.engine import COUNT_WORK  # noqa: E402
from archiver.threads import fill_last_words, thread  # noqa: E402
from archiver.web import users  # noqa: E402
from archiver.web.app import Archive, create_app  # noqa: E402
from archiver.web.forms import filter_pairs  # noqa: E402
from storage import open_storage  # noqa: E402

PASSWORD = "timing the pages 1234"
Statements = list[tuple[str, dict[str, Any]]]


def params(query: SearchQuery) -> str:
    pairs: list[tuple[str, str]] = []
    if query.text:
        pairs.append(("q", query.text))
    pairs += [("account", a) for a in query.accounts] + [("state", s) for s in query.states]
    pairs += [("kind", k) for k in query.kinds]
    for name in ("since", "until", "captured_since", "captured_until"):
        value = getattr(query, name)
        if value:
            pairs.append((name, value.date().isoformat()))
    if query.author:
        pairs.append(("author", query.author))
    if query.offset:
        pairs.append(("page", str(query.offset // 50 + 1)))
    return urlencode(pairs)


def _where(conditions: list[str]) -> str:
    return f"WHERE {' AND '.join(conditions)}" if conditions else ""


def item_filters(query: SearchQuery) -> tuple[list[str], dict[str, Any]]:
    """The query's filters but states, as SQL on ``items i`` (the conditions the archiver applies)."""
    where: list[str] = []
    values: dict[str, Any] = {}
    if query.accounts:
        where.append("i.account_id IN (SELECT id FROM accounts WHERE name = :account)")
        values["account"] = query.accounts[0]
    for name, column, op in (("since", "posted_at", ">="), ("until", "posted_at", "<"),
                             ("captured_since", "first_seen_at", ">="), ("captured_until", "first_seen_at", "<")):
        if getattr(query, name):
            where.append(f"i.{column} {op} :{name}")
            values[name] = getattr(query, name).replace(tzinfo=None)  # the index stores naive UTC
    if query.kinds:
        where.append("i.kind = :kind")
        values["kind"] = query.kinds[0]
    if query.author:
        where += ["lower(i.author) LIKE :author",  # and the trigram index, as the archiver uses it
                  "i.id IN (SELECT rowid FROM items_author_fts WHERE author LIKE :author)"]
        values["author"] = f"%{query.author}%"
    return where, values


def matches(query: SearchQuery, limit: str = "") -> list[Statements]:
    """Statements that each list the ids the query matches (states included), unranked: alternatives."""
    where, values = item_filters(query)
    if query.states:
        where.append("i.id IN (SELECT item_id FROM versions WHERE state = :state)")
        values["state"] = query.states[0]
    if not query.text:
        order = "ORDER BY i.posted_at DESC, i.id DESC" if limit else ""
        return [[(f"SELECT i.id FROM items i {_where(where)} {order} {limit}", values)]]
    values = {**values, "q": fts5_query(query.text)}
    joined = "JOIN items i ON i.id = v.item_id" if where else ""
    found = [[(f"SELECT v.item_id FROM versions_fts f JOIN versions v ON v.id = f.rowid {joined} "
               f"{_where(['versions_fts MATCH :q', *where])} {limit}", values)]]
    if where:  # the filters' versions read once into a temporary index, the matches checked against it
        found.append([("SELECT v.item_id FROM versions v WHERE v.id IN (SELECT rowid FROM versions_fts WHERE "
                       "versions_fts MATCH :q AND rowid + 0 IN (SELECT v.id FROM items i JOIN versions v ON "
                       f"v.item_id = i.id {_where(where)})) {limit}", values)])
    return found


def totals(query: SearchQuery) -> list[Statements]:
    """Statements counting the matching items up to past the cap: alternatives."""
    return [[(f"SELECT count(*) FROM (SELECT DISTINCT * FROM ({sql}) LIMIT {COUNT_CAP + 1})", values)]
            for [(sql, values)] in matches(query)]


GROUPED = ("SELECT v.state, count(DISTINCT v.item_id) FROM versions v WHERE v.state IN "
           "('visible', 'edited', 'hidden', 'deleted') AND v.item_id IN ({}) GROUP BY v.state")


def facets(query: SearchQuery, exact: bool) -> list[Statements]:
    """Statements giving the state facets the page shows (see archiver/facets.py): alternatives."""
    if exact and not query.states:  # each state among every match
        return [[(GROUPED.format(sql), values)] for [(sql, values)] in matches(replace(query, states=()))]
    where, values = item_filters(query)
    if query.text:  # among the first COUNT_WORK text matches, as the archiver's count examines them
        values = {**values, "q": fts5_query(query.text)}
        return [[(GROUPED.format(f"SELECT v.item_id FROM (SELECT rowid FROM versions_fts WHERE versions_fts MATCH "
                                 f":q LIMIT {COUNT_WORK}) f JOIN versions v ON v.id = f.rowid JOIN items i ON "
                                 f"i.id = v.item_id {_where(where)}"), values)]]
    passes = f"EXISTS (SELECT 1 FROM items i WHERE {' AND '.join(['i.id = v.item_id', *where])})"
    state_first = [(f"SELECT count(*) FROM (SELECT v.item_id FROM versions v WHERE v.state = '{state}' AND {passes} "
                    f"GROUP BY v.item_id LIMIT {COUNT_CAP + 1})", values) for state in CHANGED]
    items_first = [(f"SELECT count(*) FROM (SELECT i.id FROM items i {_where(where)} {'AND' if where else 'WHERE'} "
                    f"i.id IN (SELECT item_id FROM versions WHERE state = '{state}') LIMIT {COUNT_CAP + 1})", values)
                   for state in CHANGED]
    every = [(GROUPED.format(f"SELECT i.id FROM items i {_where(where)}"), values)]
    return [state_first, items_first, every]


ROWS = ("SELECT i.*, a.name, a.platform, (SELECT text FROM versions WHERE item_id = i.id AND text != '' "
        "ORDER BY seq DESC LIMIT 1) FROM items i JOIN accounts a ON a.id = i.account_id WHERE i.id IN ({})")


def _run(connection: Connection, statements: Statements) -> tuple[list[Any], float]:
    """The first column of the last statement's rows, and the ms all took."""
    started, rows = time.perf_counter(), []
    for statement, values in statements:
        rows = [row[0] for row in connection.execute(text(statement), values)]
    return rows, (time.perf_counter() - started) * 1000


def fastest(connection: Connection, alternatives: list[Statements]) -> tuple[list[Any], float]:
    return min((_run(connection, statements) for statements in alternatives), key=lambda found: found[1])


def search_floor(connection: Connection, query: SearchQuery, exact: bool) -> float:
    """ms: the page of ids, the hits' rows and words, the total and the facets, each the fastest way known."""
    ids, page = fastest(connection, matches(query, f"LIMIT {query.limit} OFFSET {query.offset}"))
    rows = _run(connection, [(ROWS.format(",".join(str(i) for i in ids) or "NULL"), {})])[1]
    return page + rows + fastest(connection, totals(query))[1] + fastest(connection, facets(query, exact))[1]


THREAD = ("WITH RECURSIVE under(pid) AS (SELECT :pid UNION SELECT i.platform_id FROM items i JOIN under "
          "ON i.parent_platform_id = under.pid WHERE i.account_id = :account) "
          "SELECT i.id, i.platform_id, i.parent_platform_id, i.kind, i.state, i.author, i.posted_at, i.metrics, "
          "v.text FROM under JOIN items i ON i.account_id = :account AND i.platform_id = under.pid "
          "JOIN versions v ON v.item_id = i.id AND v.seq = i.version_count WHERE under.pid != :pid")


def item_floor(connection: Connection, name: str, platform_id: str) -> float:
    """ms: the item's row, versions, evidence, media captures, its thread and the thread's last words."""
    started = time.perf_counter()
    item = connection.execute(text("SELECT i.* FROM items i JOIN accounts a ON a.id = i.account_id "
                                   "WHERE a.name = :n AND i.platform_id = :p"), {"n": name, "p": platform_id}).one()
    versions = connection.execute(text("SELECT * FROM versions WHERE item_id = :i ORDER BY seq"), {"i": item.id}).all()
    evidence = {e for v in versions for e in (v.first_evidence_id, v.last_evidence_id) if e}
    connection.execute(text(f"SELECT e.*, w.key FROM evidence e JOIN warc_files w ON w.id = e.warc_file_id "
                            f"WHERE e.id IN ({','.join(map(str, evidence)) or 'NULL'})")).all()
    media = {url for v in versions for url in json.loads(v.media_urls or "[]")}
    if media:
        captures = text("SELECT e.*, w.key FROM evidence e JOIN warc_files w ON w.id = e.warc_file_id "
                        "WHERE w.account_id = :a AND e.target_uri IN :u").bindparams(bindparam("u", expanding=True))
        connection.execute(captures, {"a": item.account_id, "u": sorted(media)}).all()
    nodes = connection.execute(text(THREAD), {"pid": platform_id, "account": item.account_id}).all()
    wordless = [n.id for n in nodes if not n.text]
    if wordless:
        connection.execute(text(f"SELECT item_id, text FROM versions WHERE text != '' AND item_id IN "
                                f"({','.join(map(str, wordless))}) ORDER BY item_id, seq")).all()
    return (time.perf_counter() - started) * 1000


@dataclass
class Row:
    label: str
    page: list[float] = field(default_factory=list)
    domain: list[float] = field(default_factory=list)
    part: list[float] = field(default_factory=list)  # of the domain time: the facets, or the thread
    floor: list[float] = field(default_factory=list)

    def line(self) -> str:
        page50, page95 = statistics.median(self.page), p95(self.page)
        domain50, domain95 = statistics.median(self.domain), p95(self.domain)
        floor50, floor95 = statistics.median(self.floor), p95(self.floor)
        return (f"{self.label:30} {page50:7.1f} {page95:7.1f}   {domain50:7.1f} {domain95:7.1f} "
                f"{statistics.median(self.part):6.1f}   {floor50:6.1f} {floor95:6.1f}   {page50 / domain50:5.2f} "
                f"{page95 / domain95:5.2f}   {page50 / floor50:6.1f} {page95 / floor95:6.1f}")


def ms(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def measure(row: Row, cases: list[Any], page: Callable[[Any], object], domain: Callable[[Any], float],
            floor: Callable[[Any], float]) -> Row:
    """Page, domain (which says how long its part took) and floor on each case in turn, after one
    unmeasured warm-up of each."""
    page(cases[0]), domain(cases[0]), floor(cases[0])
    for case in cases:
        row.page.append(ms(lambda c=case: page(c)))
        started = time.perf_counter()
        row.part.append(domain(case))
        row.domain.append((time.perf_counter() - started) * 1000)
        row.floor.append(floor(case))
    return row


def copied_index(items: int, folder: Path) -> Path:
    cached = cached_index(items)  # bench/search.py's, for this schema
    copy = folder / "index.sqlite"
    shutil.copyfile(cached, copy)
    return copy


def signed_in_client(db: IndexDB, archive: Archive) -> Any:
    with db.session() as session:
        if users.find_user(session, "bench") is None:
            users.add_user(session, "bench", "clerk", PASSWORD, "bench")
        else:  # left in the cached index by an earlier version of this bench
            users.reset_password(session, "bench", PASSWORD, "bench")
    client = create_app(archive).test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    signed = client.post("/login", data={"username": "bench", "password": PASSWORD, "csrf_token": token})
    assert signed.status_code == 302, signed.status_code
    return client


def run(work: Path, items: int, runs: int) -> list[Row]:
    path = copied_index(items, work)
    accounts = "".join(f'[[accounts]]\nname = "{n}"\nplatform = "rss"\nid = "https://example.org/{n}.xml"\n'
                       for n, _ in ACCOUNTS)
    config = parse_config(f'[archiver]\ndata_dir = "{work}"\n[database]\nurl = "sqlite:///{path}"\n'
                          f'[web]\nsecure_cookies = false\n{accounts}', base_dir=work, check_platforms=False)
    db = open_index(config.database_url)
    client = signed_in_client(db, Archive(config, db, open_storage(config)))
    rows: list[Row] = []
    exact: dict[SearchQuery, bool] = {}

    def page_of(query: SearchQuery) -> None:
        answer = client.get("/search?" + params(query))
        assert answer.status_code == 200, answer.status_code

    def domain_of(query: SearchQuery) -> float:
        with db.session() as session:
            found = search(session, query)
            facets = ms(lambda: state_facets(session, query, found))
        exact[query] = found.total_is_exact
        return facets

    def item_page(ref: tuple[str, str]) -> None:
        answer = client.get(f"/items/{ref[0]}:{ref[1]}")
        assert answer.status_code == 200, answer.status_code

    def item_domain(ref: tuple[str, str]) -> float:
        with db.session() as session:
            found = find_item(session, f"{ref[0]}:{ref[1]}")
            item_history(session, found)
            return ms(lambda: fill_last_words(session, thread(session, found)))

    rng = random.Random(17)
    with db.engine.connect() as connection:
        for label, queries in shapes(rng, runs).items():
            if filter_pairs(MultiDict(parse_qsl(params(queries[0])))):  # else the page asks for a filter
                rows.append(measure(Row(label), queries, page_of, domain_of,
                                    lambda q: search_floor(connection, q, exact[q])))
        names = dict(connection.execute(text("SELECT id, name FROM accounts")).all())
        picked = [rng.randrange(1, items + 1) for _ in range(runs * 3)]
        refs = [(names[a], p) for a, p in (connection.execute(text("SELECT account_id, platform_id FROM items "
                                                                     "WHERE id = :i"), {"i": i}).one()
                                           for i in picked)]
        rows.append(measure(Row("item page, random item"), refs, item_page, item_domain,
                            lambda ref: item_floor(connection, *ref)))
    db.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20, help="queries (or items) per shape")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="archiver-bench-web-"))
    try:
        rows = run(work, args.items, args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"web app at {args.items:,} items, SQLite, {args.runs} per shape ({args.runs * 3} items); server time "
          "in-process, ms; ratios page/domain and page/floor")
    print("domain: search + state_facets, or find_item + item_history + thread; part: of it, the facets or "
          "the thread (p50)")
    print(f"{'shape':30} {'page p50':>7} {'p95':>7}   {'domain':>7} {'p95':>7} {'part':>6}   {'floor':>6} {'p95':>6}   "
          f"{'/dom':>5} {'p95':>5}   {'/floor':>6} {'p95':>6}")
    for row in rows:
        print(row.line())
    searches = [row for row in rows if not row.label.startswith("item")]
    print(f"search page worst p95 {max(p95(r.page) for r in searches):.1f} ms (target 300); "
          f"item page p95 {p95(rows[-1].page):.1f} ms (target 200)")


if __name__ == "__main__":
    main()
