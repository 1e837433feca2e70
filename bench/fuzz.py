"""Fuzzing every connector's parser with mutated payloads: at least 10,000 cases, 0 crashes.

Samples: every ``tests/fixtures/<platform>/`` file named in its ``urls.json`` (each platform of
``connectors.registry`` that brings one) and the fakes' own payloads, harvested through the real
recording session and read back from the WARCs. Each case mutates one sample (types swapped,
fields dropped, nulls, huge and hostile strings, odd numbers, invalid UTF-8, deep nesting, cut
bodies; see tests/mutations.py), parses it under ``untrusted.strict()`` and feeds what comes
back through the staging round trip into a real ``VersionRecorder`` on SQLite
(tests/fuzzing.py says what counts as a crash). Every case is reproducible from ``SEED:CASE``.

    python bench/fuzz.py                      # 10,000 cases, seed 1
    python bench/fuzz.py --cases 50000 --seed 7 --save fuzz-crashes/

Prints cases run and crashes (exit 1 if any), what was quarantined by design (a malformed
container), the observations and problem observations made, and the connectors not fuzzed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fuzzing import Recorder, fake_samples, recorded_samples, run, unfuzzed  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--save", type=Path, help="write each crashing body and its traceback here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        samples = recorded_samples()
        fakes = fake_samples(Path(folder) / "fakes")
        report = run(samples + fakes, args.cases, args.seed, Recorder(Path(folder)))
    print(f"samples: {len(samples)} recorded, {len(fakes)} from the fakes; by platform {json.dumps(report.samples)}")
    print(f"cases run: {report.cases} (seed {args.seed}) in {report.seconds:.1f} s "
          f"({report.cases / report.seconds:.0f} cases/s)")
    print(f"crashes: {len(report.crashes)}")
    print(f"quarantined by design (malformed container): {report.quarantined}; observations: "
          f"{report.observations}, of which problem observations: {report.problems}")
    if missing := unfuzzed():
        print(f"not fuzzed (no tests/fixtures/<platform>/urls.json): {', '.join(missing)}")
    for index, crash in enumerate(report.crashes):
        if index < 5:
            print(f"\nCRASH {crash.sample} case {crash.case} after {crash.mutations}:\n{crash.error}")
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            (args.save / f"{index:04d}.body").write_bytes(crash.body)
            (args.save / f"{index:04d}.txt").write_text(f"{crash.sample} {crash.case} {crash.mutations}\n{crash.error}")
    return 1 if report.crashes else 0


if __name__ == "__main__":
    raise SystemExit(main())
