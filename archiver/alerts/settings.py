"""``[alerts]``: where alerts go (a webhook, e-mail or both) and how often they repeat.

The webhook's URL of Slack and Teams is itself a credential: give it by ``webhook_url_env``
(the NAME of an environment variable or systemd credential) rather than ``webhook_url``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from archiver.units import parse_duration, parse_size

_ENV_KEYS = ("webhook_url_env", "smtp_user_env", "smtp_password_env")


class AlertsSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    webhook_url: str | None = None
    webhook_url_env: str | None = None
    format: Literal["generic", "slack", "teams"] = "generic"
    smtp_host: str | None = None
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_security: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_user_env: str | None = None
    smtp_password_env: str | None = None
    smtp_ca_file: Path | None = None  # PEM of a private CA the mail server's certificate is signed by
    sender: str | None = Field(None, alias="from")
    to: list[str] = []
    repeat_every: str = "1d"  # an open condition is alerted again this often, until it clears
    check_every: str = "1m"  # how often the daemon looks for conditions
    failures_before_alert: int = Field(3, ge=1)  # harvests in a row that failed
    spool_max_bytes: int = 10_000_000_000  # WARCs waiting in the spool beyond this: storage is not keeping up
    timeout_seconds: float = Field(10.0, gt=0)

    @field_validator("webhook_url")
    @classmethod
    def _http(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return url

    @field_validator("to", mode="before")
    @classmethod
    def _recipients(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("repeat_every", "check_every")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("spool_max_bytes", mode="before")
    @classmethod
    def _size(cls, value: Any) -> int:
        return parse_size(value)

    @model_validator(mode="after")
    def _consistent(self) -> AlertsSection:
        if self.webhook_url and self.webhook_url_env:
            raise ValueError("give webhook_url or webhook_url_env, not both")
        for key in _ENV_KEYS:
            value = getattr(self, key)
            if value is not None and not value.replace("_", "a").isalnum():
                raise ValueError(f"{key} must be the NAME of an environment variable, e.g. ARCHIVER_SMTP_PASSWORD")
        if self.smtp_host:
            if not self.sender or not self.to:
                raise ValueError("e-mail needs 'from' and 'to' with smtp_host")
            bad = [a for a in [self.sender, *self.to] if "@" not in a]
            if bad:
                raise ValueError(f"{bad[0]!r} is not an e-mail address")
            if self.smtp_security == "none" and self.smtp_password_env:
                raise ValueError("smtp_security = \"none\" would send the SMTP password in clear; "
                                 "use \"starttls\" or \"ssl\"")
        elif self.to or self.sender:
            raise ValueError("'to' and 'from' need smtp_host (the mail server to send through)")
        return self

    def env_keys(self) -> list[str]:
        """The names of the credentials this section uses."""
        return [name for key in _ENV_KEYS if (name := getattr(self, key))]

    @property
    def repeat_seconds(self) -> float:
        return parse_duration(self.repeat_every).total_seconds()

    @property
    def check_seconds(self) -> float:
        return parse_duration(self.check_every).total_seconds()
