"""Exporting a 10,000-item case: items/s per part, PDF pages/s, and peak memory as the case grows.

Set-up (not timed): a fake Facebook Page of ~10,000 posts, comments and replies is served from
its own process and harvested on the embedded defaults (media off); a case holds every item.

- the baseline, in this process: one pass over the case's documents (each item's history and
  its thread, read from the index) with nothing written — the read every part must do;
- each part alone (csv, xlsx, jsonl, native, wacz) as a whole package — parts, custody record,
  certificate, BagIt manifests — in a child process, which reports its time and peak RSS;
- the PDF part on the first ``--pdf-items`` items, in pages/s;
- peak RSS at a quarter, half and all of the case: flat means the package streams.

Targets: CSV/JSONL/WACZ ≥ 2,000 items/s; PDF ≥ 20 pages/s.

    python bench/export.py
    python bench/export.py --posts 200 --comments 3800 --pdf-items 100
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archiver.cases import register as cases  # noqa: E402
from archiver.config import load_config  # noqa: E402
from archiver.exports.package.builder import PackageRequest, build  # noqa: E402
from archiver.exports.package.documents import documents  # noqa: E402
from archiver.index.db import open_index  # noqa: E402
from archiver.search import SearchQuery  # noqa: E402
from storage import open_storage  # noqa: E402

TOKEN = "bench-page-token-5f9b"  # a throwaway for the local fake only
PARTS = ("csv", "jsonl", "wacz", "native", "xlsx")


def prepare(workdir: Path, posts: int, comments: int) -> Path:
    server = subprocess.Popen([sys.executable, "-m", "connectors.facebook.fakepage", "--posts", str(posts),
                               "--comments", str(comments), "--token", TOKEN], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True, env=os.environ | {"PYTHONPATH": str(ROOT)})
    assert server.stdout is not None
    base, page_id = server.stdout.readline().split()
    config_path = workdir / "archiver.toml"
    config_path.write_text(f'[archiver]\ndata_dir = "data"\nagency = "City of Bench"\n[capture]\nmedia = false\n'
                           f'[[accounts]]\nname = "city-fb"\nplatform = "facebook"\nid = "{page_id}"\n'
                           f'token_env = "BENCH_PAGE_TOKEN"\nbase_url = "{base}"\n')
    try:
        subprocess.run([sys.executable, "-m", "archiver", "--config", str(config_path), "harvest"], check=True,
                       cwd=ROOT, env=os.environ | {"BENCH_PAGE_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)},
                       stdout=subprocess.DEVNULL)
    finally:
        server.terminate()
        server.wait()
    return config_path


def open_cases(config_path: Path, sizes: list[int]) -> None:
    """Case ALL with every item, and SIZE-n cases with the first n items."""
    db = open_index(load_config(config_path).database_url)
    with db.session() as session:
        everything = cases.open_case(session, cases.CaseDetails("ALL"), "bench")
        cases.add_items(session, everything, SearchQuery(platforms=("facebook",)), [], "bench")
        ids = cases.case_item_ids(session, everything)
        for size in sizes:
            case = cases.open_case(session, cases.CaseDetails(f"SIZE-{size}"), "bench")
            cases.add_items(session, case, SearchQuery(), ids[:size], "bench")
    db.dispose()


def child(config_path: Path, case: str, parts: str, out: Path) -> None:
    config = load_config(config_path)
    db = open_index(config.database_url)
    storage = open_storage(config)
    started = time.perf_counter()
    with db.session() as session:
        result = build(session, storage, PackageRequest(case, out, tuple(parts.split(","))), agency="City of Bench",
                       storage_url=config.storage_url, by="bench")
    seconds = time.perf_counter() - started
    pages = sum(p.get("pages", 0) for p in result.parts)
    print(json.dumps({"seconds": seconds, "documents": result.documents, "pages": pages,
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def run_child(config_path: Path, case: str, parts: str, out: Path) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, "--child", str(config_path), case, parts, str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"export of {parts} failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def baseline(config_path: Path) -> tuple[float, int]:
    db = open_index(load_config(config_path).database_url)
    with db.session() as session:
        ids = cases.case_item_ids(session, cases.get_case(session, "ALL"))
        started = time.perf_counter()
        count = sum(1 for _ in documents(session, ids))
        seconds = time.perf_counter() - started
    db.dispose()
    return seconds, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=500)
    parser.add_argument("--comments", type=int, default=9_500)
    parser.add_argument("--pdf-items", type=int, default=300)
    parser.add_argument("--parts", default=",".join(PARTS))
    parser.add_argument("--child", nargs=4, metavar=("CONFIG", "CASE", "PARTS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        config, case, parts, out = args.child
        child(Path(config), case, parts, Path(out))
        return
    with tempfile.TemporaryDirectory(prefix="bench-export-") as scratch:
        work = Path(scratch)
        started = time.perf_counter()
        config_path = prepare(work, args.posts, args.comments)
        total = args.posts + args.comments + 1
        sizes = [total // 4, total // 2, args.pdf_items]
        open_cases(config_path, sizes)
        print(f"set-up: harvested {total} items in {time.perf_counter() - started:.1f} s")
        seconds, count = baseline(config_path)
        floor = count / seconds
        print(f"baseline: documents read from the index, nothing written: {floor:,.0f} items/s ({count} items)")
        print(f"{'part':8} {'items/s':>9} {'ratio':>6} {'peak RSS MB at 1/4, 1/2, all':>32}")
        for part in args.parts.split(","):
            peaks = []
            for size in (sizes[0], sizes[1]):
                peaks.append(run_child(config_path, f"SIZE-{size}", part, work / f"{part}-{size}")["rss_mb"])
            whole = run_child(config_path, "ALL", part, work / f"{part}-all")
            rate = whole["documents"] / whole["seconds"]
            peaks.append(whole["rss_mb"])
            print(f"{part:8} {rate:9,.0f} {rate / floor:6.2f} {', '.join(f'{p:.0f}' for p in peaks):>32}")
        pdf = run_child(config_path, f"SIZE-{args.pdf_items}", "pdf", work / "pdf")
        print(f"pdf      {pdf['pages'] / pdf['seconds']:9,.1f} pages/s ({pdf['documents']:.0f} documents, "
              f"{pdf['pages']:.0f} pages, peak RSS {pdf['rss_mb']:.0f} MB)")


if __name__ == "__main__":
    main()
