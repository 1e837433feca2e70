"""The ``[exports]`` config section: Bates numbering, the certifier, extra redaction patterns."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RedactionPattern(_Strict):
    name: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")
    pattern: str

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression ({exc}); "
                             "check the escaping (use a TOML 'literal' string)") from None
        return value


class ExportsSection(_Strict):
    """Records-request and production packages (``archiver export CASE``)."""

    bates_prefix: str = Field("ARCH", pattern=r"^[A-Za-z0-9_-]{0,20}$")
    bates_start: int = Field(1, ge=1)
    bates_padding: int = Field(6, ge=1, le=12)
    # Extra personal-data patterns for redaction, beyond SSNs, phones, e-mails, addresses and birth dates.
    redaction_patterns: list[RedactionPattern] = []
    certifier: str = ""  # the custodian named on the certificate; asked at signing if empty
