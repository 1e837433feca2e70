"""Exporting a 10,000-item case: items/s per part, PDF pages/s, and peak memory as the case grows.

Set-up (not timed): a fake Facebook Page of ~10,000 posts, comments and replies is served from
its own process and harvested on the embedded defaults (media off); a case holds every item.

- the baseline, in this process: one pass over the case's documents (each item's history and
  its thread, read from the index) with nothing written — the read every part must do;
- each part alone (csv, xlsx, jsonl, native, wacz) as a whole package — parts, custody record,
  certificate, BagIt manifests — in a child process, which reports its time and peak RSS;
- the PDF part on the first ``--pdf-items`` items, in pages/s, against its floor: WeasyPrint
  rendering the same documents' HTML directly, one after another in this process (fonts and
  stylesheet shared) — the fastest known way to the same PDFs. The package renders in worker
  processes as well as its own, so on several cores it can beat the floor (a ratio above 1);
  CPU per page (the whole process tree's) says what the parallelism costs;
- peak RSS at a quarter, half and all of the case: flat means the package streams. RSS is the
  peak of the whole process tree (the build and its PDF workers), sampled every 20 ms.

Targets: CSV/JSONL/WACZ ≥ 2,000 items/s; PDF ≥ 20 pages/s.

    python bench/export.py
    python bench/export.py --posts 200 --comments 3800 --pdf-items 100
    python bench/export.py --posts 2 --comments 12 --pdf-items 15 --parts csv --no-growth --parallel-from 1
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archiver.cases import register as cases  # noqa: E402
from archiver.config import load_config  # noqa: E402
from archiver.exports.package.builder import PackageRequest, build  # noqa: E402
from archiver.exports.package.documents import documents  # noqa: E402
from archiver.exports.package.images import captured_images  # noqa: E402
from archiver.exports.package.parts import PackageContext  # noqa: E402
from archiver.exports.package.pdf import PdfPart, compose  # noqa: E402
from archiver.exports.package.render import STYLE, VARIANT, url_fetcher  # noqa: E402
from archiver.index.db import open_index  # noqa: E402
from archiver.items import item_refs  # noqa: E402
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
        refs = item_refs(session, ids)
        named = [refs[i] for i in ids]
        for size in sizes:
            case = cases.open_case(session, cases.CaseDetails(f"SIZE-{size}"), "bench")
            cases.add_items(session, case, SearchQuery(), named[:size], "bench")
    db.dispose()


def cpu_seconds() -> float:
    """CPU time of this process and of every child it has waited for (the PDF workers, once shut down)."""
    return sum(getattr(resource.getrusage(who), field) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
               for field in ("ru_utime", "ru_stime"))


def child(config_path: Path, case: str, parts: str, out: Path) -> None:
    config = load_config(config_path)
    db = open_index(config.database_url)
    storage = open_storage(config)
    started, cpu = time.perf_counter(), cpu_seconds()
    with db.session() as session:
        result = build(session, storage, PackageRequest(case, out, tuple(parts.split(","))), agency="City of Bench",
                       storage_url=config.storage_url, by="bench")
    seconds = time.perf_counter() - started
    pdf = [p.get("pages", 0) for p in result.parts if p["part"] == "pdf"]
    print(json.dumps({"seconds": seconds, "cpu": cpu_seconds() - cpu, "documents": result.documents,
                      "pages": sum(pdf), "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


class TreeMemory:
    """Peak RSS of a process and all its descendants together, sampled until stopped."""

    def __init__(self, pid: int, every: float = 0.02):
        self.root, self.every = psutil.Process(pid), every
        self.peak = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        while not self.stop.is_set():
            total = 0
            try:
                tree = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for process in tree:
                with contextlib.suppress(psutil.NoSuchProcess):  # ended between the listing and the reading
                    total += process.memory_info().rss
            self.peak = max(self.peak, total)
            self.stop.wait(self.every)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


def run_child(config_path: Path, case: str, parts: str, out: Path,
              parallel_from: int | None = None) -> dict[str, float]:
    extra = ["--parallel-from", str(parallel_from)] if parallel_from is not None else []
    process = subprocess.Popen([sys.executable, __file__, "--child", str(config_path), case, parts, str(out), *extra],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    memory = TreeMemory(process.pid)
    try:
        stdout, stderr = process.communicate()
    finally:
        memory.close()
    if process.returncode != 0:
        raise SystemExit(f"export of {parts} failed:\n{stderr}")
    result: dict[str, float] = json.loads(stdout.strip().splitlines()[-1])
    result["tree_rss_mb"] = memory.peak / 2**20
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


def pdf_markups(config_path: Path, case_name: str) -> list[str]:
    """The HTML the PDF part renders for the case's documents (as a records request: no Bates numbers)."""
    config = load_config(config_path)
    db = open_index(config.database_url)
    with db.session() as session:
        case = cases.get_case(session, case_name)
        context = PackageContext(session=session, storage=open_storage(config), data_dir=Path(tempfile.gettempdir()),
                                 agency="City of Bench", case=cases.summary(session, case),
                                 exported_at=datetime.now(UTC), exported_by="bench",
                                 software="gov-social-archiver/bench")
        markups = [compose(context, document, None, captured_images(context, document.history))[0]
                   for document in documents(session, cases.case_item_ids(session, case))]
    db.dispose()
    return markups


def pdf_floor(markups: list[str]) -> tuple[float, float, int]:
    """WeasyPrint rendering the documents one after another in this process: seconds, CPU seconds, pages."""
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    fonts = FontConfiguration()  # loaded before the clock starts, as a worker does at its start
    style, fetcher = CSS(string=STYLE, font_config=fonts), url_fetcher()
    started, cpu, pages = time.perf_counter(), time.process_time(), 0
    for markup in markups:
        document = HTML(string=markup, url_fetcher=fetcher).render(stylesheets=[style], font_config=fonts)
        document.write_pdf(io.BytesIO(), pdf_variant=VARIANT)
        pages += len(document.pages)
    return time.perf_counter() - started, time.process_time() - cpu, pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=500)
    parser.add_argument("--comments", type=int, default=9_500)
    parser.add_argument("--pdf-items", type=int, default=300)
    parser.add_argument("--parts", default=",".join(PARTS), help="comma-separated; empty for the PDF part only")
    parser.add_argument("--no-growth", action="store_true", help="peak RSS of the whole case only (not 1/4 and 1/2)")
    parser.add_argument("--parallel-from", type=int, help="documents from which the PDF part starts workers")
    parser.add_argument("--child", nargs=4, metavar=("CONFIG", "CASE", "PARTS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.parallel_from is not None:
            PdfPart.parallel_from = args.parallel_from  # this child process's own PDF part
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
        growth = [] if args.no_growth else [sizes[0], sizes[1]]
        heading = "peak tree RSS MB at " + ("all" if args.no_growth else "1/4, 1/2, all")
        print(f"{'part':8} {'items/s':>9} {'ratio':>6} {heading:>38}")
        for part in filter(None, args.parts.split(",")):
            peaks = [run_child(config_path, f"SIZE-{size}", part, work / f"{part}-{size}")["tree_rss_mb"]
                     for size in growth]
            whole = run_child(config_path, "ALL", part, work / f"{part}-all")
            rate = whole["documents"] / whole["seconds"]
            peaks.append(whole["tree_rss_mb"])
            print(f"{part:8} {rate:9,.0f} {rate / floor:6.2f} {', '.join(f'{p:.0f}' for p in peaks):>38}")
        # The floor runs before and after the package, and counts as their mean: a machine whose load
        # drifts during the run then weighs on both sides of the ratio alike.
        markups = pdf_markups(config_path, f"SIZE-{args.pdf_items}")
        before = pdf_floor(markups)
        pdf = run_child(config_path, f"SIZE-{args.pdf_items}", "pdf", work / "pdf", args.parallel_from)
        after = pdf_floor(markups)
        seconds, cpu, pages = (before[0] + after[0]) / 2, (before[1] + after[1]) / 2, before[2]
        rate, floor_rate = pdf["pages"] / pdf["seconds"], pages / seconds
        print(f"pdf floor {floor_rate:8,.1f} pages/s (WeasyPrint on the same {pages} pages' HTML, one process; "
              f"{1000 * cpu / pages:.0f} ms CPU a page; {pages / before[0]:.1f} before the package, "
              f"{pages / after[0]:.1f} after)")
        print(f"pdf      {rate:9,.1f} pages/s, x{rate / floor_rate:.2f} the floor ({pdf['documents']:.0f} documents, "
              f"{pdf['pages']:.0f} pages; {1000 * pdf['cpu'] / pdf['pages']:.0f} ms CPU a page in the tree; "
              f"peak RSS {pdf['tree_rss_mb']:.0f} MB for the tree, {pdf['rss_mb']:.0f} MB for the build alone)")


if __name__ == "__main__":
    main()
