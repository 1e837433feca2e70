"""``archiver`` as the crash harness runs it: the real CLI in a process of its own, which stops
still at a chosen point of a chosen phase so that the harness (bench/crash.py) can SIGKILL it
there ("start-up" only says when start-up is over: the harness kills at a random moment).
Nothing is changed in what it does; it only waits, forever, at the point.

    python bench/crash_child.py MARKER PHASE HIT -- --config archiver.toml harvest

``PHASE`` names a set of points (``POINTS``); the process stops at the ``HIT``-th time any of
them is reached, after writing which point to ``MARKER``. Reached fewer times, it runs to its
end and writes how many times it reached them to ``MARKER.hits`` (so the harness aims better
next time). ``PHASE`` "none" runs the command untouched.
"""

from __future__ import annotations

import functools
import importlib
import os
import pathlib
import sys
import time
from collections.abc import Callable
from typing import Any

# phase → (module, attribute path, "before" | "after", in recovery?) for each point of the phase
POINTS: dict[str, list[tuple[str, str, str, bool]]] = {
    "start-up": [("archiver.cli.app", "App.recover", "before", False)],  # never stops: says "ready" there
    "recovery": [
        ("archiver.recovery", "_complete_open_file", "after", True),
        ("storage.local", "LocalStorage.put", "before", True),
        ("storage.local", "LocalStorage.put", "after", True),
        ("storage.s3", "S3Storage.put", "before", True),
        ("storage.s3", "S3Storage.put", "after", True),
        ("archiver.reindex", "WarcIndexer.index", "before", True),
        ("archiver.reindex", "WarcIndexer.index", "after", True),
        ("archiver.recovery", "apply_staged", "after", True),
        ("archiver.recovery", "_conclude", "before", True),
        ("pathlib", "Path.unlink", "before", True),
    ],
    "capture": [
        ("archiver.staging", "HarvestStaging.stage", "after", False),
        ("archiver.capture.warc", "WarcFileWriter.write_warcinfo", "before", False),
        ("archiver.capture.warc", "WarcFileWriter.write_warcinfo", "after", False),
    ],
    "sealed-not-stored": [
        ("storage.local", "LocalStorage.put", "before", False),
        ("storage.s3", "S3Storage.put", "before", False),
    ],
    "stored-not-indexed": [
        ("storage.local", "LocalStorage.put", "after", False),
        ("storage.s3", "S3Storage.put", "after", False),
        ("archiver.segments", "apply_observations", "before", False),
    ],
    "finishing": [
        ("archiver.capture.warc", "WarcFileWriter.write_metadata", "after", False),
        ("pathlib", "Path.unlink", "before", False),
        ("archiver.harvest", "HarvestRunner._holds", "before", False),
        ("archiver.harvest", "HarvestRunner._finish", "before", False),
    ],
}


class Stopper:
    def __init__(self, marker: pathlib.Path, phase: str, hit: int):
        self.marker, self.phase, self.hit = marker, phase, hit
        self.hits = 0
        self.recovering = False

    def wrap(self, owner: Any, name: str, point: str, when: str, in_recovery: bool) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def at_point(*args: Any, **kwargs: Any) -> Any:
            relevant = self.recovering == in_recovery and _counts(point, args)
            if relevant and when == "before":
                self.reached(f"{point}:before")
            result = original(*args, **kwargs)
            if relevant and when == "after":
                self.reached(f"{point}:after")
            return result

        setattr(owner, name, at_point)

    def reached(self, where: str) -> None:
        if self.phase == "start-up":  # the harness kills at a random moment; this tells it start-up is over
            self.say("ready")
            return
        self.hits += 1
        if self.hits == self.hit:
            self.say(where)
            while True:  # the harness kills the process here
                time.sleep(60)

    def say(self, text: str) -> None:
        partial = self.marker.with_name(self.marker.name + ".partial")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, self.marker)  # the harness never reads half of it

    def install(self) -> None:
        import archiver.recovery

        run = archiver.recovery.Recovery.run

        def recovering(recovery: Any) -> Any:
            self.recovering = True
            try:
                return run(recovery)
            finally:
                self.recovering = False

        archiver.recovery.Recovery.run = recovering  # type: ignore[method-assign]
        wrapped: set[tuple[str, str, str]] = set()
        for module_name, path, when, in_recovery in POINTS.get(self.phase, []):
            owner: Any = importlib.import_module(module_name)
            *outer, name = path.split(".")
            for part in outer:
                owner = getattr(owner, part)
            if (module_name, path, when) not in wrapped:
                wrapped.add((module_name, path, when))
                self.wrap(owner, name, f"{module_name}.{path}", when, in_recovery)


def _counts(point: str, args: tuple[Any, ...]) -> bool:
    """Path.unlink counts only for WARC files; write_metadata only for the harvest summary."""
    if point.endswith("Path.unlink"):
        return str(args[0]).endswith(".warc.gz")
    if point.endswith("write_metadata"):
        return len(args) > 1 and str(args[1]).startswith("urn:archiver:harvest:")
    return True


def main(argv: list[str]) -> int:
    marker, phase, hit = pathlib.Path(argv[0]), argv[1], int(argv[2])
    stopper = Stopper(marker, phase, hit)
    if phase != "none":
        stopper.install()
    from archiver.cli import main as archiver_main

    command: Callable[[list[str]], int] = archiver_main
    try:
        return command(argv[argv.index("--") + 1:])
    finally:
        marker.with_name(marker.name + ".hits").write_text(str(stopper.hits), encoding="utf-8")


if __name__ == "__main__":
    sys.path.insert(0, os.fspath(pathlib.Path(__file__).resolve().parent))
    sys.exit(main(sys.argv[1:]))
