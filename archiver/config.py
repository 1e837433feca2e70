"""The TOML configuration, validated on load.

Every problem is reported with its key path and a hint, all at once, so an operator fixes a
config in one pass. Credentials never appear in the file: keys ending in ``_env`` name the
environment variable that holds them.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from archiver.alerts.settings import AlertsSection
from archiver.capture.body import DEFAULT_BODY_MAX_BYTES
from archiver.credentials import credential, where
from archiver.exports.settings import ExportsSection
from archiver.retention.settings import FixitySection, RetentionSection, TimestampSection
from archiver.schedule import parse_schedule
from archiver.service.settings import ServiceSection
from archiver.units import parse_duration, parse_size
from archiver.web.settings import AuthSection, WebSection

DEFAULT_CONFIG = "archiver.toml"
PLATFORMS = ("facebook", "instagram", "threads", "x", "youtube", "mastodon", "bluesky", "linkedin", "rss")
ACCOUNT_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")  # also the ACCOUNT of ACCOUNT:PLATFORM-ID
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Keys that look like an inline credential; the value must come from the environment instead.
_INLINE_SECRET = re.compile(r"(token|secret|password|passwd|api_key|apikey|access_key|private_key)$")


class ConfigError(Exception):
    """A config that cannot be used; ``problems`` holds one "key.path: what (hint)" line each."""

    def __init__(self, problems: list[str], source: str = "config"):
        self.problems = problems
        self.source = source
        super().__init__(f"{source}: {problems[0]}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ArchiverSection(_Strict):
    data_dir: Path = Field(Path("archiver-data"), description="Index, spool and WARCs by default")
    agency: str = "Unnamed agency"


class DatabaseSection(_Strict):
    url: str | None = None


class StorageSection(_Strict):
    url: str | None = None
    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id_env: str | None = None
    secret_access_key_env: str | None = None
    object_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] | None = None
    retain_days: int | None = Field(None, ge=1)
    # A store that hangs: one request waits this long for an answer (3 attempts), one upload this long
    # in all; then the sealed WARC waits in the spool for the next attempt.
    timeout_seconds: float = Field(30.0, gt=0)
    upload_timeout_seconds: float = Field(300.0, gt=0)
    # After SIGTERM, storage still gets this long to answer; then the WARC is left in the spool (at most 25 s,
    # so that a stop takes under 30 s).
    stop_grace_seconds: float = Field(10.0, ge=0, le=25)

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("file://", "s3://")):
            raise ValueError("must start with file:// (a local folder) or s3:// (bucket and optional prefix)")
        if url is not None and url.startswith("s3://") and not url[5:].split("/", 1)[0]:
            raise ValueError("an s3:// URL needs a bucket name, e.g. s3://city-records/warcs")
        return url


class CaptureSection(_Strict):
    spool_dir: Path | None = None
    warc_max_bytes: int = 1_000_000_000
    warc_max_items: int = Field(2000, ge=1)  # also cut after this many observations or exchanges (bounded memory)
    user_agent: str = "gov-social-archiver (records retention; +https://example.invalid/archiver)"
    timeout_seconds: float = Field(30.0, gt=0)
    retries: int = Field(3, ge=0, le=20)
    retry_backoff_seconds: float = Field(2.0, ge=0)
    max_pages: int = Field(10_000, ge=1)
    media: bool = True
    media_max_bytes: int = Field(500_000_000, ge=1)  # a media file, once decoded: longer ones are cut here
    body_max_bytes: int = Field(DEFAULT_BODY_MAX_BYTES, ge=1)  # an API answer, once decoded: past it, an error

    @field_validator("warc_max_bytes", "media_max_bytes", "body_max_bytes", mode="before")
    @classmethod
    def _size(cls, value: Any) -> int:
        return parse_size(value)


class ServeSection(_Strict):
    """``archiver serve``: the webhook receivers (Meta at /webhooks/meta, YouTube pushes at /webhooks/youtube)."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    verify_token_env: str | None = None  # the NAME of the variable holding the Meta verify token
    max_body_bytes: int = 1_000_000
    # YouTube push (WebSub): the address the hub reaches this server at (callback public_url + /webhooks/youtube);
    # unset, no YouTube subscription is made.
    public_url: str | None = None
    websub_hub: str = "https://pubsubhubbub.appspot.com/subscribe"
    websub_lease: str = "5d"  # the lease asked of the hub; renewed when four fifths of the granted one have passed

    @field_validator("max_body_bytes", mode="before")
    @classmethod
    def _size(cls, value: Any) -> int:
        return parse_size(value)

    @field_validator("public_url", "websub_hub")
    @classmethod
    def _http(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return url.rstrip("/") if url else url

    @field_validator("websub_lease")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value


class AccountConfig(BaseModel):
    """One harvested account. Platform-specific keys are checked by the platform's connector."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str
    platform: Literal["facebook", "instagram", "threads", "x", "youtube", "mastodon", "bluesky", "linkedin", "rss"]
    id: str = Field(min_length=1)
    base_url: str | None = None
    schedule: str = "1h"
    token_env: str | None = None
    # Re-observation: items posted this recently are re-listed (with their comments) on every
    # harvest; the whole history is re-listed this often. Defaults depend on the platform.
    recheck_window: str | None = None
    full_sweep_every: str | None = None
    retention: str | None = None  # the code of the record series its items belong to ([[retention.series]])
    closed: date | None = None  # when the account was closed (the "account_closed" retention trigger)

    @field_validator("name")
    @classmethod
    def _slug(cls, name: str) -> str:
        if not ACCOUNT_NAME.match(name):
            raise ValueError("use lower-case letters, digits, '.', '_' or '-' (it becomes part of storage keys)")
        return name

    @field_validator("base_url")
    @classmethod
    def _http(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL that replaces the platform's API host")
        return url.rstrip("/") if url else url

    @field_validator("recheck_window", "full_sweep_every")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        from archiver.schedule import parse_schedule

        parse_schedule(value, minimum=1)  # its shape; the shortest allowed is [service] min_schedule
        return value

    @model_validator(mode="after")
    def _credentials_by_env(self) -> AccountConfig:
        for key in self.options():
            if key.endswith("_env"):
                continue
            if _INLINE_SECRET.search(key):
                raise ValueError(
                    f"'{key}' looks like a credential written into the config; put it in an environment "
                    f"variable and name that variable with '{key}_env'"
                )
        for key, value in self.env_keys().items():
            if not isinstance(value, str) or not _ENV_NAME.match(value):
                raise ValueError(f"'{key}' must be the NAME of an environment variable, e.g. CITY_FB_TOKEN")
        return self

    def options(self) -> dict[str, Any]:
        """Keys beyond the common ones, for the platform's connector."""
        return dict(self.model_extra or {})

    def env_keys(self) -> dict[str, str]:
        keys = {k: v for k, v in self.options().items() if k.endswith("_env")}
        if self.token_env is not None:
            keys["token_env"] = self.token_env
        return keys

    def secret(self, key: str, required: bool = True) -> str | None:
        """The credential named by ``key`` (e.g. "token_env"), read from the environment."""
        variable = self.env_keys().get(key)
        if variable is None:
            if required:
                raise ConfigError([f"accounts.{self.name}.{key}: missing; name the environment variable "
                                   f"holding this credential"])
            return None
        value = credential(variable)
        if not value and required:
            raise ConfigError([f"accounts.{self.name}.{key}: {where(variable)} "
                               f"(export it before starting the archiver)"])
        return value or None


class Config(_Strict):
    archiver: ArchiverSection = ArchiverSection()
    database: DatabaseSection = DatabaseSection()
    storage: StorageSection = StorageSection()
    capture: CaptureSection = CaptureSection()
    retention: RetentionSection = RetentionSection()
    fixity: FixitySection = FixitySection()
    timestamp: TimestampSection = TimestampSection()
    serve: ServeSection = ServeSection()
    service: ServiceSection = ServiceSection()
    alerts: AlertsSection = AlertsSection()
    exports: ExportsSection = ExportsSection()
    web: WebSection = WebSection()
    auth: AuthSection = AuthSection()
    accounts: list[AccountConfig] = []

    # Where the file was, so relative paths resolve against it, and its digest for warcinfo.
    base_dir: Path = Path(".")
    digest: str = ""

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        seen: dict[str, int] = {}
        for index, account in enumerate(self.accounts):
            if account.name in seen:
                raise ValueError(
                    f"accounts[{index}].name: '{account.name}' is already used by accounts[{seen[account.name]}]; "
                    "account names must be unique"
                )
            seen[account.name] = index
            try:
                parse_schedule(account.schedule, minimum=self.service.min_schedule_seconds)
            except ValueError as exc:
                raise ValueError(f"accounts[{index}].schedule: {exc} (or lower [service] min_schedule)") from None
            if account.retention is not None and self.retention.get(account.retention) is None:
                known = ", ".join(s.code for s in self.retention.series) or "none defined"
                raise ValueError(f"accounts[{index}].retention: no record series '{account.retention}' "
                                 f"(defined: {known}); add a [[retention.series]] with that code")
        return self

    # Resolved locations ---------------------------------------------------------------------
    def _resolve(self, path: Path) -> Path:
        """A data path: relative ones under systemd's ``$STATE_DIRECTORY`` if set, else beside the config."""
        state = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
        return path if path.is_absolute() else ((Path(state) if state else self.base_dir) / path).resolve()

    @property
    def data_dir(self) -> Path:
        return self._resolve(self.archiver.data_dir)

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.data_dir / 'index.sqlite'}"

    @property
    def storage_url(self) -> str:
        url = self.storage.url or f"file://{self.data_dir / 'warcs'}"
        if url.startswith("file://") and not url[7:].startswith("/"):
            url = f"file://{self._resolve(Path(url[7:]))}"
        return url

    @property
    def spool_dir(self) -> Path:
        return self._resolve(self.capture.spool_dir or self.archiver.data_dir / "spool")

    def account(self, name: str) -> AccountConfig:
        for account in self.accounts:
            if account.name == name:
                return account
        known = ", ".join(a.name for a in self.accounts) or "none configured"
        raise ConfigError([f"no account named '{name}' (known: {known})"])

    def selected(self, names: list[str]) -> list[AccountConfig]:
        return [self.account(n) for n in names] if names else list(self.accounts)


def _location(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for piece in loc:
        if isinstance(piece, int):
            parts.append(f"[{piece}]")
        elif piece in PLATFORMS or piece.startswith(("function-", "literal")):
            continue
        else:
            parts.append(("." if parts else "") + str(piece))
    return "".join(parts) or "(top level)"


def _hint(error: dict[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key; check its spelling against config.example.toml"
    if kind == "missing":
        return "required key is missing"
    if kind == "literal_error" and error["loc"][-1] == "platform":
        return f"{error['input']!r} is not a platform; use one of {', '.join(PLATFORMS)}"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _problems(error: ValidationError) -> list[str]:
    lines = []
    for item in error.errors():
        message = _hint(item)
        if message.startswith("accounts["):  # already carries its own path
            lines.append(message)
        else:
            lines.append(f"{_location(item['loc'])}: {message}")
    return lines


def _platform_problems(config: Config) -> Iterator[str]:
    from connectors import registry

    for index, account in enumerate(config.accounts):
        connector = registry.get(account.platform)
        if connector is None:
            yield f"accounts[{index}].platform: '{account.platform}' has no connector in this version yet"
            continue
        for problem in connector.check_account(account):
            yield f"accounts[{index}].{problem}"


def _resolve_file_ids(config: Config, base_dir: Path) -> Config:
    """``file://relative/path`` account ids point next to the config file, like every other path."""
    accounts = [
        account.model_copy(update={"id": f"file://{(base_dir / account.id[7:]).resolve()}"})
        if account.id.startswith("file://") and not account.id[7:].startswith("/") else account
        for account in config.accounts
    ]
    return config.model_copy(update={"accounts": accounts})


def parse_config(text: str, *, base_dir: Path, source: str = "config", check_platforms: bool = True) -> Config:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"not valid TOML: {exc}"], source) from None
    try:
        config = Config(**raw, base_dir=base_dir, digest="sha256:" + hashlib.sha256(text.encode()).hexdigest())
    except ValidationError as exc:
        raise ConfigError(_problems(exc), source) from None
    except TypeError as exc:  # e.g. "accounts" given as a table instead of [[accounts]]
        raise ConfigError([f"wrong shape: {exc}; see config.example.toml"], source) from None
    config = _resolve_file_ids(config, base_dir)
    if check_platforms:
        problems = list(_platform_problems(config))
        if problems:
            raise ConfigError(problems, source)
    return config


def config_path(explicit: str | None) -> Path:
    return Path(explicit or os.environ.get("ARCHIVER_CONFIG") or DEFAULT_CONFIG)


def load_config(path: Path) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"file not found: {path} (give --config PATH or set ARCHIVER_CONFIG)"], str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"cannot read {path}: {exc}"], str(path)) from None
    return parse_config(text, base_dir=path.resolve().parent, source=str(path))


def missing_credentials(config: Config) -> Iterator[str]:
    """Environment variables named by the config but unset: fatal for a harvest, a warning otherwise."""
    for index, account in enumerate(config.accounts):
        for key, variable in account.env_keys().items():
            if not credential(variable):
                yield f"accounts[{index}].{key}: {where(variable)}"
    for key in ("access_key_id_env", "secret_access_key_env"):
        variable = getattr(config.storage, key)
        if variable and not credential(variable):
            yield f"storage.{key}: {where(variable)}"


def configured_secrets(config: Config) -> list[str]:
    """The values of every credential the config names, so logs and records can mask them."""
    names = [v for account in config.accounts for v in account.env_keys().values()]
    names += [n for n in (config.storage.access_key_id_env, config.storage.secret_access_key_env,
                          config.serve.verify_token_env, config.web.secret_key_env,
                          config.auth.oidc.client_secret_env if config.auth.oidc else None,
                          *config.alerts.env_keys()) if n]
    return [value for name in names if (value := credential(name))]


__all__ = [
    "AccountConfig",
    "Config",
    "ConfigError",
    "config_path",
    "load_config",
    "missing_credentials",
    "parse_config",
    "parse_duration",
]
