"""Harvest throughput and memory against the floor of plain ``requests`` + warcio.

A synthetic Atom feed of N entries (RFC 5005 pages) is served by the fake platform in its own
process. In this process, and alternating so both see the same machine state:

- the floor: a plain loop of ``requests`` GETs over the same pages, each written with warcio's
  ``WARCWriter`` (no parsing, no index, no storage);
- the archiver: a full harvest (capture, redaction, feed parsing, staging, sealing, storage,
  index) on the embedded defaults (SQLite, local folder), media off (the floor fetches none).

Then, each in a fresh child process, a harvest of growing feeds reports its peak RSS, to show
that memory stays flat as the feed grows (progress lines as it goes: items, seconds, RSS now).

    python bench/harvest.py                     # 100,000 entries; memory at 10k, 100k and 1M
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


def serve(entries: int, page_size: int, host: str = "127.0.0.1") -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "connectors.rss.fakeserver", "--port", "0", "--entries", str(entries),
         "--page-size", str(page_size), "--host", host],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, env=os.environ | {"PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    base = process.stdout.readline().strip()
    return process, base


def floor(base: str, pages: int, out: Path) -> tuple[float, float]:
    """Plain requests + WARCWriter over the same pages: the least any harvester must do.
    (wall seconds, CPU seconds of this process)"""
    session = requests.Session()
    session.trust_env = False
    start, cpu = time.perf_counter(), time.process_time()
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
    return time.perf_counter() - start, time.process_time() - cpu


def parser_only(base: str, pages: int) -> float:
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


def rss_now_mb() -> float:
    """Resident memory of this process now (Linux), in MB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def archiver_harvest(base: str, workdir: Path, every: int = 0) -> tuple[float, int, float]:
    """(wall seconds, observations, CPU seconds of this process: every thread) of one harvest."""
    config_path = workdir / "archiver.toml"
    config_path.write_text(
        '[capture]\nmedia = false\n[[accounts]]\nname = "bench"\nplatform = "rss"\n'
        f'id = "{base}{FEED}"\nschedule = "1h"\n'
    )
    config = load_config(config_path)
    db = open_index(config.database_url)
    storage = open_storage(config)
    start, cpu = time.perf_counter(), time.process_time()
    seen = [0, every]

    def progress(_account: str, page: object) -> None:
        seen[0] += len(page.observations)  # type: ignore[attr-defined]
        if every and seen[0] >= seen[1]:
            seen[1] += every
            print(f"    … {seen[0]:>9,} items  {time.perf_counter() - start:7.1f} s  RSS {rss_now_mb():5.0f} MB",
                  file=sys.stderr, flush=True)

    outcome = HarvestRunner(config, db, storage, on_page=progress).run(config.accounts[0])
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    db.dispose()
    assert outcome.ok, outcome.error
    return seconds, outcome.observations, cpu


def child(entries: int, page_size: int) -> None:
    """One harvest in a fresh process; prints its peak RSS."""
    server, base = serve(entries, page_size)
    try:
        with tempfile.TemporaryDirectory() as workdir:
            seconds, items, _ = archiver_harvest(base, Path(workdir), every=max(1000, entries // 10))
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
    parser.add_argument("--sizes", default="10000,100000,1000000", help="feed sizes for the memory curve")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.page_size)
        return
    run(args.entries, args.page_size, args.rounds)
    print("peak RSS of a harvest in a fresh process, by feed size:", flush=True)
    for size in [int(s) for s in args.sizes.split(",")]:
        row = memory_at(size, args.page_size)
        print(f"  {row['entries']:>8} entries: {row['peak_rss_mb']:6.0f} MB peak RSS, "
              f"{row['entries'] / row['seconds']:8.0f} items/s  (target <= 200 MB, flat)", flush=True)


def run(entries: int, page_size: int, rounds: int) -> dict[str, float]:
    """Throughput side by side with the floor, printed as each step ends; the figures."""
    pages = -(-entries // page_size)
    server, base = serve(entries, page_size)
    floor_times, ours_times, floor_cpu, ours_cpu, items = [], [], [], [], 0
    print(f"feed: {entries} entries in {pages} pages of {page_size}", flush=True)
    try:
        parse_seconds = parser_only(base, pages)
        print(f"feed parsing alone:                   {entries / parse_seconds:10.0f} items/s", flush=True)
        for round_ in range(rounds):
            with tempfile.TemporaryDirectory() as workdir:
                wall, cpu = floor(base, pages, Path(workdir))
                floor_times.append(wall)
                floor_cpu.append(cpu)
            with tempfile.TemporaryDirectory() as workdir:
                seconds, items, cpu = archiver_harvest(base, Path(workdir))
                ours_times.append(seconds)
                ours_cpu.append(cpu)
            print(f"  round {round_ + 1}: floor {floor_times[-1]:.2f} s, archiver {ours_times[-1]:.2f} s", flush=True)
    finally:
        server.terminate()
        server.wait()
    floor_rate = entries / min(floor_times)
    ours_rate = entries / min(ours_times)
    print(f"floor (requests + warcio WARCWriter): {floor_rate:10.0f} items/s  (best of {rounds})")
    print(f"archiver harvest (full pipeline):     {ours_rate:10.0f} items/s  ({items} observations)")
    print(f"ratio archiver/floor: {ours_rate / floor_rate:.2f}  (target >= 0.5)")
    print(f"CPU seconds per 10,000 items (every thread of this process): floor {min(floor_cpu) / entries * 1e4:.2f}, "
          f"archiver {min(ours_cpu) / entries * 1e4:.2f}")
    rest = max(min(ours_times) - parse_seconds, 1e-9)
    print(f"parsing = {parse_seconds / min(ours_times):.0%} of the harvest's time; the archiver without parsing: "
          f"{entries / rest:.0f} items/s (ratio to floor {entries / rest / floor_rate:.2f})", flush=True)
    return {"floor_rate": floor_rate, "rate": ours_rate, "items": items, "parse_seconds": parse_seconds}


def memory_at(entries: int, page_size: int) -> dict[str, float]:
    """One harvest of ``entries`` in a fresh process: its figures (progress goes to stderr as it runs)."""
    result = subprocess.run([sys.executable, __file__, "--child", str(entries), "--page-size", str(page_size)],
                            stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
