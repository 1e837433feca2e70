"""``[service]``: where ``archiver run`` serves ``/healthz`` and ``/metrics``."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from archiver.units import parse_duration

_LISTEN = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9.-]+)):(?P<port>\d{1,5})$")


def parse_listen(value: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:9464`` for IPv6) as a pair.

    >>> parse_listen("127.0.0.1:9464"), parse_listen("[::1]:0")
    (('127.0.0.1', 9464), ('::1', 0))
    """
    match = _LISTEN.match(value.strip())
    if not match or int(match["port"]) > 65535:
        raise ValueError(f"{value!r} is not host:port; write it like \"127.0.0.1:9464\" (\"[::1]:9464\" for IPv6)")
    return match["v6"] or match["host"], int(match["port"])


class ServiceSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    listen: str | None = None  # e.g. "127.0.0.1:9464": /healthz and /metrics of `archiver run`; unset: off
    check_every: str = "15s"  # how often health probes ask the index and the store
    check_timeout: str = "10s"  # a probe without an answer by then makes /healthz say 503
    # How long a daemon's claim on an account's harvest lasts without renewal (archiver/leases.py):
    # a daemon that dies has its accounts taken over by another within this time.
    lease: str = "2m"
    # The shortest account schedule allowed: platforms throttle faster polling. Lower it only for
    # feeds the agency runs itself (or a test rig).
    min_schedule: str = "1m"

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str | None) -> str | None:
        if value is not None:
            parse_listen(value)
        return value

    @field_validator("check_every", "check_timeout", "lease", "min_schedule", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> str:
        if parse_duration(value).total_seconds() <= 0:
            raise ValueError("must be at least one second, e.g. '15s'")
        return f"{value}s" if isinstance(value, int | float) else str(value)

    @property
    def address(self) -> tuple[str, int] | None:
        return parse_listen(self.listen) if self.listen else None

    @property
    def check_seconds(self) -> float:
        return parse_duration(self.check_every).total_seconds()

    @property
    def lease_seconds(self) -> float:
        return parse_duration(self.lease).total_seconds()

    @property
    def min_schedule_seconds(self) -> float:
        return parse_duration(self.min_schedule).total_seconds()

    @property
    def timeout_seconds(self) -> float:
        return parse_duration(self.check_timeout).total_seconds()
