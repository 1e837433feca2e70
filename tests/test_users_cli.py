"""``archiver users``: add, list, set-role, disable, reset-password; passwords only from stdin or a terminal."""

from __future__ import annotations

import io
import sys

import pytest

from conftest import Workspace


def with_stdin(text: str, workspace: Workspace, *args: str) -> object:
    saved = sys.stdin
    sys.stdin = io.StringIO(text)
    try:
        return workspace.cli(*args)
    finally:
        sys.stdin = saved


def test_users_lifecycle_never_shows_the_password(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "a long enough passphrase 42"
    added = with_stdin(secret + "\n", workspace, "users", "add", "cleo", "--role", "clerk", "--name", "Cleo Clerk",
                       "--password-stdin")
    assert added.code == 0 and secret not in added.out + added.err  # type: ignore[attr-defined]
    short = with_stdin("short\n", workspace, "users", "add", "otto", "--role", "read_only", "--password-stdin")
    assert short.code == 1 and "at least 12 characters" in short.err  # type: ignore[attr-defined]
    assert workspace.cli("users", "add", "sam", "--role", "boss", "--sso").code == 2  # not a role
    assert workspace.cli("users", "add", "sam@city.gov", "--role", "legal", "--sso").code == 0
    assert workspace.cli("users", "set-role", "cleo", "records_manager").code == 0
    assert workspace.cli("users", "disable", "cleo").code == 0
    listed = {u["username"]: u for u in workspace.cli("users", "list", "--json").json()}
    assert listed["cleo"]["role"] == "records_manager" and listed["cleo"]["disabled"]
    assert listed["sam@city.gov"]["source"] == "oidc"
    sso = with_stdin(secret + "\n", workspace, "users", "reset-password", "sam@city.gov", "--password-stdin")
    assert sso.code == 1 and "single sign-on" in sso.err  # type: ignore[attr-defined]
    reset = with_stdin("another long passphrase\n", workspace, "users", "reset-password", "cleo", "--password-stdin")
    assert reset.code == 0
    trail = workspace.cli("audit", "--json").json()
    assert [e["action"] for e in trail if e["action"].startswith("user.")] == [
        "user.added", "user.added", "user.role_set", "user.disabled", "user.password_reset"]
    assert secret not in str(trail) and "another long passphrase" not in str(trail)
    nobody = workspace.cli("users", "disable", "nobody")
    assert nobody.code == 1 and "no user 'nobody'" in nobody.err
