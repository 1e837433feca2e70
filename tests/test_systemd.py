"""The shipped systemd units: valid (`systemd-analyze verify`) and hardened to "OK" or better (≤ 2.5).

`.ci/run` installs systemd's tools when `systemd-analyze` is missing; elsewhere (a developer's
Mac) the tests skip loudly.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from conftest import ROOT

UNITS = ("archiver.service", "archiver-web.service")
INSTALLED = "/opt/archiver/.venv/bin/archiver"  # where the README installs it
MAX_EXPOSURE = 2.5  # systemd-analyze security: "OK" or better


@pytest.fixture(scope="module")
def analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        message = "systemd-analyze is not installed (apt-get install systemd); the unit files were not checked"
        warnings.warn(message, stacklevel=1)
        print(f"\nSKIPPING SYSTEMD TEST: {message}", file=sys.stderr)
        pytest.skip(message)
    return found


def _unit_here(tmp_path: Path, name: str) -> Path:
    """The unit with its ExecStart pointing at this checkout's `archiver`, which verify needs to exist."""
    archiver = Path(sys.executable).with_name("archiver")
    assert archiver.exists(), "the archiver command is installed next to this Python (pip install -e .)"
    copy = tmp_path / name
    copy.write_text((ROOT / "systemd" / name).read_text().replace(INSTALLED, str(archiver)))
    return copy


@pytest.mark.parametrize("name", UNITS)
def test_unit_files_verify(analyze: str, tmp_path: Path, name: str) -> None:
    result = subprocess.run([analyze, "verify", "--man=no", str(_unit_here(tmp_path, name))],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr + result.stdout
    assert name not in result.stderr  # no warning about the unit itself


@pytest.mark.parametrize("name", UNITS)
def test_unit_hardening_scores_ok(analyze: str, tmp_path: Path, name: str) -> None:
    unit = _unit_here(tmp_path, name)
    result = subprocess.run([analyze, "security", "--offline=true", "--no-pager", str(unit)], capture_output=True,
                            text=True, timeout=60)
    match = re.search(rf"Overall exposure level for {re.escape(name)}: (\d+\.\d+) (\w+)", result.stdout)
    assert match, result.stdout[-2000:] + result.stderr
    assert float(match[1]) <= MAX_EXPOSURE, f"{name} scores {match[1]} {match[2]}; harden it back to OK or better"
    threshold = subprocess.run([analyze, "security", "--offline=true", f"--threshold={int(MAX_EXPOSURE * 10)}",
                                str(unit)], capture_output=True, text=True, timeout=60)
    assert threshold.returncode == 0


@pytest.mark.parametrize("name", UNITS)
def test_units_run_as_a_notify_service_with_its_own_state_and_credentials(name: str) -> None:
    lines = {line.strip() for line in (ROOT / "systemd" / name).read_text().splitlines()}
    for needed in ("Type=notify", "User=archiver", "StateDirectory=archiver", "UMask=0027",
                   "LoadCredential=archiver:/etc/archiver/credentials", "ProtectSystem=strict",
                   "CapabilityBoundingSet=", "SystemCallFilter=@system-service"):
        assert needed in lines, f"{name} lacks {needed}"
    assert any(line.startswith("WatchdogSec=") for line in lines)
