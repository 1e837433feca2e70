"""Harvesting a 3,000-post X account (10,000 replies, edit chains) from the fake X API.

The fake runs in this process (a thread), as in the tests. Side by side, in this process:

- the floor: a plain loop of ``requests`` over the same URLs the archiver asks for (the
  timeline 100 a page, the conversations 512-character query by query, the edit histories 100 ids
  a call), each exchange written with warcio's ``WARCWriter`` — no parsing, no index, no storage,
  no budget;
- the archiver: a full harvest on the embedded defaults, media off (the floor fetches none).

Reported: items/s of both and their ratio; API calls and paid reads per 1,000 items against the
minimum the page sizes allow (the profile, one call per 100 posts, per 100 replies and per 100
older versions, as if one search could hold every conversation; every post read once).

    python bench/x.py
    python bench/x.py --posts 300 --replies 1000 --rounds 1
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archiver.config import load_config  # noqa: E402
from archiver.harvest import HarvestRunner  # noqa: E402
from archiver.index.db import open_index  # noqa: E402
from connectors.x import parser  # noqa: E402
from connectors.x.client import conversation_queries  # noqa: E402
from connectors.x.fakeaccount import FakeXAccount  # noqa: E402
from connectors.x.fakeserver import FakeXServer  # noqa: E402
from storage import open_storage  # noqa: E402

TOKEN = "bench-x-bearer-61c2"  # a throwaway for the local fake only
FIELDS = {"tweet.fields": parser.TWEET_FIELDS, "expansions": parser.EXPANSIONS, "user.fields": "username,name",
          "media.fields": parser.MEDIA_FIELDS, "max_results": "100"}


def floor(base: str, user_id: str, out: Path) -> tuple[float, int, int]:
    """(seconds, items, calls) of the least any harvester must do over the same URLs."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"
    started, items, calls = time.perf_counter(), 1, 0
    with out.open("wb") as handle:
        writer = WARCWriter(handle, gzip=True)

        def get(path: str, params: dict[str, str]) -> dict[str, Any]:
            nonlocal calls
            response = session.get(base + path, params=params, timeout=30)
            calls += 1
            headers = StatusAndHeaders(f"{response.status_code} OK", list(response.headers.items()),
                                       protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(response.url, "response", payload=io.BytesIO(
                response.content), http_headers=headers))
            return response.json()

        def pages(path: str, params: dict[str, str], token_name: str) -> list[dict[str, Any]]:
            found, token = [], None
            while True:
                body = get(path, params | ({token_name: token} if token else {}))
                found.append(body)
                token = body.get("meta", {}).get("next_token")
                if not token:
                    return found

        get(f"/2/users/{user_id}", {"user.fields": parser.USER_FIELDS})
        listed = [t for page in pages(f"/2/users/{user_id}/tweets", FIELDS, "pagination_token")
                  for t in page.get("data", [])]
        roots = [t["edit_history_tweet_ids"][0] for t in listed if not t.get("referenced_tweets")]
        replies = [t for query in conversation_queries(roots)
                   for page in pages("/2/tweets/search/all", FIELDS | {"query": query}, "next_token")
                   for t in page.get("data", [])]
        older = [i for t in listed + replies for i in t["edit_history_tweet_ids"][:-1]]
        for start in range(0, len(older), 100):
            get("/2/tweets", {k: v for k, v in FIELDS.items() if k != "max_results"}
                | {"ids": ",".join(older[start:start + 100])})
        items += len({t["edit_history_tweet_ids"][0] for t in listed + replies})
    return time.perf_counter() - started, items, calls


def harvest(base: str, user_id: str, workdir: Path) -> tuple[float, int, int, int, str]:
    """(seconds, items, API calls, reads charged, outcome) of one full harvest on the embedded defaults."""
    workdir.mkdir(parents=True)
    config_path = workdir / "archiver.toml"
    config_path.write_text(f'[archiver]\ndata_dir = "data"\n[capture]\nmedia = false\n'
                           f'[[accounts]]\nname = "city-x"\nplatform = "x"\nid = "{user_id}"\n'
                           f'bearer_token_env = "BENCH_X_BEARER"\nbase_url = "{base}"\nfull_archive = true\n'
                           "monthly_reads = 10000000\n")
    os.environ["BENCH_X_BEARER"] = TOKEN
    config = load_config(config_path)
    db = open_index(config.database_url)
    runner = HarvestRunner(config, db, open_storage(config))
    started = time.perf_counter()
    outcome = runner.run(config.account("city-x"))
    seconds = time.perf_counter() - started
    from archiver.quota import Budget
    from connectors.x.client import XConnector

    spec = XConnector.quota(config.account("city-x"))
    assert spec is not None
    reads = Budget(db, spec).status().used
    with db.session() as session:
        from sqlalchemy import func, select

        from archiver.index.models import Item

        items = session.scalar(select(func.count(Item.id))) or 0
    db.dispose()
    return seconds, items, outcome.pages, reads, outcome.status


def run(posts: int, replies: int, rounds: int) -> dict[str, Any]:
    account = FakeXAccount.synthetic(posts=posts, replies=replies, seed=7)
    live = account.live()
    items = 1 + len(live)
    older = sum(len(t.versions) - 1 for t in live)
    minimum_calls = 1 + -(-posts // 100) + -(-replies // 100) + -(-older // 100)
    minimum_reads = 1 + len(live) + older
    best_floor = best_harvest = float("inf")
    with FakeXServer(account, tokens={TOKEN}, full_archive=True) as server, tempfile.TemporaryDirectory() as work:
        for round_ in range(rounds):
            seconds, floor_items, floor_calls = floor(server.base_url, account.owner.id,
                                                      Path(work) / f"floor-{round_}.warc.gz")
            best_floor = min(best_floor, seconds)
            seconds, harvested, calls, reads, status = harvest(server.base_url, account.owner.id,
                                                               Path(work) / f"run-{round_}")
            assert status == "succeeded" and harvested == items == floor_items, (status, harvested, items)
            best_harvest = min(best_harvest, seconds)
    return {"items": items, "floor_seconds": best_floor, "harvest_seconds": best_harvest, "calls": calls,
            "floor_calls": floor_calls, "minimum_calls": minimum_calls, "reads": reads,
            "minimum_reads": minimum_reads}


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("--posts", type=int, default=3000)
    arguments.add_argument("--replies", type=int, default=10000)
    arguments.add_argument("--rounds", type=int, default=2)
    args = arguments.parse_args()
    r = run(args.posts, args.replies, args.rounds)
    per = 1000 / r["items"]
    print(f"{datetime.now(UTC):%Y-%m-%d} X account of {args.posts} posts and {args.replies} replies "
          f"({r['items']} items with the profile), best of {args.rounds}")
    print(f"  floor (requests + WARCWriter): {r['items'] / r['floor_seconds']:,.0f} items/s "
          f"({r['floor_seconds']:.2f} s, {r['floor_calls']} calls)")
    print(f"  archiver harvest, media off:   {r['items'] / r['harvest_seconds']:,.0f} items/s "
          f"({r['harvest_seconds']:.2f} s); ratio {r['floor_seconds'] / r['harvest_seconds']:.2f} of the floor")
    print(f"  API calls: {r['calls']} = {r['calls'] * per:.2f} per 1,000 items; minimum {r['minimum_calls']} = "
          f"{r['minimum_calls'] * per:.2f} (ratio {r['calls'] / r['minimum_calls']:.2f}; searches are capped at "
          "512 characters, so conversations share a query about 13 at a time)")
    print(f"  paid reads: {r['reads']} = {r['reads'] * per:.0f} per 1,000 items; minimum {r['minimum_reads']} "
          f"(ratio {r['reads'] / r['minimum_reads']:.2f})")


if __name__ == "__main__":
    main()
