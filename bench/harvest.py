"""Harvest throughput and memory against the floor of plain ``requests`` + warcio.

A synthetic Atom feed of N entries (RFC 5005 pages) is served by the fake platform in its own
process. In this process, and alternating so both see the same machine state:

- the floor: a plain loop of ``requests`` GETs over the same pages, each written with warcio's
  ``WARCWriter`` (no parsing, no index, no storage);
- the archiver: a full harvest (capture, redaction, feed parsing, staging, sealing, storage,
  index) on the embedded defaults (SQLite, local folder), media off (the floor fetches none).

Then, each in a fresh child process, a harvest of growing feeds reports its peak RSS, to show
that memory stays flat as the feed grows.

    python bench/harvest.py                     # 100,000 entries
    python bench/harvest.py --entries 20000 --rounds 1 --sizes 5000,10000,20000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import requests
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archiver.config import load_config  # noqa: E402
from archiver.harvest import HarvestRunner  # noqa: E402
from archiver.index.db import open_index  # noqa: E402
from connectors.base import CapturedResponse, Headers  # noqa: E402
from connectors.rss.parser import parse_feed  # noqa: E402
from storage import open_storage  # noqa: E402

FEED = "/feeds/city.atom"


def serve(entries: int, page_size: int) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "connectors.rss.fakeserver", "--port", "0", "--entries", str(entries),
         "--page-size", str(page_size)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, env=os.environ | {"PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    base = process.stdout.readline().strip()
    return process, base


def floor(base: str, pages: int, out: Path) -> float:
    """Plain requests + WARCWriter over the same pages: the least any harvester must do."""
    session = requests.Session()
    session.trust_env = False
    start = time.perf_counter()
    with (out / "floor.warc.gz").open("wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        for page in range(1, pages + 1):
            url = f"{base}{FEED}" + (f"?page={page}" if page > 1 else "")
            response = session.get(url, stream=True)
            body = response.raw.read(decode_content=False)
            headers = StatusAndHeaders(f"{response.status_code} {response.reason}", list(response.raw.headers.items()),
                                       protocol="HTTP/1.1")
            import io

            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                                          length=len(body), http_headers=headers))
    return time.perf_counter() - start


def feedparser_only(base: str, pages: int) -> float:
    """The connector's parser alone over the same pages (fetched beforehand): the parsing floor."""
    session = requests.Session()
    session.trust_env = False
    bodies = [session.get(f"{base}{FEED}" + (f"?page={page}" if page > 1 else "")).content
              for page in range(1, pages + 1)]
    start = time.perf_counter()
    for body in bodies:
        parse_feed(CapturedResponse(f"{base}{FEED}", 200, Headers([("Content-Type", "application/atom+xml")]), body,
                                    datetime.now(UTC)))
    return time.perf_counter() - start


def archiver_harvest(base: str, workdir: Path) -> tuple[float, int]:
    config_path = workdir / "archiver.toml"
    config_path.write_text(
        '[capture]\nmedia = false\n[[accounts]]\nname = "bench"\nplatform = "rss"\n'
        f'id = "{base}{FEED}"\nschedule = "1h"\n'
    )
    config = load_config(config_path)
    db = open_index(config.database_url)
    storage = open_storage(config)
    start = time.perf_counter()
    outcome = HarvestRunner(config, db, storage).run(config.accounts[0])
    seconds = time.perf_counter() - start
    db.dispose()
    assert outcome.ok, outcome.error
    return seconds, outcome.observations


def child(entries: int, page_size: int) -> None:
    """One harvest in a fresh process; prints its peak RSS."""
    server, base = serve(entries, page_size)
    try:
        with tempfile.TemporaryDirectory() as workdir:
            seconds, items = archiver_harvest(base, Path(workdir))
    finally:
        server.terminate()
        server.wait()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"entries": entries, "items": items, "seconds": seconds, "peak_rss_mb": peak_mb}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sizes", default="25000,50000,100000", help="feed sizes for the memory curve")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.page_size)
        return
    pages = -(-args.entries // args.page_size)
    server, base = serve(args.entries, args.page_size)
    floor_times, ours_times, items = [], [], 0
    try:
        parse_seconds = feedparser_only(base, pages)
        for _ in range(args.rounds):
            with tempfile.TemporaryDirectory() as workdir:
                floor_times.append(floor(base, pages, Path(workdir)))
            with tempfile.TemporaryDirectory() as workdir:
                seconds, items = archiver_harvest(base, Path(workdir))
                ours_times.append(seconds)
    finally:
        server.terminate()
        server.wait()
    floor_rate = args.entries / min(floor_times)
    ours_rate = args.entries / min(ours_times)
    print(f"feed: {args.entries} entries in {pages} pages of {args.page_size}")
    print(f"floor (requests + warcio WARCWriter): {floor_rate:10.0f} items/s  (best of {args.rounds})")
    print(f"archiver harvest (full pipeline):     {ours_rate:10.0f} items/s  ({items} observations)")
    print(f"ratio archiver/floor: {ours_rate / floor_rate:.2f}  (target >= 0.8)")
    parse_rate = args.entries / parse_seconds
    rest = min(ours_times) - parse_seconds
    print(f"feed parsing alone (feedparser):      {parse_rate:10.0f} items/s  = {parse_seconds / min(ours_times):.0%} "
          "of the harvest's time")
    print(f"archiver without parsing:             {args.entries / rest:10.0f} items/s  "
          f"(ratio to floor {args.entries / rest / floor_rate:.2f})")
    print("peak RSS of a harvest in a fresh process, by feed size:")
    for size in [int(s) for s in args.sizes.split(",")]:
        result = subprocess.run([sys.executable, __file__, "--child", str(size), "--page-size", str(args.page_size)],
                                capture_output=True, text=True, check=True)
        row = json.loads(result.stdout.strip().splitlines()[-1])
        print(f"  {row['entries']:>8} entries: {row['peak_rss_mb']:6.0f} MB peak RSS, "
              f"{row['entries'] / row['seconds']:8.0f} items/s  (target <= 200 MB, flat)")


if __name__ == "__main__":
    main()
