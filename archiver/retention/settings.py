"""The ``[retention]``, ``[fixity]`` and ``[timestamp]`` config sections.

Record series are the agency's own: nothing about how long anything is kept is hard-coded.
A series says how long (``keep``), from what (``trigger``) and what happens then
(``action``); accounts name their series with ``retention = "CODE"``, and items carrying one of
a series' ``tags`` are governed by that series instead.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_KEEP = re.compile(r"^\s*(\d+)\s*(d|w|mo|y)\s*$", re.IGNORECASE)
PERMANENT = "permanent"


@dataclass(frozen=True)
class Keep:
    """A retention period: calendar days, weeks, months or years, or permanent.

    >>> from datetime import UTC
    >>> Keep.parse("3y").after(datetime(2024, 2, 29, tzinfo=UTC)).date().isoformat()
    '2027-02-28'
    >>> Keep.parse("90d").after(datetime(2026, 1, 1, tzinfo=UTC)).date().isoformat()
    '2026-04-01'
    >>> Keep.parse("permanent").after(datetime(2026, 1, 1, tzinfo=UTC)) is None
    True
    """

    count: int
    unit: str  # d, w, mo, y, or "permanent"

    @classmethod
    def parse(cls, text: str) -> Keep:
        if text.strip().lower() == PERMANENT:
            return cls(0, PERMANENT)
        match = _KEEP.match(text)
        if not match:
            raise ValueError(f"{text!r} is not a retention period; write it like '90d', '6w', '18mo', '3y' "
                             "or 'permanent'")
        return cls(int(match.group(1)), match.group(2).lower())

    @property
    def permanent(self) -> bool:
        return self.unit == PERMANENT

    def after(self, moment: datetime) -> datetime | None:
        """When a period started at ``moment`` ends (None: never)."""
        from datetime import timedelta

        if self.permanent:
            return None
        if self.unit in ("d", "w"):
            return moment + timedelta(days=self.count * (7 if self.unit == "w" else 1))
        months = self.count * (12 if self.unit == "y" else 1)
        year, month = divmod(moment.month - 1 + months, 12)
        year += moment.year
        day = min(moment.day, calendar.monthrange(year, month + 1)[1])
        return moment.replace(year=year, month=month + 1, day=day)

    def __str__(self) -> str:
        return PERMANENT if self.permanent else f"{self.count}{self.unit}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RecordSeries(_Strict):
    code: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1)
    authority: str = ""  # the schedule item that authorizes disposition, e.g. "GRS 6.4 item 020"
    keep: str
    trigger: Literal["posted", "captured", "account_closed"]
    action: Literal["destroy", "transfer"] = "destroy"
    tags: list[str] = []

    @field_validator("keep")
    @classmethod
    def _keep(cls, value: str) -> str:
        Keep.parse(value)
        return value

    @property
    def period(self) -> Keep:
        return Keep.parse(self.keep)


class RetentionSection(_Strict):
    series: list[RecordSeries] = []
    # WARCs holding permanent records get an Object Lock this long from upload ("none": no lock).
    permanent_lock: str = "10y"
    transfer_dir: Path | None = None  # default: <data_dir>/transfers

    @field_validator("permanent_lock")
    @classmethod
    def _lock(cls, value: str) -> str:
        if value.strip().lower() != "none" and Keep.parse(value).permanent:
            raise ValueError("must be a period such as '10y' (an Object Lock needs a date), or 'none'")
        return value

    @model_validator(mode="after")
    def _unique(self) -> RetentionSection:
        codes: set[str] = set()
        tags: dict[str, str] = {}
        for index, series in enumerate(self.series):
            if series.code in codes:
                raise ValueError(f"series[{index}].code: '{series.code}' is used twice; codes are unique")
            codes.add(series.code)
            for tag in series.tags:
                if tag in tags:
                    raise ValueError(f"series[{index}].tags: tag '{tag}' already selects series "
                                     f"'{tags[tag]}'; a tag can select one series only")
                tags[tag] = series.code
        return self

    def get(self, code: str | None) -> RecordSeries | None:
        return next((s for s in self.series if s.code == code), None)

    def by_tag(self) -> dict[str, RecordSeries]:
        return {tag: series for series in self.series for tag in series.tags}

    @property
    def permanent_period(self) -> Keep | None:
        return None if self.permanent_lock.strip().lower() == "none" else Keep.parse(self.permanent_lock)


class FixitySection(_Strict):
    schedule: str = "1d"  # how often the daemon verifies stored WARCs
    sample: int = Field(25, ge=0)  # WARCs per scheduled run, chosen at random; 0 = every WARC
    records: bool = False  # scheduled runs also check every record's digests (the slower, deeper check)
    workers: int | None = Field(None, ge=1)  # WARCs checked at once; unset: one per CPU (at most 8)

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        from archiver.schedule import parse_schedule

        parse_schedule(value)
        return value


class TimestampSection(_Strict):
    url: str | None = None  # an RFC 3161 time-stamping authority; unset: no daily digest
    ca_file: Path | None = None  # PEM: the TSA's root certificate(s), to verify every reply
    schedule: str = "0 1 * * *"  # when the daemon time-stamps the previous day's digest (UTC)
    timeout_seconds: float = Field(30.0, gt=0)

    @field_validator("url")
    @classmethod
    def _http(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("must be the http:// or https:// address of an RFC 3161 time-stamping authority")
        return url

    @model_validator(mode="after")
    def _ca(self) -> TimestampSection:
        if self.url and self.ca_file is None:
            raise ValueError("ca_file is required with url; name a PEM file with the TSA's "
                             "root certificate so every reply can be verified")
        return self
