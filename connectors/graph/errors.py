"""The Graph API error envelope, classified by code (never by message or HTTP status alone).

``{"error": {"message", "type", "code", "error_subcode", "is_transient", "fbtrace_id"}}``:
190 is a token problem (subcodes say which), 10 and 200-299 a missing permission, 100 either an
object that does not exist (subcode 33) or a missing permission, 4/17/32/613/8000x throttling,
1/2 a transient platform fault.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from connectors.base import CapturedResponse
from connectors.untrusted import clean

TOKEN_SUBCODES = {
    458: "the app is not installed for the user who issued the token",
    459: "the user who issued the token is checkpointed (must log in to Facebook)",
    460: "the token was invalidated (the user changed their password or logged out)",
    463: "the token has expired",
    464: "the user who issued the token is not confirmed",
    467: "the token is invalid",
    492: "the token's session is invalid (the user lost their role on the Page)",
}
THROTTLE_CODES = {
    4: "the app's request limit was reached",
    17: "the user's request limit was reached",
    32: "the Page's request limit was reached",
    613: "too many calls within one hour",
    80001: "too many calls to this Page (business use case limit)",
    80002: "too many calls to this Instagram account (business use case limit)",
    80005: "too many calls (business use case limit)",
    80006: "too many calls (business use case limit)",
}
MISSING_SUBCODE = 33  # "Object with ID … does not exist, cannot be loaded due to missing permissions…"
_PERMISSION = re.compile(r"'((?:pages|instagram|threads|business|read|public|publish|user)_[a-z_]+)'")


@dataclass(frozen=True)
class GraphError:
    code: int
    subcode: int | None
    message: str
    error_type: str = ""
    transient: bool = False
    trace: str | None = None

    @classmethod
    def of(cls, response: CapturedResponse) -> GraphError | None:
        """The error a response carries, if it is a Graph error envelope."""
        if 200 <= response.status < 300 and b'"error"' not in response.body[:64]:
            return None
        try:
            body = json.loads(response.body)
        except (ValueError, RecursionError):
            return None
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict) or not isinstance(error.get("code"), int):
            return None
        subcode = error.get("error_subcode")
        message, kind, trace = (error.get(k) for k in ("message", "type", "fbtrace_id"))
        return cls(error["code"], subcode if isinstance(subcode, int) else None,
                   clean(message) if isinstance(message, str) else "", clean(kind) if isinstance(kind, str) else "",
                   error.get("is_transient") is True, clean(trace) if isinstance(trace, str) else None)

    @property
    def kind(self) -> str:
        """token | permission | quota | missing | outage | platform (the coverage cause, or "missing")."""
        if self.code in (190, 102):
            return "token"
        if self.code in THROTTLE_CODES:
            return "quota"
        if self.code == 100 and self.subcode == MISSING_SUBCODE:
            return "missing"
        if (self.code in (10, 100) and self.permissions) or self.code == 10 or 200 <= self.code <= 299:
            return "permission"
        if self.code in (1, 2) or self.transient:
            return "outage"
        return "platform"

    @property
    def permissions(self) -> list[str]:
        """The permissions the message names as missing (Meta names them in quotes)."""
        return list(dict.fromkeys(_PERMISSION.findall(self.message)))

    def describe(self, where: str, needs: tuple[str, ...] = ()) -> str:
        """One line for the operator: what failed, why, and what to do."""
        code = f"Graph error {self.code}" + (f"/{self.subcode}" if self.subcode else "")
        kind = self.kind
        if kind == "token":
            why = TOKEN_SUBCODES.get(self.subcode or 0, "the access token was rejected")
            return (f"{where}: {why} ({code}); the account is disconnected — set a new Page token in its "
                    "token_env variable and harvest again: the next harvest fills the gap")
        if kind == "permission":
            missing = self.permissions or list(needs)
            named = ", ".join(missing) if missing else "a permission the endpoint needs"
            return (f"{where}: the token lacks {named} ({code}); grant it to the app for this Page and "
                    "issue a new token")
        if kind == "quota":
            return f"{where}: throttled — {THROTTLE_CODES[self.code]} ({code})"
        text = self.message.splitlines()[0][:200] if self.message else "no message"
        return f"{where}: {code}: {text}"
