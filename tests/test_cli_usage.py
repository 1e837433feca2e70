"""The command line as a newcomer meets it: output piped into ``head`` ends quietly, and bad usage
(a negative limit, a config with no accounts for a command that needs one) exits 2 with one line."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from archiver.cli import main
from conftest import ROOT, Workspace


class ClosedPipe(io.StringIO):
    """Standard output whose reader has gone away, as after ``| head`` has read its lines."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize("command", [["search"], ["audit", "--json"], ["accounts"], ["request", "list"],
                                     ["check-config"], ["hold", "list"], ["retention", "list"]])
def test_every_printing_command_ends_quietly_when_its_reader_goes(workspace: Workspace, command: list[str],
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    workspace.write()
    with redirect_stdout(ClosedPipe()):
        code = main(["--config", str(workspace.config_path), *command])
    assert code == 1 and "Traceback" not in capsys.readouterr().err


def test_search_piped_into_a_reader_that_stops_has_no_traceback(workspace: Workspace) -> None:
    workspace.write()
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    for command in (["search"], ["audit", "--json"]):
        process = subprocess.Popen([sys.executable, "-m", "archiver", "--config", str(workspace.config_path),
                                    *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        assert process.stdout is not None
        process.stdout.close()  # like `head -0`: gone before the first line
        _, err = process.communicate(timeout=60)
        assert process.returncode == 1 and b"Traceback" not in err and b"BrokenPipe" not in err, err


def test_bad_usage_exits_2_with_one_line(workspace: Workspace, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    workspace.write()
    config = str(workspace.config_path)
    for args in (["search", "--limit", "-1"], ["search", "--offset", "-3"], ["search", "--limit", "ten"],
                 ["audit", "--limit", "0"], ["verify", "--sample", "0"]):
        with pytest.raises(SystemExit) as stopped:
            main(["--config", config, *args])
        err = capsys.readouterr().err
        assert stopped.value.code == 2 and ("must be" in err or "whole number" in err), args
    for args in (["harvest"], ["run"]):  # the workspace's config has no [[accounts]]
        assert main(["--config", config, *args]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "no accounts in the config; add an [[accounts]] table" in err
