"""``archiver check-config`` also checks that the index and the storage answer (``--offline`` skips it)."""

from __future__ import annotations

import pytest

from conftest import Workspace
from seaweed import KEY_ENV, SECRET_ENV, free_ports


def test_a_config_whose_index_and_storage_answer_is_ok(workspace: Workspace) -> None:
    workspace.account("news", "https://example.gov/feed.xml")
    result = workspace.cli("check-config")
    assert result.code == 0, result.err
    assert result.out.strip() == (f"config OK: 1 account(s); index sqlite:///{workspace.root / 'data' / 'index.sqlite'}"
                                  f" answers; storage file://{workspace.root / 'data' / 'warcs'} answers")


def test_an_index_or_storage_that_does_not_answer_is_a_failure_unless_offline(
        workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    [closed] = free_ports(1)  # nothing listens there
    monkeypatch.setenv(KEY_ENV, "key")
    monkeypatch.setenv(SECRET_ENV, "secret")
    workspace.database_url = f"postgresql+psycopg://archiver@127.0.0.1:{closed}/archiver"
    workspace.storage_lines = (f'url = "s3://records"\nendpoint_url = "http://127.0.0.1:{closed}"\n'
                               f'access_key_id_env = "{KEY_ENV}"\nsecret_access_key_env = "{SECRET_ENV}"\n'
                               "timeout_seconds = 1\n")
    workspace.account("news", "https://example.gov/feed.xml")
    result = workspace.cli("check-config")
    assert result.code == 1 and result.out == ""
    index_line, storage_line = result.err.splitlines()
    assert index_line.startswith(f"archiver: cannot reach the index at postgresql+psycopg://archiver@127.0.0.1:{closed}")
    assert storage_line.startswith(f"archiver: cannot reach the S3 endpoint http://127.0.0.1:{closed} for s3://records/")

    offline = workspace.cli("check-config", "--offline")
    assert offline.code == 0, offline.err
    assert offline.out.strip().endswith("(not contacted: --offline)")


def test_config_problems_are_bad_usage_before_anything_is_contacted(workspace: Workspace,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CITY_FEED_KEY", raising=False)
    [closed] = free_ports(1)
    workspace.database_url = f"postgresql+psycopg://archiver@127.0.0.1:{closed}/archiver"
    workspace.account("news", "https://example.gov/feed.xml", token_env="CITY_FEED_KEY")
    result = workspace.cli("check-config")
    assert result.code == 2
    assert result.err.splitlines() == [f"archiver: {workspace.config_path}: accounts[0].token_env: environment "
                                       "variable CITY_FEED_KEY is not set"]


def test_a_config_without_accounts_is_valid_but_warns_that_harvests_will_not_start(workspace: Workspace) -> None:
    workspace.write()
    result = workspace.cli("check-config", "--offline")
    assert result.code == 0, result.err
    assert result.out.startswith("config OK: 0 account(s)")
    assert "no accounts in the config" in result.err and "[[accounts]]" in result.err
    assert workspace.cli("harvest").code == 2
