"""The archiver against warcprox, the archiving proxy: the same feed pages, in the same run.

warcprox (https://github.com/internetarchive/warcprox) records what passes through it into WARCs.
This bench builds it a virtualenv of its own (cached, reused: ``--venv``), starts it on a free
loopback port, and fetches the synthetic feed's pages through it with plain ``requests``; the
time counts until warcprox has closed its WARCs (it writes from a queue of its own) — that is
what an archiving proxy costs, with no parsing and no index. Then the archiver harvests the same
pages on its embedded defaults (capture, redaction, parsing, index, storage). warcprox is stopped
by the bench, always.

    python bench/warcprox.py                      # 20,000 entries
    python bench/warcprox.py --entries 2000 --rounds 1
"""

from __future__ import annotations

import argparse
import gzip
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from harvest import FEED, archiver_harvest, serve  # noqa: E402

DEFAULT_VENV = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gov-social-archiver" / "warcprox-venv"


def warcprox_venv(folder: Path) -> Path:
    """The warcprox command in its own virtualenv, built the first time (pip, from PyPI)."""
    command = folder / "bin" / "warcprox"
    if not command.exists():
        print(f"building warcprox's virtualenv in {folder} (once) …", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(folder)], check=True)
        subprocess.run([str(folder / "bin" / "pip"), "install", "-q", "warcprox"], check=True)
    return command


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_warcprox(command: Path, workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(
        [str(command), "--address", "127.0.0.1", "--port", str(port), "--dir", str(workdir / "warcs"), "--gzip",
         "--cacert", str(workdir / "ca.pem"), "--certs-dir", str(workdir / "certs"),
         "--dedup-db-file", str(workdir / "dedup.sqlite"), "--stats-db-file", str(workdir / "stats.sqlite"), "-q"],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=(workdir / "warcprox.log").open("wb"), start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"warcprox exited {process.returncode}: {(workdir / 'warcprox.log').read_text()[-800:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process, port
        except OSError:
            time.sleep(0.1)
    stop(process)
    raise RuntimeError("warcprox did not start listening within 60 s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (warcprox closes its WARCs), then SIGKILL if it lingers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def through_warcprox(command: Path, base: str, pages: int, workdir: Path) -> tuple[float, int]:
    """(seconds until warcprox's WARCs are closed, response records in them)."""
    process, port = start_warcprox(command, workdir)
    try:
        session = requests.Session()
        session.trust_env = False
        session.proxies = {"http": f"http://127.0.0.1:{port}"}
        started = time.perf_counter()
        for page in range(1, pages + 1):
            response = session.get(f"{base}{FEED}" + (f"?page={page}" if page > 1 else ""), timeout=60)
            response.raise_for_status()
    finally:
        stop(process)
    seconds = time.perf_counter() - started
    records = sum(gzip.decompress(path.read_bytes()).count(b"WARC-Type: response")
                  for path in (workdir / "warcs").glob("*.warc.gz"))
    return seconds, records


def run(entries: int, page_size: int, rounds: int, venv: Path = DEFAULT_VENV) -> dict[str, float]:
    command = warcprox_venv(venv)
    pages = -(-entries // page_size)
    # warcprox refuses to fetch from 127.0.0.1 and ::1 (and has no switch for it); 127.0.0.2 is
    # loopback too, so the fake feed listens there, for both sides.
    server, base = serve(entries, page_size, host="127.0.0.2")
    proxy_times, ours_times, records, items = [], [], 0, 0
    try:
        for _ in range(rounds):
            with tempfile.TemporaryDirectory() as workdir:
                seconds, records = through_warcprox(command, base, pages, Path(workdir))
                proxy_times.append(seconds)
            with tempfile.TemporaryDirectory() as workdir:
                seconds, items, _cpu = archiver_harvest(base, Path(workdir))
                ours_times.append(seconds)
            print(f"  round: warcprox {proxy_times[-1]:.2f} s, archiver {ours_times[-1]:.2f} s", flush=True)
    finally:
        server.terminate()
        server.wait()
    return {"pages": pages, "records": records, "items": items, "warcprox_rate": entries / min(proxy_times),
            "rate": entries / min(ours_times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="warcprox's virtualenv (built if missing)")
    args = parser.parse_args()
    print(f"feed: {args.entries} entries in {-(-args.entries // args.page_size)} pages of {args.page_size}", flush=True)
    f = run(args.entries, args.page_size, args.rounds, args.venv)
    print(f"warcprox (requests through it, until its WARCs are closed): {f['warcprox_rate']:8.0f} items/s "
          f"({f['records']:.0f} response records, no parsing, no index)")
    print(f"archiver harvest (capture, parse, index, storage):          {f['rate']:8.0f} items/s "
          f"({f['items']:.0f} observations)")
    print(f"ratio archiver/warcprox: {f['rate'] / f['warcprox_rate']:.2f}")


if __name__ == "__main__":
    main()
