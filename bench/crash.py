"""Crash harness: SIGKILL ``archiver harvest`` at random points, restart, check nothing was lost.

Each combination of platform (the RSS and Facebook fakes, over sockets), store (a local folder,
S3 on a real SeaweedFS) and index (SQLite, PostgreSQL) gets its own archive. The kills are
spread over the combinations in turn; for each, seeded from ``--seed``:

1. the fake changes a little (new, edited, hidden, deleted items), and ``archiver harvest`` (a
   real child process, bench/crash_child.py) is SIGKILLed in one phase — ``start-up`` (at a
   random moment before recovery starts), ``capture`` (after a page, around a file's first
   record), ``sealed-not-stored``, ``stored-not-indexed``, ``finishing`` (summary written,
   last spool copy removed, before the harvest's row and cursor) — at a random hit of its
   points; what must hold at any moment is checked (bench/crash_checks.py ``after_kill``);
2. sometimes the next start is killed too, during ``recovery`` of what the first left;
3. then (the fake perhaps changed again) a harvest runs to its end and everything is checked
   against the fake (``after_restart``).

    python bench/crash.py --kills 200 --seed 1
    python bench/crash.py --kills 16 --combos rss-local-sqlite,facebook-s3-postgresql

Prints kills and violations by phase, and the time; exits 1 if any violation was found.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from crash_checks import History, after_kill, after_restart  # noqa: E402
from crash_fakes import PLATFORMS, Platform  # noqa: E402
from sqlalchemy import inspect  # noqa: E402

from archiver.index.db import IndexDB  # noqa: E402
from seaweed import KEY_ENV, SECRET_ENV, TEST_KEY, TEST_SECRET, SeaweedServer, start_server, storage_lines  # noqa: E402

CHILD = ROOT / "bench" / "crash_child.py"
POSTGRES_URL = os.environ.get("ARCHIVER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
COMBOS = [f"{p}-{s}-{i}" for p in ("rss", "facebook") for s in ("local", "s3") for i in ("sqlite", "postgresql")]
PHASES = ("start-up", "capture", "sealed-not-stored", "stored-not-indexed", "finishing")
RUN_TIMEOUT = 120.0


@dataclass
class Run:
    killed: bool
    where: str  # the point it was killed at
    code: int | None
    output: str


@dataclass
class Figures:
    kills: Counter[str] = field(default_factory=Counter)  # phase → kills
    by_combo: Counter[str] = field(default_factory=Counter)  # combination → kills
    violations: Counter[str] = field(default_factory=Counter)  # phase → violations found after its kills
    kinds: Counter[str] = field(default_factory=Counter)  # what was wrong (objects, cursor, items...) → violations
    distinct: set[str] = field(default_factory=set)  # a violation that lasts is counted at each check after it
    missed: int = 0  # runs that ended before reaching their point
    restarts: int = 0
    examples: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.kills.values())

    def report(self) -> str:
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(self.kinds.items())) or "none"
        lines = [f"kills: {self.total} ({self.missed} runs ended before their point, {self.restarts} restarts "
                 f"checked), violations: {sum(self.violations.values())} ({len(self.distinct)} distinct; {kinds}), "
                 f"time: {self.seconds:.0f} s",
                 f"{'phase':<20} {'kills':>6} {'violations':>11}"]
        lines += [f"{phase:<20} {self.kills[phase]:>6} {self.violations[phase]:>11}"
                  for phase in sorted(set(self.kills) | set(self.violations))]
        lines += ["kills by combination:", *(f"  {combo:<28} {n:>3}" for combo, n in sorted(self.by_combo.items()))]
        lines += [f"  {example}" for example in self.examples[:20]]
        return "\n".join(lines)


class Scenario:
    """One combination's archive: its fake, config, index and store, and the runs against them."""

    def __init__(self, combo: str, folder: Path, seed: int, seaweed: SeaweedServer | None, stack: ExitStack):
        self.combo, self.folder = combo, folder
        platform, store, index = combo.split("-")
        self.platform: Platform = PLATFORMS[platform](seed)
        self.platform.start()
        stack.callback(self.platform.stop)
        self.spool = folder / "data" / "spool"
        self.env = os.environ | self.platform.env() | {"PYTHONPATH": str(ROOT)}
        storage = ""
        self.bucket: str | None = None
        if store == "s3":
            assert seaweed is not None, "S3 combinations need SeaweedFS"
            self.seaweed, self.bucket = seaweed, seaweed.bucket(object_lock=False)
            storage = storage_lines(seaweed, self.bucket, prefix="crash")
            self.env |= {KEY_ENV: TEST_KEY, SECRET_ENV: TEST_SECRET, "AWS_EC2_METADATA_DISABLED": "true"}
        self.database_url = f"sqlite:///{folder / 'index.sqlite'}"
        if index == "postgresql":
            self.database_url = stack.enter_context(_postgres_database())
        self.config = folder / "archiver.toml"
        self.config.write_text(
            f'[archiver]\ndata_dir = "data"\nagency = "Crash Harness"\n\n[database]\nurl = "{self.database_url}"\n\n'
            f"[storage]\n{storage}\n[capture]\nwarc_max_items = 4\nretry_backoff_seconds = 0.01\n"
            f"timeout_seconds = 5\n\n[[accounts]]\n{self.platform.account_toml()}", encoding="utf-8")
        self.history = History()
        self.history.note(self.platform.truth())
        self.hits: dict[str, int] = {}  # phase → points reached by the last run that got through it
        self.startup = 1.5  # seconds to reach recovery, as last measured
        self.checked: set[str] = set()  # stored WARCs whose every record was found in the index

    def objects(self) -> dict[str, int]:
        if self.bucket is None:
            root = self.folder / "data" / "warcs"
            return {p.relative_to(root).as_posix(): p.stat().st_size for p in root.rglob("*.warc.gz")}
        found: dict[str, int] = {}
        for page in self.seaweed.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            found |= {o["Key"].removeprefix("crash/"): o["Size"] for o in page.get("Contents", [])
                      if o["Key"].endswith(".warc.gz")}
        return found

    def read(self, key: str) -> bytes:
        if self.bucket is None:
            return (self.folder / "data" / "warcs" / key).read_bytes()
        return bytes(self.seaweed.client().get_object(Bucket=self.bucket, Key=f"crash/{key}")["Body"].read())

    def run(self, phase: str, rng: random.Random, *, json_out: bool = False) -> Run:
        marker = self.folder / f"marker-{secrets.token_hex(4)}"
        hit = rng.randint(1, max(1, self.hits.get(phase, 3)))
        args = [sys.executable, str(CHILD), str(marker), phase, str(hit), "--",
                "--config", str(self.config), "harvest", *(["--json"] if json_out else [])]
        started = time.monotonic()
        log = self.folder / "last-run.log"
        with log.open("wb") as out:
            child = subprocess.Popen(args, cwd=self.folder, env=self.env, stdout=out, stderr=subprocess.STDOUT)
            deadline = started + (rng.uniform(0.05, self.startup) if phase == "start-up" else RUN_TIMEOUT)
            where, ready = "", None
            while child.poll() is None and time.monotonic() < deadline:
                if marker.exists():
                    where = marker.read_text(encoding="utf-8")
                    if where != "ready":
                        break
                    ready = ready or time.monotonic() - started
                time.sleep(0.005)
            killed = child.poll() is None
            if killed:
                child.send_signal(signal.SIGKILL)
            code = child.wait(timeout=30)
        hits = marker.with_name(marker.name + ".hits")
        if hits.exists():  # ran to its end: aim within what it reached next time
            self.hits[phase] = max(1, int(hits.read_text(encoding="utf-8")))
        for path in (marker, hits):
            path.unlink(missing_ok=True)
        if ready is not None:  # start-up took this long: aim before it next time
            self.startup = max(0.3, ready)
            where = f"{where} (late: after start-up)"
        return Run(killed and code == -signal.SIGKILL, where or f"{time.monotonic() - started:.2f} s",
                   code, log.read_text(encoding="utf-8", errors="replace"))

    def index(self) -> IndexDB | None:
        """The index as it is (no migration run: a start-up kill may have left it half made)."""
        db = IndexDB(self.database_url)
        if not inspect(db.engine).has_table("harvests"):
            db.dispose()
            return None
        return db

    def check(self, settled: bool) -> list[str]:
        db = self.index()
        if db is None:
            return ["index: no tables after a complete harvest"] if settled else []
        try:
            if not settled:
                return after_kill(db, self.objects, self.spool, self.platform.name)
            return after_restart(db, self.objects, self.spool, self.platform.name, self.platform.kinds,
                                 self.platform.truth(), self.history, self.read, self.checked)
        finally:
            db.dispose()

    def change(self, rng: random.Random, chance: float) -> None:
        if rng.random() < chance:
            self.platform.change(rng)
            self.history.note(self.platform.truth())


@contextmanager
def _postgres_database() -> Iterator[str]:
    import psycopg

    admin_url = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    name = f"archiver_crash_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _found(figures: Figures, phase: str, scenario: Scenario, problems: list[str], run: Run) -> None:
    if problems:
        figures.violations[phase] += len(problems)
        figures.kinds.update(problem.split(":", 1)[0] for problem in problems)
        figures.distinct.update(f"{scenario.combo} {problem}" for problem in problems)
        figures.examples += [f"{scenario.combo} after {phase} kill at {run.where}: {p}" for p in problems[:3]]


def cycle(scenario: Scenario, rng: random.Random, figures: Figures, budget: int) -> int:
    """One kill (and perhaps a second during recovery), then a harvest to the end; returns kills made."""
    made = 0
    phase = rng.choice(PHASES)
    scenario.change(rng, 0.7)
    run = scenario.run(phase, rng)
    if phase == "start-up" and "late" in run.where:
        phase = "after start-up (timed)"
    if not run.killed:
        figures.missed += 1
    else:
        made += 1
        figures.kills[phase] += 1
        figures.by_combo[scenario.combo] += 1
        _found(figures, phase, scenario, scenario.check(settled=False), run)
        if made < budget and any(scenario.spool.rglob("*.warc.gz*")) and rng.random() < 0.5:
            phase = "recovery"
            scenario.change(rng, 0.5)  # a deletion before any complete harvest, e.g.
            run = scenario.run(phase, rng)
            if run.killed:
                made += 1
                figures.kills[phase] += 1
                figures.by_combo[scenario.combo] += 1
                _found(figures, phase, scenario, scenario.check(settled=False), run)
            else:
                figures.missed += 1
    scenario.change(rng, 0.3)
    truth = scenario.platform.truth()
    restart = scenario.run("none", rng, json_out=True)
    figures.restarts += 1
    problems = scenario.check(settled=True)
    status = _status(restart)
    if status != "succeeded":
        problems.append(f"restart: the harvest after the kill ended {status} (exit {restart.code}): "
                        f"{restart.output.strip().splitlines()[-1:] if restart.output.strip() else ''}")
    else:
        scenario.history.harvested(truth)
    _found(figures, phase, scenario, problems, run)
    return made


def _status(run: Run) -> str:
    text = run.output
    start = text.find("[")
    try:
        return str(json.loads(text[start:text.rindex("]") + 1])[0]["status"]) if start >= 0 else "unknown"
    except (ValueError, KeyError, IndexError):
        return "unknown"


def run_harness(kills: int, seed: int, combos: list[str], folder: Path,
                seaweed: SeaweedServer | None = None) -> Figures:
    rng = random.Random(seed)
    figures = Figures()
    started = time.monotonic()
    with ExitStack() as stack:
        if seaweed is None and any("-s3-" in combo for combo in combos):
            seaweed = start_server()
            stack.callback(seaweed.stop)
        scenarios = []
        for number, combo in enumerate(combos):
            (folder / combo).mkdir(parents=True, exist_ok=True)
            scenarios.append(Scenario(combo, folder / combo, seed * 100 + number, seaweed, stack))
        turn = 0
        while figures.total < kills or len(figures.by_combo) < len(combos):  # each combination killed
            cycle(scenarios[turn % len(scenarios)], rng, figures, kills - figures.total)
            turn += 1
            if turn % 10 == 0:  # a long run says how far it got
                print(f"{figures.total} kills, {sum(figures.violations.values())} violations, "
                      f"{time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    figures.seconds = time.monotonic() - started
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--combos", default=",".join(COMBOS), help=f"comma-separated, of {', '.join(COMBOS)}")
    parser.add_argument("--keep", action="store_true", help="keep the archives (printed) for a look afterwards")
    args = parser.parse_args()
    combos = [c for c in args.combos.split(",") if c]
    if unknown := [c for c in combos if c not in COMBOS]:
        parser.error(f"unknown combination(s) {unknown}; choose from {', '.join(COMBOS)}")
    folder = Path(tempfile.mkdtemp(prefix="archiver-crash-"))
    try:
        figures = run_harness(args.kills, args.seed, combos, folder)
    finally:
        if args.keep:
            print(f"archives kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    print(figures.report())
    return 1 if figures.violations else 0


if __name__ == "__main__":
    sys.exit(main())
