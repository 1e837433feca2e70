"""The ``[web]`` and ``[auth.oidc]`` config sections of the web app ``archiver serve`` runs.

``[web]``: whether it runs, its sessions (idle and absolute expiry), the cookie's Secure flag
(on: the app is meant to sit behind the agency's HTTPS proxy), and where its signing key comes
from (``secret_key_env``, else a random key kept in ``<data_dir>/web/secret-key``, mode 0600).
``[auth.oidc]``: the agency's single sign-on (Entra ID, Okta, Google Workspace...): issuer,
client id, the secret by environment variable, and which claim values give which role.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from archiver.units import parse_duration

ROLE_NAMES = ("admin", "records_manager", "legal", "clerk", "read_only")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WebSection(_Strict):
    enabled: bool = True
    session_idle: timedelta = timedelta(minutes=30)
    session_absolute: timedelta = timedelta(hours=12)
    secure_cookies: bool = True
    secret_key_env: str | None = None
    login_attempts_per_ip: int = Field(20, ge=1)  # failed sign-ins per address per 15 minutes
    page_size: int = Field(50, ge=10, le=500)

    @field_validator("session_idle", "session_absolute", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return value if isinstance(value, timedelta) else parse_duration(value)


class OidcSection(_Strict):
    issuer: str = Field(pattern=r"^https?://")
    client_id: str = Field(min_length=1)
    client_secret_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    scopes: str = "openid email profile"
    username_claim: str = "email"
    role_claim: str = "groups"
    # claim value (a group or app role) → archiver role; the first match in ROLE_NAMES order wins
    roles: dict[str, str] = {}
    default_role: str | None = None  # for people whose claims match no entry; unset: they are refused
    button: str = "Sign in with your agency account"

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, roles: dict[str, str]) -> dict[str, str]:
        for value, role in roles.items():
            if role not in ROLE_NAMES:
                raise ValueError(f"roles.{value}: {role!r} is not a role; use one of {', '.join(ROLE_NAMES)}")
        return roles

    @field_validator("default_role")
    @classmethod
    def _known_default(cls, role: str | None) -> str | None:
        if role is not None and role not in ROLE_NAMES:
            raise ValueError(f"{role!r} is not a role; use one of {', '.join(ROLE_NAMES)}")
        return role


class AuthSection(_Strict):
    oidc: OidcSection | None = None
