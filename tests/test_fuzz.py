"""Every connector's parser survives mutated payloads (a seeded few hundred here; bench/fuzz.py
runs at least 10,000): nothing raises but a malformed container's ``Malformed``, and whatever
comes back can be staged and recorded."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from conftest import FIXTURES
from fuzzing import Recorder, fake_samples, recorded_samples, run, unfuzzed


def test_every_sample_of_a_fuzzed_connector_names_the_url_it_answers() -> None:
    fuzzed = {sample.platform for sample in recorded_samples()}
    assert {"facebook", "instagram", "rss"} <= fuzzed
    for platform in fuzzed:
        named = set(json.loads((FIXTURES / platform / "urls.json").read_text()))
        files = {p.name for p in (FIXTURES / platform).iterdir()
                 if p.name not in ("SOURCES.md", "urls.json") and not p.name.endswith(".meta.json")}
        assert files == named, f"tests/fixtures/{platform}/urls.json: name every sample, and only those"
    if missing := unfuzzed():
        warnings.warn(f"connectors without tests/fixtures/<platform>/urls.json are not fuzzed: {missing}",
                      stacklevel=1)


def test_a_seeded_few_hundred_mutated_payloads_crash_nothing(tmp_path: Path) -> None:
    samples = recorded_samples() + fake_samples(tmp_path / "fakes", per_shape=1)
    report = run(samples, 400, seed=2026, recorder=Recorder(tmp_path))
    first = report.crashes[0] if report.crashes else None
    assert first is None, f"{len(report.crashes)} crash(es); {first.sample} case {first.case} " \
                          f"{first.mutations}:\n{first.error}"
    assert report.cases == 400 and report.quarantined > 0 and report.problems > 0 and report.observations > 0
