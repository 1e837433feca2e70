"""Fixity and disposition speed, as ratios against a baseline measured in the same process.

- verify: ``archiver verify --records`` (SHA-256 of the object, inflation of every gzip member,
  block and payload digests of every record, index comparison) against the floor of reading the
  same objects and hashing them with SHA-256 only; on the local folder and on SeaweedFS (S3).
  ``bench/verify.py`` measures both depths of ``verify`` at size, against tighter floors.
- disposition: ``retention plan`` + ``apply`` of about half of an archive against ``reindex``
  of the same archive (reading and indexing every WARC).

    python bench/retention.py                         # 4,000 entries with media
    python bench/retention.py --entries 1000 --no-s3
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from archiver.retention.fixity import choose, verify  # noqa: E402
from conftest import Workspace  # noqa: E402
from connectors.rss.fakefeed import BASE_TIME, STEP, FakeFeed  # noqa: E402
from connectors.rss.fakeserver import FakeFeedServer  # noqa: E402
from seaweed import KEY_ENV, SECRET_ENV, SeaweedServer, storage_lines  # noqa: E402
from storage import open_storage  # noqa: E402

SERIES = """
[[retention.series]]
code = "NEWS"
title = "News"
keep = "1y"
trigger = "posted"
"""


def build(root: Path, server: FakeFeedServer, entries: int, storage: str = "") -> Workspace:
    feed = server.add_feed(f"/{root.name}.atom", FakeFeed.synthetic(entries=entries, page_size=100,
                                                                     video_size=256 * 1024, prefix=root.name))
    root.mkdir(parents=True, exist_ok=True)
    workspace = Workspace(root)
    workspace.storage_lines = storage
    workspace.capture["warc_max_bytes"] = "2MB"  # many files, so whole deletes and rewrites both happen
    workspace.account("news", server.url(f"/{root.name}.atom"), retention="NEWS")
    workspace.write(SERIES)
    assert workspace.cli("harvest").code == 0
    feed.edit(0, title="edited")
    assert workspace.cli("harvest").code == 0
    return workspace


def floor(workspace: Workspace) -> tuple[int, float]:
    storage = open_storage(workspace.config)
    start, size = time.perf_counter(), 0
    for info in storage.list():
        with storage.open(info.key) as stream:
            digest = hashlib.sha256()
            while block := stream.read(1 << 20):
                digest.update(block)
                size += len(block)
    return size, time.perf_counter() - start


def bench_verify(label: str, workspace: Workspace) -> None:
    from archiver.index.db import open_index

    db = open_index(workspace.config.database_url)
    storage = open_storage(workspace.config)
    size, base = floor(workspace)
    report = verify(db, storage, choose(db), "bench", records=True)
    assert report.ok, report.mismatches
    db.dispose()
    print(f"verify [{label}]: {report.objects} WARCs, {size / 1e6:.1f} MB: floor {size / 1e6 / base:.1f} MB/s, "
          f"verify {report.bytes / 1e6 / report.seconds:.1f} MB/s (x{report.seconds / base:.2f} the floor)")


def bench_disposition(workspace: Workspace, entries: int) -> None:
    as_of = (BASE_TIME + timedelta(days=365) + STEP * (entries // 2)).isoformat()
    start = time.perf_counter()
    assert workspace.cli("reindex").code == 0
    reindexed = time.perf_counter() - start
    start = time.perf_counter()
    plan = workspace.cli("retention", "plan", "--as-of", as_of, "--json").json()
    planned = time.perf_counter() - start
    assert workspace.cli("retention", "approve", plan["id"], "--by", "bench").code == 0
    start = time.perf_counter()
    done = workspace.cli("retention", "apply", plan["id"], "--json")
    applied = time.perf_counter() - start
    counts = done.json()["counts"]
    print(f"disposition: {counts['items']} items, {counts['objects_deleted']} WARCs deleted, "
          f"{counts['objects_rewritten']} rewritten: plan {planned:.2f}s, apply {applied:.2f}s; "
          f"reindex of the whole archive {reindexed:.2f}s (plan+apply x{(planned + applied) / reindexed:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=4000)
    parser.add_argument("--no-s3", action="store_true")
    args = parser.parse_args()
    import os

    with tempfile.TemporaryDirectory() as scratch, FakeFeedServer() as server:
        local = build(Path(scratch) / "local", server, args.entries)
        bench_verify("local folder", local)
        if not args.no_s3:
            os.environ |= {KEY_ENV: "test-key", SECRET_ENV: "test-secret"}
            with SeaweedServer() as seaweed:
                bucket = seaweed.bucket(object_lock=False)
                remote = build(Path(scratch) / "s3", server, args.entries, storage_lines(seaweed, bucket))
                bench_verify("SeaweedFS S3", remote)
        bench_disposition(local, args.entries)


if __name__ == "__main__":
    main()
