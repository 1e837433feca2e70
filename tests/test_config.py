"""Config validation: every problem, with its key path and a hint; exit 2 before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from archiver.config import ConfigError, parse_config
from archiver.schedule import parse_schedule
from archiver.units import parse_duration, parse_size
from conftest import ROOT, Workspace, run_cli


def problems(text: str, tmp_path: Path) -> list[str]:
    with pytest.raises(ConfigError) as failure:
        parse_config(text, base_dir=tmp_path)
    return failure.value.problems


def test_example_config_is_valid_and_uses_embedded_defaults() -> None:
    config = parse_config((ROOT / "config.example.toml").read_text(), base_dir=ROOT)
    assert config.database_url == f"sqlite:///{ROOT / 'archiver-data' / 'index.sqlite'}"
    assert config.storage_url == f"file://{ROOT / 'archiver-data' / 'warcs'}"
    assert config.accounts[0].id == f"file://{ROOT / 'examples' / 'feeds' / 'city-news.xml'}"


def test_every_problem_is_reported_with_its_key_path(tmp_path: Path) -> None:
    found = problems(
        """
        [storage]
        url = "ftp://nowhere"
        [capture]
        warc_max_bytes = "lots"
        colour = "blue"
        [[accounts]]
        name = "City News"
        platform = "facebok"
        id = "123"
        schedule = "sometimes"
        """,
        tmp_path,
    )
    text = "\n".join(found)
    assert "storage.url: must start with file://" in text
    assert "capture.warc_max_bytes: 'lots' is not a size" in text
    assert "capture.colour: unknown key" in text
    assert "accounts[0].name: use lower-case letters" in text
    assert "accounts[0].platform: 'facebok' is not a platform; use one of facebook" in text
    assert "accounts[0].schedule: 'sometimes' is not a schedule" in text
    assert len(found) == 6


def test_duplicate_account_name(tmp_path: Path) -> None:
    found = problems(
        """
        [[accounts]]
        name = "news"
        platform = "rss"
        id = "https://example.gov/a.xml"
        [[accounts]]
        name = "news"
        platform = "rss"
        id = "https://example.gov/b.xml"
        """,
        tmp_path,
    )
    assert found == ["accounts[1].name: 'news' is already used by accounts[0]; account names must be unique"]


def test_credentials_only_by_environment_variable(tmp_path: Path) -> None:
    found = problems(
        """
        [[accounts]]
        name = "page"
        platform = "rss"
        id = "https://example.gov/a.xml"
        access_token = "EAAB-inline-secret"
        """,
        tmp_path,
    )
    assert "put it in an environment variable and name that variable with 'access_token_env'" in found[0]
    found = problems('[[accounts]]\nname = "p"\nplatform = "rss"\nid = "https://x/a"\ntoken_env = "not a name"',
                     tmp_path)
    assert "must be the NAME of an environment variable" in found[0]


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    [found] = problems("[storage\nurl = 1", tmp_path)
    assert found.startswith("not valid TOML") and "line 1" in found


def test_rss_account_needs_a_feed_url(tmp_path: Path) -> None:
    found = problems('[[accounts]]\nname = "p"\nplatform = "rss"\nid = "city-news"\ncolour = "red"', tmp_path)
    assert "accounts[0].colour: unknown key for platform 'rss'; check its spelling against config.example.toml" in found
    assert any(p.startswith("accounts[0].id: 'city-news' is not a feed URL") for p in found)


def test_units_and_schedules() -> None:
    assert parse_size("1GB") == 10**9 and parse_size("64KiB") == 65536 and parse_size(5) == 5
    assert parse_duration("30d").days == 30
    assert type(parse_schedule("0 */2 * * *")).__name__ == "CronTrigger"
    with pytest.raises(ValueError, match="shorter than one minute"):
        parse_schedule("10s")


def test_check_config_exit_codes(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    workspace.account("news", "https://example.gov/feed.xml", token_env="CITY_FEED_KEY")
    workspace.write()
    monkeypatch.delenv("CITY_FEED_KEY", raising=False)
    result = workspace.cli("check-config")
    assert result.code == 2
    assert "accounts[0].token_env: environment variable CITY_FEED_KEY is not set" in result.err
    monkeypatch.setenv("CITY_FEED_KEY", "k3y-value")
    result = workspace.cli("check-config", "--connect")
    assert result.code == 0 and "config OK: 1 account(s)" in result.out
    workspace.config_path.write_text("[[accounts]]\nname='x'\n")
    result = workspace.cli("check-config")
    assert result.code == 2
    assert "accounts[0].platform: required key is missing" in result.err
    assert run_cli("--config", str(workspace.root / "missing.toml"), "accounts").code == 2
    assert run_cli("no-such-command").code == 2
