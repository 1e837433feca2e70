"""Harvesting a 500-video YouTube channel (20,000 comments and replies) from the fake Data API.

The fake runs in this process (a thread), as in the tests. Side by side, in this process:

- the floor: a plain loop of ``requests`` over the same URLs the archiver asks for (channel,
  uploads 50 a page, videos 50 ids a call, each video's threads 100 a page, long threads' replies
  100 a page), each exchange written with warcio's ``WARCWriter`` — no parsing, index or storage;
- the archiver: a full harvest on the embedded defaults (schedule 1d: the whole day's units may go
  to this run), media off.

Reported: items/s of both and their ratio; calls = quota units (every list call costs 1) per
1,000 items against the minimum the page sizes allow for the per-video listing (the channel,
one call per 50 videos twice, one threads call per video with comments plus one per further 100
threads, one replies call per 100 replies beyond the five a thread embeds).

    python bench/youtube.py
    python bench/youtube.py --videos 100 --comments 4000 --rounds 1
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archiver.config import load_config  # noqa: E402
from archiver.harvest import HarvestRunner  # noqa: E402
from archiver.index.db import open_index  # noqa: E402
from connectors.youtube.fakechannel import EMBEDDED_REPLIES, FakeChannel  # noqa: E402
from connectors.youtube.fakeserver import FakeYouTubeServer  # noqa: E402
from connectors.youtube.parser import VIDEO_PARTS  # noqa: E402
from storage import open_storage  # noqa: E402

KEY = "bench-youtube-key-2b7e"  # a throwaway for the local fake only


def floor(base: str, channel: FakeChannel, out: Path) -> tuple[float, int, int]:
    """(seconds, items, calls) of the least any harvester must do over the same URLs."""
    session = requests.Session()
    started, items, calls = time.perf_counter(), 1, 0
    with out.open("wb") as handle:
        writer = WARCWriter(handle, gzip=True)

        def get(resource: str, **params: str) -> dict[str, Any]:
            nonlocal calls
            response = session.get(f"{base}/youtube/v3/{resource}", params=params | {"key": KEY}, timeout=30)
            calls += 1
            headers = StatusAndHeaders(f"{response.status_code} OK", list(response.headers.items()),
                                       protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(response.url, "response", payload=io.BytesIO(
                response.content), http_headers=headers))
            return response.json()

        def pages(resource: str, **params: str) -> list[dict[str, Any]]:
            found, token = [], None
            while True:
                body = get(resource, **params, **({"pageToken": token} if token else {}))
                found.append(body)
                token = body.get("nextPageToken")
                if not token:
                    return found

        get("channels", part="snippet,contentDetails,statistics", id=channel.channel_id)
        listed = [i["contentDetails"]["videoId"] for p in pages("playlistItems", part="snippet,contentDetails,status",
                                                                 playlistId=channel.uploads, maxResults="50")
                  for i in p["items"] if i["status"]["privacyStatus"] != "private"]
        for start in range(0, len(listed), 50):
            videos = get("videos", part=VIDEO_PARTS, id=",".join(listed[start:start + 50]))["items"]
            items += len(videos)
            for video in videos:
                if video["statistics"]["commentCount"] == "0":
                    continue
                for page in pages("commentThreads", part="snippet,replies", videoId=video["id"], maxResults="100",
                                  textFormat="plainText", order="time"):
                    for thread in page["items"]:
                        embedded = len(thread.get("replies", {}).get("comments", []))
                        items += 1 + embedded
                        if thread["snippet"]["totalReplyCount"] > embedded:
                            items += sum(len(p["items"]) for p in pages("comments", part="snippet",
                                                                         parentId=thread["id"], maxResults="100",
                                                                         textFormat="plainText")) - embedded
    return time.perf_counter() - started, items, calls


def harvest(base: str, channel_id: str, workdir: Path) -> tuple[float, int, int, str]:
    workdir.mkdir(parents=True)
    config_path = workdir / "archiver.toml"
    config_path.write_text(f'[archiver]\ndata_dir = "data"\n[capture]\nmedia = false\n'
                           f'[[accounts]]\nname = "city-yt"\nplatform = "youtube"\nid = "{channel_id}"\n'
                           f'api_key_env = "BENCH_YT_KEY"\nbase_url = "{base}"\nschedule = "1d"\n'
                           "daily_units = 1000000\n")
    os.environ["BENCH_YT_KEY"] = KEY
    config = load_config(config_path)
    db = open_index(config.database_url)
    runner = HarvestRunner(config, db, open_storage(config))
    started = time.perf_counter()
    outcome = runner.run(config.account("city-yt"))
    seconds = time.perf_counter() - started
    from sqlalchemy import func, select

    from archiver.index.models import Item

    with db.session() as session:
        items = session.scalar(select(func.count(Item.id))) or 0
    db.dispose()
    return seconds, items, outcome.pages, outcome.status


def run(videos: int, comments: int, rounds: int) -> dict[str, Any]:
    channel = FakeChannel.synthetic(videos=videos, comments=comments, seed=7)
    public = [v for v in channel.videos if v.privacy != "private"]
    items = 1 + len(public) + len([c for c in channel.live_comments(False)])
    with_comments = [v for v in public if v.threads]
    minimum = 1 + 2 * -(-videos // 50) + sum(max(1, -(-len(v.threads) // 100)) for v in with_comments) + sum(
        -(-(len(t.replies) - EMBEDDED_REPLIES) // 100) for v in public for t in v.threads
        if len(t.replies) > EMBEDDED_REPLIES)
    best_floor = best_harvest = float("inf")
    with FakeYouTubeServer(channel, keys={KEY}) as server, tempfile.TemporaryDirectory() as work:
        for round_ in range(rounds):
            seconds, floor_items, floor_calls = floor(server.base_url, channel, Path(work) / f"floor-{round_}.warc.gz")
            best_floor = min(best_floor, seconds)
            before = server.units
            seconds, harvested, _pages, status = harvest(server.base_url, channel.channel_id, Path(work) / f"r{round_}")
            units = server.units - before
            assert status == "succeeded" and harvested == items == floor_items, (status, harvested, items, floor_items)
            best_harvest = min(best_harvest, seconds)
    return {"items": items, "floor_seconds": best_floor, "harvest_seconds": best_harvest, "units": units,
            "floor_calls": floor_calls, "minimum_units": minimum}


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("--videos", type=int, default=500)
    arguments.add_argument("--comments", type=int, default=20000)
    arguments.add_argument("--rounds", type=int, default=2)
    args = arguments.parse_args()
    r = run(args.videos, args.comments, args.rounds)
    per = 1000 / r["items"]
    print(f"{datetime.now(UTC):%Y-%m-%d} YouTube channel of {args.videos} videos and {args.comments} comments and "
          f"replies ({r['items']} items with the channel), best of {args.rounds}")
    print(f"  floor (requests + WARCWriter): {r['items'] / r['floor_seconds']:,.0f} items/s "
          f"({r['floor_seconds']:.2f} s, {r['floor_calls']} calls)")
    print(f"  archiver harvest, media off:   {r['items'] / r['harvest_seconds']:,.0f} items/s "
          f"({r['harvest_seconds']:.2f} s); ratio {r['floor_seconds'] / r['harvest_seconds']:.2f} of the floor")
    print(f"  quota units (= calls): {r['units']} = {r['units'] * per:.2f} per 1,000 items; minimum "
          f"{r['minimum_units']} = {r['minimum_units'] * per:.2f} (ratio {r['units'] / r['minimum_units']:.2f})")


if __name__ == "__main__":
    main()
