"""Hardening figures: peak memory under decompression bombs, and SIGTERM with a frozen store.

1. Peak RSS of ``archiver harvest`` and ``archiver reindex`` (each a child process, measured by
   the kernel for that child alone, ``os.wait4``) on the default limits, for: a plain feed (the
   baseline), a 2 MB gzip and a 2 MB deflate answer that each inflate to 2 GiB, a JPEG that is a
   gzip bomb, and a plain 400 MB video (streamed through the spool). Printed as MB and as a
   ratio to the baseline's peak.
2. With SeaweedFS frozen (SIGSTOP) while the harvest uploads, the time from SIGTERM to exit of
   ``archiver harvest`` and of ``archiver run``, on the default timeouts.

    python bench/hardening.py
    python bench/hardening.py --bomb-mib 64 --video-mb 8      # a tiny run (the suite's)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bombs import GIB, bomb  # noqa: E402
from connectors.rss.fakeserver import FakeFeed, FakeFeedServer  # noqa: E402
from seaweed import KEY_ENV, SECRET_ENV, TEST_KEY, TEST_SECRET, start_server, storage_lines  # noqa: E402

ENV = os.environ | {"PYTHONPATH": str(ROOT), KEY_ENV: TEST_KEY, SECRET_ENV: TEST_SECRET,
                    "AWS_EC2_METADATA_DISABLED": "true"}


def config(folder: Path, accounts: dict[str, str], storage: str = "") -> Path:
    path = folder / "archiver.toml"
    body = ['[archiver]\ndata_dir = "data"\n', f"[storage]\n{storage}"]
    body += [f'[[accounts]]\nname = "{name}"\nplatform = "rss"\nid = "{url}"\n' for name, url in accounts.items()]
    path.write_text("\n".join(body), encoding="utf-8")
    return path


def peak(path: Path, *args: str) -> tuple[int, float]:
    """(exit code, peak RSS in MB) of ``archiver --config PATH ARGS`` in a child process."""
    child = subprocess.Popen([sys.executable, "-m", "archiver", "--config", str(path), *args], cwd=ROOT, env=ENV,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    return os.waitstatus_to_exitcode(status), usage.ru_maxrss / 1024


def memory(server: FakeFeedServer, bomb_bytes: int = 2 * GIB, video_bytes: int = 400 * 10**6) -> None:
    gz, df = bomb(bomb_bytes, "gzip"), bomb(bomb_bytes, "deflate")
    size = f"{bomb_bytes / GIB:g} GiB"
    news = server.add_feed("/news.atom", FakeFeed.synthetic(entries=200, page_size=50))
    jpeg = next(s.name for e in news.entries for s in news.media_of(e.key, e.n) if s.name.endswith(".jpg"))
    server.add_feed("/gz.atom", FakeFeed(kind="raw", raw=gz, content_type="application/atom+xml",
                                         content_encoding="gzip"))
    server.add_feed("/df.atom", FakeFeed(kind="raw", raw=df, content_type="application/atom+xml",
                                         content_encoding="deflate"))
    server.add_feed("/plain.atom", FakeFeed.synthetic(entries=200, page_size=50, prefix="plain"))
    video = FakeFeed.synthetic(entries=25, prefix="video", video_size=video_bytes)
    server.add_feed("/video.atom", video)
    cases = {"baseline: plain feed, 200 entries": {"plain": "/plain.atom"},
             f"gzip answer -> {size}": {"gz": "/gz.atom"},
             f"deflate answer -> {size}": {"df": "/df.atom"},
             f"JPEG that is a gzip bomb ({size})": {"news": "/news.atom"},
             f"plain {video_bytes / 1e6:g} MB video, streamed": {"video": "/video.atom"}}
    server.add_media(jpeg, gz, "image/jpeg", encoding="gzip")
    print(f"{'case':38} {'harvest':>9} {'ratio':>6} {'reindex':>9} {'ratio':>6}")
    base: tuple[float, float] | None = None
    for label, accounts in cases.items():
        with tempfile.TemporaryDirectory() as folder:
            path = config(Path(folder), {name: server.url(feed) for name, feed in accounts.items()})
            started = time.perf_counter()
            code, harvested = peak(path, "harvest")
            took = time.perf_counter() - started
            _, rebuilt = peak(path, "reindex")
        base = base or (harvested, rebuilt)
        print(f"{label:38} {harvested:7.0f}MB {harvested / base[0]:5.2f}x {rebuilt:7.0f}MB {rebuilt / base[1]:5.2f}x"
              f"   (harvest exit {code}, {took:.1f} s)")


def sigterm(server: FakeFeedServer) -> None:
    feed = server.add_feed("/slow.atom", FakeFeed.synthetic(entries=400, page_size=10, prefix="slow"))
    feed.delay_seconds = 0.2
    store = start_server()
    try:
        for command in ("harvest", "run"):
            with tempfile.TemporaryDirectory() as folder:
                path = config(Path(folder), {"slow": server.url("/slow.atom")},
                              storage_lines(store, store.bucket(object_lock=True)))
                server.clear_requests()
                child = subprocess.Popen([sys.executable, "-m", "archiver", "--config", str(path), command], cwd=ROOT,
                                         env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                while len(server.requests_for("/slow.atom")) < 5:
                    time.sleep(0.05)
                assert store.process is not None
                os.kill(store.process.pid, signal.SIGSTOP)
                try:
                    child.send_signal(signal.SIGTERM)
                    asked = time.perf_counter()
                    child.wait(timeout=600)
                    took = time.perf_counter() - asked
                finally:
                    os.kill(store.process.pid, signal.SIGCONT)
                print(f"SIGTERM to exit, store frozen: archiver {command:8} {took:5.1f} s (exit {child.returncode})")
    finally:
        store.stop()


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bomb-mib", type=int, default=2048, help="what each bomb inflates to")
    parser.add_argument("--video-mb", type=int, default=400)
    args = parser.parse_args()
    with FakeFeedServer() as server:
        memory(server, args.bomb_mib * 2**20, args.video_mb * 10**6)
        sigterm(server)


if __name__ == "__main__":
    main()
