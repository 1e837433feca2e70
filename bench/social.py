"""What the Threads, Mastodon, Bluesky and LinkedIn benchmarks share (``bench/threads.py`` …).

One run over a large fake account (by default 1,000 posts and 10,000 replies or comments, with
edits, hidden replies and reposts as each fake makes them), served in this process:

- the archiver: a full harvest (recording session, redaction, rate-limit bookkeeping, parsing,
  staging, sealing, storage, index) on the embedded defaults, media off; the index is then
  checked against the fake's ground truth, rebuilt with ``archiver reindex`` and checked again;
- the floor: the same API calls the harvest made, in the same order, replayed with plain
  ``requests`` and written with warcio's ``WARCWriter`` — no parsing, no index, no storage;
- API calls per 1,000 items, against the least the API's page sizes allow (each platform's
  ``minimum``) and against what the harvest made.

Printed: items/s of both and their ratio; calls per 1,000 items and the ratio to the minimum.
``run(spec, posts, replies)`` returns the figures (the suite runs it tiny).
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests
from sqlalchemy import func, select
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archiver.cli import main as cli  # noqa: E402
from archiver.config import load_config  # noqa: E402
from archiver.harvest import HarvestRunner  # noqa: E402
from archiver.index.db import open_index  # noqa: E402
from archiver.index.models import Item  # noqa: E402
from storage import open_storage  # noqa: E402

TOKEN = "bench-social-token-7d2e"  # a throwaway for the local fakes only
TOKEN_ENV = "BENCH_SOCIAL_TOKEN"


@dataclass
class Served:
    """A running fake: where it is, its ground truth, and the calls it answered."""

    base_url: str
    truth: Callable[[], dict[str, str]]
    calls: Callable[[], list[Any]]  # each with .path, .query (dict) and .headers
    extra_items: int  # items the harvest finds beyond the truth (the profile)


@dataclass
class BenchSpec:
    platform: str
    account_id: str
    serve: Callable[[int, int], AbstractContextManager[Served]]
    minimum: Callable[[Served], int]  # the fewest API calls the page sizes allow for this account
    token: bool = True
    options: str = ""  # extra [[accounts]] lines


def _config(workdir: Path, spec: BenchSpec, served: Served) -> Path:
    workdir.mkdir(parents=True)
    path = workdir / "archiver.toml"
    token = f'token_env = "{TOKEN_ENV}"\n' if spec.token else ""
    path.write_text(f'[archiver]\ndata_dir = "data"\n[capture]\nmedia = false\nretry_backoff_seconds = 0.05\n'
                    f'[[accounts]]\nname = "bench"\nplatform = "{spec.platform}"\nid = "{spec.account_id}"\n'
                    f'base_url = "{served.base_url}"\n{token}{spec.options}')
    os.environ[TOKEN_ENV] = TOKEN
    return path


def _count(path: Path) -> int:
    config = load_config(path)
    db = open_index(config.database_url)
    with db.session() as session:
        found = session.scalar(select(func.count()).select_from(Item)) or 0
    db.dispose()
    return int(found)


def harvest(path: Path) -> tuple[float, int, str]:
    """(seconds, observations, status) of one full harvest."""
    config = load_config(path)
    db = open_index(config.database_url)
    runner = HarvestRunner(config, db, open_storage(config))
    started = time.perf_counter()
    outcome = runner.run(config.account("bench"))
    seconds = time.perf_counter() - started
    db.dispose()
    return seconds, outcome.observations, outcome.status


def floor(served: Served, calls: list[Any], out: Path) -> float:
    """Seconds to replay ``calls`` with plain requests, each exchange written to a WARC."""
    session = requests.Session()
    session.trust_env = False
    started = time.perf_counter()
    with out.open("wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        for call in calls:
            headers = {k: v for k, v in call.headers.items() if k.lower() in (
                "authorization", "linkedin-version", "x-restli-protocol-version")}
            url = f"{served.base_url}{call.path}" + (f"?{urlencode(call.query)}" if call.query else "")
            response = session.get(url, headers=headers, timeout=30)
            http = StatusAndHeaders(f"{response.status_code} OK", list(response.headers.items()), protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(response.content),
                                                          http_headers=http))
    return time.perf_counter() - started


def run(spec: BenchSpec, posts: int, replies: int, quiet: bool = False) -> dict[str, Any]:
    with spec.serve(posts, replies) as served, tempfile.TemporaryDirectory() as workdir:
        config = _config(Path(workdir) / "run", spec, served)
        seconds, observed, status = harvest(config)
        calls = [c for c in served.calls() if not c.path.startswith("/media/")]
        truth = served.truth()
        expected = len(truth) + served.extra_items
        harvested = _count(config)
        assert status == "succeeded" and harvested == expected, (status, harvested, expected)
        with open(os.devnull, "w") as sink:
            stdout, sys.stdout = sys.stdout, sink
            try:
                assert cli(["--config", str(config), "reindex"]) == 0
            finally:
                sys.stdout = stdout
        assert _count(config) == expected  # the WARCs alone give the same index
        floor_seconds = floor(served, calls, Path(workdir) / "floor.warc.gz")
        minimum = spec.minimum(served)
    figures = {"items": expected, "seconds": seconds, "floor_seconds": floor_seconds, "calls": len(calls),
               "minimum": minimum, "observations": observed}
    if not quiet:
        print(f"{datetime.now(UTC):%Y-%m-%d} {spec.platform}: {posts} posts, {replies} replies/comments "
              f"({expected} items), complete and equal after reindex")
        print(f"  archiver harvest: {expected / seconds:,.0f} items/s ({seconds:.2f} s); floor (requests + "
              f"WARCWriter, same calls): {expected / floor_seconds:,.0f} items/s; ratio {floor_seconds / seconds:.2f}")
        print(f"  API calls: {len(calls)} = {len(calls) / expected * 1000:.1f} per 1,000 items; minimum for the "
              f"page sizes: {minimum} = {minimum / expected * 1000:.1f} per 1,000 (ratio {len(calls) / minimum:.2f})")
    return figures


def pages(count: int, size: int) -> int:
    """Calls to list ``count`` things ``size`` at a time (an empty listing still takes one)."""
    return max(1, -(-count // size))


def main(spec: BenchSpec, description: str | None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--replies", type=int, default=10000)
    args = parser.parse_args()
    run(spec, args.posts, args.replies)


def served_by(server: Any, truth: Callable[[], dict[str, str]], extra: int = 1) -> Iterator[Served]:
    """Start a fake (a FakeApiServer or FakeGraphServer), yield it as Served, stop it."""
    with server:
        yield Served(server.base_url, truth, server.api_calls, extra)
