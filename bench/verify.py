"""``archiver verify`` speed, as ratios against floors measured in the same run, on the same bytes.

- object check (the default) against reading the same objects and hashing them with SHA-256,
  the fastest way to the same answer (``hashlib.file_digest`` on the local folder; the plain
  S3 GET stream on SeaweedFS), with the same number of objects at once;
- record check (``--records``) against gunzip + SHA-256 of the inflated bytes of the same
  objects, likewise: with ISA-L (the faster of its gzip reader and a bare member loop), the
  fastest known and the inflater the record check uses, and with zlib, the ``gunzip`` tool's.
  The record check hashes three times what the floor hashes once (the stored bytes, each
  record's block, each HTTP record's payload), so its ratio has a ceiling below 1; a third
  figure compares it with that same hashing and inflation done bare (no record parsing).

The WARCs are written once by the archiver's own writer (API pages of JSON with their requests;
images and videos, most of the bytes) and cached under ``$XDG_CACHE_HOME``; each run indexes them
afresh. Every figure is the best of ``--rounds`` runs, the floors interleaved; each
ratio is given by the clock and by the CPU time this process spent (the work itself, steadier on a
machine other jobs share).

    python bench/verify.py                      # 300 MB in 8 WARCs, local folder and SeaweedFS S3
    python bench/verify.py --mb 20 --no-s3
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import boto3  # noqa: E402
from botocore.config import Config as BotoConfig  # noqa: E402
from isal import igzip, isal_zlib  # noqa: E402
from warcio.statusandheaders import StatusAndHeaders  # noqa: E402

from archiver.capture.warc import WarcFileWriter, warc_date  # noqa: E402
from archiver.index.db import IndexDB, open_index  # noqa: E402
from archiver.index.models import Account, Evidence, WarcFile  # noqa: E402
from archiver.retention.fixity import WORKERS, choose, verify  # noqa: E402
from conftest import Workspace  # noqa: E402
from seaweed import KEY_ENV, SECRET_ENV, TEST_KEY, TEST_SECRET, SeaweedServer, storage_lines  # noqa: E402
from storage import open_storage  # noqa: E402
from storage.base import CHUNK, Storage  # noqa: E402

Opener = Callable[[str], BinaryIO]
START = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
WORDS = [f"{a}{b}" for a in ("re", "con", "pub", "park", "coun", "wa", "sto", "li", "tra", "bu")
         for b in ("ad", "cil", "ter", "lic", "ing", "mit", "ble", "ry", "ffic", "dget", "nor", "sed")]


def page(rng: random.Random, number: int) -> bytes:
    """A Graph-API-like page of posts: ids, times, URLs and words, compressing like real pages (~4x)."""
    posts = []
    for index in range(rng.randint(15, 60)):
        post_id = f"1740000000{number:06d}_{rng.randrange(10**15)}"
        words = " ".join(rng.choices(WORDS, k=rng.randint(10, 120))) + f" {rng.randrange(10**9):x}"
        posts.append({"id": post_id, "message": words, "created_time": warc_date(START + timedelta(minutes=index)),
                      "permalink_url": f"https://www.facebook.com/city/posts/{post_id}",
                      "reactions": {"summary": {"total_count": rng.randint(0, 5000)}},
                      "comments": {"data": [{"id": f"{post_id}_{rng.randrange(10**9)}", "message": " ".join(
                          rng.choices(WORDS, k=rng.randint(3, 30)))} for _ in range(rng.randint(0, 6))]}})
    return json.dumps({"data": posts, "paging": {"cursors": {"after": f"{rng.randrange(10**20):x}"}}}).encode()


def media(rng: random.Random) -> tuple[bytes, str]:
    """An image or, one time in eight, a video: bytes that do not compress."""
    if rng.random() < 0.125:
        return rng.randbytes(rng.randint(2 << 20, 8 << 20)), "video/mp4"
    return rng.randbytes(rng.randint(60 << 10, 600 << 10)), "image/jpeg"


def exchange(warc: WarcFileWriter, uri: str, body: bytes, content_type: str, moment: datetime) -> dict[str, Any]:
    http = StatusAndHeaders("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))],
                            protocol="HTTP/1.1")
    response = warc.write(warc.make_record(uri, "response", body, http_headers=http,
                                           warc_headers={"WARC-Date": warc_date(moment)}))
    request = warc.write(warc.make_record(uri, "request", b"", http_headers=StatusAndHeaders(
        f"GET {uri} HTTP/1.1", [("Host", "graph.example")], is_http_request=True),
        warc_headers={"WARC-Date": warc_date(moment), "WARC-Concurrent-To": response.record_id}))
    return {"record_id": response.record_id, "offset": response.offset, "length": response.length, "uri": uri,
            "block_digest": response.block_digest, "request_id": request.record_id,
            "request_offset": request.offset, "request_length": request.length, "date": warc_date(moment)}


def generate(folder: Path, total_mb: int, objects: int) -> list[dict[str, Any]]:
    """The cached WARCs under ``folder`` (written if missing), with what the index needs of each."""
    manifest = folder / "manifest.json"
    if manifest.exists():
        return list(json.loads(manifest.read_text()))
    rng, files = random.Random(12), []
    for number in range(objects):
        key = f"facebook/city-fb/2026/11/facebook-city-fb-bench-{number:04d}.warc.gz"
        path = folder / key
        path.parent.mkdir(parents=True, exist_ok=True)
        moment, evidence, inflated = START + timedelta(days=number), [], 0
        with WarcFileWriter(path) as warc:
            warc.write_warcinfo({"software": "gov-social-archiver bench"}, moment)
            while warc.size < total_mb * 1e6 / objects:
                moment += timedelta(seconds=1)
                if rng.random() < 0.12:
                    body, kind = media(rng)
                    uri = f"https://scontent.example/v/{rng.randrange(10**12)}"
                else:
                    body, kind = page(rng, len(evidence)), "application/json"
                    uri = f"https://graph.example/v19.0/city/feed?after={len(evidence)}"
                evidence.append(exchange(warc, uri, body, kind, moment))
                inflated += len(body)
        data = path.read_bytes()
        files.append({"key": key, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                      "inflated": inflated, "evidence": evidence})
        print(f"  wrote {key}: {len(data) / 1e6:.1f} MB, {len(evidence)} exchanges", flush=True)
    manifest.write_text(json.dumps(files))
    return files


def index(db: IndexDB, files: list[dict[str, Any]]) -> None:
    with db.session() as session:
        account = Account(name="city-fb", platform="facebook", platform_account_id="city", created_at=START)
        session.add(account)
        session.flush()
        for entry in files:
            warc = WarcFile(key=entry["key"], account_id=account.id, month="2026/11", size=entry["size"],
                            sha256=entry["sha256"], state="stored", stored_at=START)
            session.add(warc)
            session.flush()
            session.add_all(Evidence(
                warc_file_id=warc.id, record_id=e["record_id"], record_type="response", offset=e["offset"],
                length=e["length"], target_uri=e["uri"], status=200,
                captured_at=datetime.fromisoformat(e["date"].replace("Z", "+00:00")),
                block_digest=e["block_digest"], request_record_id=e["request_id"],
                request_offset=e["request_offset"], request_length=e["request_length"]) for e in entry["evidence"])


def sha256_floor(opener: Opener, key: str) -> int:
    with opener(key) as stream:
        if hasattr(stream, "readinto"):
            return len(hashlib.file_digest(stream, "sha256").hexdigest())
        digest = hashlib.sha256()
        while block := stream.read(CHUNK):
            digest.update(block)
        return len(digest.hexdigest())


def gunzip_reader(opener: Opener, key: str) -> int:
    """gunzip with ISA-L's gzip reader (multi-member, CRC-checked), SHA-256 of what comes out."""
    digest = hashlib.sha256()
    with opener(key) as stream, igzip.IGzipFile(fileobj=stream) as inflated:
        while block := inflated.read(CHUNK):
            digest.update(block)
    return len(digest.hexdigest())


def gunzip_members(inflater: Any, hashes: int = 1) -> Callable[[Opener, str], int]:
    """gunzip member by member with a bare ``inflater`` module (ISA-L's or zlib), fed in slices so
    that short members stay cheap, and SHA-256 of what comes out; with ``hashes`` = 3, the record
    check's own hashing done bare (the stored bytes once, what comes out twice), without its parsing."""
    def run(opener: Opener, key: str) -> int:
        digest, member = hashlib.sha256(), inflater.decompressobj(zlib.MAX_WBITS | 16)
        stored, again = hashlib.sha256(), hashlib.sha256()
        with opener(key) as stream:
            while chunk := stream.read(CHUNK):
                if hashes == 3:
                    stored.update(chunk)
                view, position = memoryview(chunk), 0
                while position < len(chunk):
                    piece = view[position:position + 32768]
                    inflated = member.decompress(piece)
                    digest.update(inflated)
                    if hashes == 3:
                        again.update(inflated)
                    if member.eof:
                        position += len(piece) - len(member.unused_data)
                        member = inflater.decompressobj(zlib.MAX_WBITS | 16)
                    else:
                        position += len(piece)
        return len(digest.hexdigest())
    return run


def plain_get(seaweed: SeaweedServer, url: str) -> Opener:
    """Objects as a bare boto3 GET streams them: no checksum of boto3's own, no time limits of the archiver's."""
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    client = boto3.session.Session().client(
        "s3", endpoint_url=seaweed.endpoint_url, region_name="us-east-1", aws_access_key_id=TEST_KEY,
        aws_secret_access_key=TEST_SECRET, config=BotoConfig(s3={"addressing_style": "path"},
                                                             response_checksum_validation="when_required"))
    return lambda key: client.get_object(Bucket=bucket, Key=f"{prefix.strip('/')}/{key}")["Body"]


def timed(work: Callable[[], Any]) -> tuple[float, float]:
    """(wall-clock seconds, CPU seconds of this process) of ``work()``."""
    start, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - start, time.process_time() - cpu


def over_all(opener: Opener, keys: list[str], one: Callable[[Opener, str], int], workers: int) -> Callable[[], Any]:
    def run() -> None:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda key: one(opener, key), keys))
    return run


def bench(label: str, db: IndexDB, storage: Storage, opener: Opener, files: list[dict[str, Any]], workers: int,
          rounds: int) -> None:
    """Print the checks' figures against the floors, which read the same objects through ``opener``."""
    keys, stored = [f["key"] for f in files], sum(f["size"] for f in files) / 1e6
    chosen = choose(db)
    best: dict[str, float] = {}
    best_cpu: dict[str, float] = {}  # on a shared machine, the work itself: steadier than the clock

    def run(name: str, work: Callable[[], Any]) -> None:
        wall, cpu = timed(work)
        best[name] = min(best.get(name, float("inf")), wall)
        best_cpu[name] = min(best_cpu.get(name, float("inf")), cpu)

    def check(records: bool, count: int) -> Callable[[], Any]:
        def work() -> None:
            report = verify(db, storage, chosen, "bench", records=records, workers=count)
            assert report.ok and report.objects == len(files), report.mismatches[:3]
        return work

    over_all(opener, keys, sha256_floor, workers)()  # warm the page cache
    for _ in range(rounds):
        run("sha256", over_all(opener, keys, sha256_floor, workers))
        run("object", check(False, workers))
        run("sha256 serial", over_all(opener, keys, sha256_floor, 1))
        run("object serial", check(False, 1))
        run("gunzip", over_all(opener, keys, gunzip_members(isal_zlib), workers))
        run("gunzip", over_all(opener, keys, gunzip_reader, workers))
        run("gunzip zlib", over_all(opener, keys, gunzip_members(zlib), workers))
        run("bare", over_all(opener, keys, gunzip_members(isal_zlib, hashes=3), workers))
        run("records", check(True, workers))
        run("gunzip serial", over_all(opener, keys, gunzip_members(isal_zlib), 1))
        run("gunzip serial", over_all(opener, keys, gunzip_reader, 1))
        run("gunzip zlib serial", over_all(opener, keys, gunzip_members(zlib), 1))
        run("bare serial", over_all(opener, keys, gunzip_members(isal_zlib, hashes=3), 1))
        run("records serial", check(True, 1))
    rate = {name: stored / seconds for name, seconds in best.items()}

    def against(check_name: str, floor: str) -> str:
        return (f"{rate[floor]:.0f} MB/s = x{best[floor] / best[check_name]:.2f} "
                f"(CPU x{best_cpu[floor] / best_cpu[check_name]:.2f})")

    for at_once, suffix in ((f"{workers} at once", ""), ("one at a time", " serial")):
        print(f"verify [{label}] {at_once}: object check {rate['object' + suffix]:.0f} MB/s vs sha256 "
              f"{against('object' + suffix, 'sha256' + suffix)} the floor; record check "
              f"{rate['records' + suffix]:.0f} MB/s vs gunzip+sha256 with ISA-L (the fastest) "
              f"{against('records' + suffix, 'gunzip' + suffix)}, with zlib (as the gunzip tool) "
              f"{against('records' + suffix, 'gunzip zlib' + suffix)}; vs its own hashing and inflation "
              f"done bare {against('records' + suffix, 'bare' + suffix)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=300, help="stored WARC bytes in all, in MB")
    parser.add_argument("--objects", type=int, default=8, help="WARC files")
    parser.add_argument("--workers", type=int, default=WORKERS)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-s3", action="store_true")
    args = parser.parse_args()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gov-social-archiver"
    folder = cache / f"verify-{args.mb}mb-{args.objects}"
    files = generate(folder, args.mb, args.objects)
    stored, inflated = sum(f["size"] for f in files), sum(f["inflated"] for f in files)
    print(f"verify bench: {len(files)} WARCs, {stored / 1e6:.1f} MB stored, {inflated / 1e6:.1f} MB of payloads "
          f"({sum(len(f['evidence']) for f in files)} exchanges), best of {args.rounds}", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        workspace = Workspace(Path(scratch) / "local")
        workspace.root.mkdir()
        workspace.storage_lines = f'url = "file://{folder}"\n'
        workspace.write()
        db = open_index(workspace.config.database_url)
        index(db, files)
        local = open_storage(workspace.config)
        bench("local folder", db, local, local.open, files, args.workers, args.rounds)
        db.dispose()
        if args.no_s3:
            return
        os.environ |= {KEY_ENV: TEST_KEY, SECRET_ENV: TEST_SECRET}
        with SeaweedServer() as seaweed:
            remote = Workspace(Path(scratch) / "s3")
            remote.root.mkdir()
            remote.storage_lines = storage_lines(seaweed, seaweed.bucket(object_lock=False))
            remote.write()
            storage = open_storage(remote.config)
            for entry in files:
                storage.put(entry["key"], folder / entry["key"], entry["sha256"])
            db = open_index(remote.config.database_url)
            index(db, files)
            bench("SeaweedFS S3", db, storage, plain_get(seaweed, remote.config.storage_url), files, args.workers,
                  args.rounds)
            db.dispose()


if __name__ == "__main__":
    main()
