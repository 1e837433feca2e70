"""Harvesting a 1,000-post Facebook Page (20,000 comments and replies) from the fake Graph API.

The fake Page is served from its own process. In this process:

- the floor: a plain loop of ``requests`` over the same Graph URLs (the feed with each post's first
  comments, then each long thread's further pages, following ``paging.next``), each exchange
  written with warcio's ``WARCWriter`` — no parsing, no index, no storage;
- the archiver: a full harvest (recording session, redaction, throttle bookkeeping, parsing,
  staging, sealing, storage, index) on the embedded defaults, media off (the floor fetches none),
  then once more with media on.

Then the same harvest again with nothing changed on the Page (an idle re-harvest).

Reported: items/s for both and their ratio; Graph API calls, counted where they land (the fake
server's own count), per 1,000 items against the minimum the API's page sizes allow (``limit`` at
most 100: the profile, one feed call per 100 posts, and one more call per 100 comments beyond the
first 100 of a post, which come with the post), and against a harvest that asks each post's
comments separately; and the calls of the idle re-harvest against its minimum: Graph has no
conditional request (no ETag, no If-Modified-Since) and a comment's edit or hide leaves no trace on
its post (``updated_time`` moves only for a post edit or a new comment), so the only way to see
them is to list again what the re-check window holds: the profile, the feed pages back to the
window's start, and the further comment pages of each post created or commented on within it.

    python bench/facebook.py
    python bench/facebook.py --posts 300 --comments 6000 --rounds 1
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archiver.config import load_config  # noqa: E402
from archiver.harvest import HarvestRunner  # noqa: E402
from archiver.index.db import open_index  # noqa: E402
from connectors.facebook.fakepage import FakePage  # noqa: E402
from connectors.facebook.parser import POST_FIELDS, PROFILE_FIELDS, comments_field  # noqa: E402
from storage import open_storage  # noqa: E402

TOKEN = "bench-page-token-4e8a"  # a throwaway for the local fake only


def serve(posts: int, comments: int) -> tuple[subprocess.Popen[str], str, str]:
    process = subprocess.Popen([sys.executable, "-m", "connectors.facebook.fakepage", "--posts", str(posts),
                                "--comments", str(comments), "--token", TOKEN], cwd=ROOT, stdout=subprocess.PIPE,
                               stdin=subprocess.PIPE, text=True, env=os.environ | {"PYTHONPATH": str(ROOT)})
    assert process.stdout is not None
    base, page_id = process.stdout.readline().split()
    return process, base, page_id


def calls_at(process: subprocess.Popen[str]) -> int:
    """API calls the fake Page has answered so far (its own count)."""
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write("calls\n")
    process.stdin.flush()
    return int(process.stdout.readline())


def floor(base: str, page_id: str, out: Path) -> tuple[float, int, int]:
    """(seconds, items, calls, CPU seconds) of the least any harvester must do over the same URLs."""
    session = requests.Session()
    session.headers["Authorization"] = f"OAuth {TOKEN}"
    started, items, calls, cpu = time.perf_counter(), 0, 0, time.process_time()
    with out.open("wb") as handle:
        writer = WARCWriter(handle, gzip=True)

        def get(url: str, params: dict[str, str] | None = None) -> dict:
            nonlocal calls
            response = session.get(url, params=params, timeout=30)
            calls += 1
            headers = StatusAndHeaders(f"{response.status_code} OK", list(response.headers.items()),
                                       protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(response.url, "response", payload=io.BytesIO(
                response.content), http_headers=headers))
            return response.json()

        get(f"{base}/v26.0/{page_id}", {"fields": PROFILE_FIELDS})
        items += 1
        url: str | None = f"{base}/v26.0/{page_id}/feed"
        params: dict[str, str] | None = {"fields": f"{POST_FIELDS},{comments_field(100)}", "limit": "100"}
        while url:
            body = get(url, params)
            params = None
            for post in body["data"]:
                items += 1 + len(post.get("comments", {}).get("data", []))
                following = post.get("comments", {}).get("paging", {}).get("next")
                while following:
                    thread = get(following)
                    items += len(thread["data"])
                    following = thread.get("paging", {}).get("next")
            url = body.get("paging", {}).get("next")
    return time.perf_counter() - started, items, calls, time.process_time() - cpu


def harvest(base: str, page_id: str, workdir: Path, media: bool) -> tuple[float, int, str, float]:
    """(seconds, items, outcome, CPU seconds of this process) of one harvest on the embedded
    defaults (again in the same folder: a re-harvest)."""
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "archiver.toml"
    config_path.write_text(f'[archiver]\ndata_dir = "data"\n[capture]\nmedia = {str(media).lower()}\n'
                           f'[[accounts]]\nname = "city-fb"\nplatform = "facebook"\nid = "{page_id}"\n'
                           f'token_env = "BENCH_PAGE_TOKEN"\nbase_url = "{base}"\n')
    os.environ["BENCH_PAGE_TOKEN"] = TOKEN
    config = load_config(config_path)
    db = open_index(config.database_url)
    runner = HarvestRunner(config, db, open_storage(config))
    started, cpu = time.perf_counter(), time.process_time()
    outcome = runner.run(config.account("city-fb"))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    db.dispose()
    return seconds, outcome.observations, outcome.status, cpu


def run(posts: int, comments: int, rounds: int, media: bool = True) -> dict[str, float]:
    """The figures of one run (every number printed by ``main``)."""
    page = FakePage.synthetic(posts=posts, comments=comments, seed=7)  # the same Page the server holds
    threads = [len(p.comments) for p in page.posts]
    items = 1 + posts + comments
    minimum = 1 + -(-posts // 100) + sum(max(0, -(-n // 100) - 1) for n in threads)
    separate = 1 + -(-posts // 100) + sum(max(1, -(-n // 100)) for n in threads)
    window = datetime.now(UTC) - timedelta(days=30)  # the connector's default re-check window
    recent = [p for p in page.posts if p.created >= window]
    feed_pages = min(-(-posts // 100), len(recent) // 100 + 1)  # until a post older than the window shows
    # Of the posts those pages list, those created or commented on (updated_time) within the window.
    rechecked = [p for p in page.posts[:feed_pages * 100]
                 if max([p.created, *(c.created for c in p.comments)]) >= window]
    idle_minimum = 1 + feed_pages + sum(max(0, -(-len(p.comments) // 100) - 1) for p in rechecked)
    process, base, page_id = serve(posts, comments)
    figures: dict[str, float] = {"items": items, "minimum": minimum, "separate": separate,
                                 "idle_minimum": idle_minimum}
    try:
        best_floor = best_harvest = figures["floor_cpu"] = figures["harvest_cpu"] = float("inf")
        with tempfile.TemporaryDirectory() as workdir:
            for round_ in range(rounds):
                before = calls_at(process)
                seconds, floor_items, _, cpu = floor(base, page_id, Path(workdir) / f"floor-{round_}.warc.gz")
                figures["floor_cpu"] = min(figures["floor_cpu"], cpu)
                figures["floor_calls"] = calls_at(process) - before
                best_floor = min(best_floor, seconds)
                before = calls_at(process)
                seconds, harvested, status, cpu = harvest(base, page_id, Path(workdir) / f"run-{round_}", False)
                figures["harvest_cpu"] = min(figures["harvest_cpu"], cpu)
                figures["calls"] = calls_at(process) - before
                assert status == "succeeded" and harvested == items == floor_items, (status, harvested, items)
                best_harvest = min(best_harvest, seconds)
            before = calls_at(process)
            figures["idle_seconds"], figures["idle_observations"], status, _ = harvest(
                base, page_id, Path(workdir) / "run-0", False)
            figures["idle_calls"] = calls_at(process) - before
            assert status == "succeeded", status
            if media:
                figures["media_seconds"] = harvest(base, page_id, Path(workdir) / "media", True)[0]
    finally:
        process.terminate()
        process.wait(10)
    return figures | {"floor_seconds": best_floor, "harvest_seconds": best_harvest}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--comments", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    f = run(args.posts, args.comments, args.rounds)
    items, calls, minimum = f["items"], f["calls"], f["minimum"]
    print(f"{datetime.now(UTC):%Y-%m-%d} Page of {args.posts} posts, {args.comments} comments and replies "
          f"({items:.0f} items with the profile), best of {args.rounds}")
    print(f"  floor (requests + WARCWriter): {items / f['floor_seconds']:,.0f} items/s ({f['floor_seconds']:.2f} s, "
          f"{f['floor_calls']:.0f} calls)")
    print(f"  archiver harvest, media off:   {items / f['harvest_seconds']:,.0f} items/s "
          f"({f['harvest_seconds']:.2f} s); ratio {f['floor_seconds'] / f['harvest_seconds']:.2f} of the floor")
    print(f"  CPU seconds per 10,000 items (every thread of this process): floor "
          f"{f['floor_cpu'] / items * 1e4:.2f}, archiver {f['harvest_cpu'] / items * 1e4:.2f}")
    print(f"  archiver harvest, media on:    {items / f['media_seconds']:,.0f} items/s ({f['media_seconds']:.2f} s, "
          "photos fetched into the WARC)")
    print(f"  Graph API calls (counted by the fake server): {calls:.0f} = {calls / items * 1000:.2f} per 1,000 items; "
          f"minimum for limit=100: {minimum:.0f} = {minimum / items * 1000:.2f} per 1,000 "
          f"(ratio {calls / minimum:.2f}); "
          f"asking each post's comments separately would take {f['separate']:.0f} = "
          f"{f['separate'] / items * 1000:.2f} per 1,000")
    print(f"  idle re-harvest (nothing changed): {f['idle_calls']:.0f} calls in {f['idle_seconds']:.2f} s; the minimum "
          f"the API allows is {f['idle_minimum']:.0f} (the profile, the feed back to the 30-day re-check window, "
          "the further comment pages of each post created or commented on within it: Graph has no "
          "conditional request, and comment edits and "
          "hides leave no trace on the post)")


if __name__ == "__main__":
    main()
