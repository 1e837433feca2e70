"""A local Graph API for tests, benchmarks and the demo: real HTTP on 127.0.0.1, real shapes.

It answers the way ``graph.facebook.com`` does (error envelopes, ``paging`` with cursors or
times, usage headers on every response) for a model that holds the data — a Facebook Page
(``connectors.facebook.fakepage``) or an Instagram account (``connectors.instagram.fakeaccount``)
— and misbehaves on demand::

    from connectors.facebook.fakepage import FakePage
    from connectors.graph.fakeserver import FakeGraphServer

    with FakeGraphServer(FakePage.synthetic(posts=50, comments=400), tokens={"PAGE-TOKEN"}) as server:
        server.expire_after = 20      # every token expires after 20 more answered calls (190/463)
        server.budget = 30            # calls per window_seconds before code 80001
        server.permissions.discard("pages_read_user_content")   # code 10 naming it

Checked in this order for API calls: delay, ``status`` (5xx with a transient error body),
``fail_next``, token (104 missing, 190/463 expired, 190/467 unknown), ``appsecret_proof``, budget
(throttling), version, then the model's answer (which checks permissions); ``mangle`` rewrites a 200
answer (wrong types, dropped fields); ``truncate`` cuts the JSON body in half. ``/media/NAME`` serves
media bytes. An error of the fake itself is recorded (``connectors.fakehttp``) and fails the test.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit

from connectors.fakehttp import JsonHandler, LocalServer, LoopbackServer

THROTTLE_MESSAGES = {
    4: "(#4) Application request limit reached",
    17: "(#17) User request limit reached",
    32: "(#32) Page request limit reached",
    613: "(#613) Calls to this api have exceeded the rate limit.",
    80001: "(#80001) There have been too many calls to this Page account. Wait a bit and try again.",
    80002: "(#80002) There have been too many calls to this Instagram account. Wait a bit and try again.",
}


def error_body(code: int, message: str, subcode: int | None = None, transient: bool = False) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if transient:
        error["is_transient"] = True
    error["fbtrace_id"] = base64.urlsafe_b64encode(secrets.token_bytes(15)).decode()
    return {"error": error}


def missing_object(object_id: str) -> tuple[int, dict[str, Any]]:
    return 400, error_body(100, f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be "
                                "loaded due to missing permissions, or does not support this operation. Please read "
                                "the Graph API documentation at https://developers.facebook.com/docs/graph-api", 33)


def missing_permission(permission: str) -> tuple[int, dict[str, Any]]:
    return 403, error_body(10, f"(#10) This endpoint requires the '{permission}' permission or the 'Page Public "
                               "Content Access' feature. Refer to https://developers.facebook.com/docs/apps/review/"
                               "login-permissions#manage-pages for details.")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    modifiers: dict[str, str]
    sub: dict[str, FieldSpec] | None
    sub_text: str = ""  # the nested field list as written


def parse_fields(spec: str) -> dict[str, FieldSpec]:
    """``id,comments.filter(stream).limit(5){id,parent{id}}`` → {name: FieldSpec}.

    >>> sorted(parse_fields("id,comments.filter(stream).limit(5){id,parent{id}}")["comments"].modifiers.items())
    [('filter', 'stream'), ('limit', '5')]
    """
    fields: dict[str, FieldSpec] = {}
    depth, start = 0, 0
    for index, char in enumerate(spec + ","):
        if char in "{(":
            depth += 1
        elif char in "})":
            depth -= 1
        elif char == "," and depth == 0:
            part = spec[start:index].strip()
            start = index + 1
            if not part:
                continue
            sub, inner = None, ""
            if "{" in part:
                part, inner = part.split("{", 1)
                inner = inner[:-1]
                sub = parse_fields(inner)
            name, *mods = part.split(".")
            modifiers = dict(m[:-1].split("(", 1) for m in mods if "(" in m and m.endswith(")"))
            fields[name.strip()] = FieldSpec(name.strip(), modifiers, sub, inner)
    return fields


@dataclass
class GraphRequest:
    """One API call as a model sees it."""

    path: list[str]  # after the version: ["123", "feed"]
    query: dict[str, str]
    token: str | None
    root: str  # http://127.0.0.1:PORT/v26.0
    media_root: str  # http://127.0.0.1:PORT/media

    @property
    def fields(self) -> dict[str, FieldSpec]:
        return parse_fields(self.query.get("fields", ""))

    def url(self, path: str, **query: Any) -> str:
        """A link as the real API writes it: absolute, with the caller's token in it."""
        params = {k: str(v) for k, v in query.items() if v is not None}
        if self.token:
            params["access_token"] = self.token
        return f"{self.root}/{path}?{urlencode(params)}"


class GraphModel(Protocol):
    permissions: set[str]

    def answer(self, request: GraphRequest) -> tuple[int, Any]: ...

    def media_file(self, name: str) -> bytes | None: ...

    def usage_object(self) -> str: ...


def cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def offset_of(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().split(":", 1)[1])
    except (ValueError, IndexError):
        return -1


def paged(request: GraphRequest, items: list[Any], path: str, *, default_limit: int = 25,
          time_field: str | None = None, extra: dict[str, Any] | None = None,
          instagram: bool = False) -> tuple[list[Any], dict[str, Any]]:
    """A slice of ``items`` and its ``paging``: cursor paging, or time paging when ``time_field`` names
    the items' datetime attribute (``until=…&__paging_token=…``, as /posts answers). Instagram's
    style: only ``cursors.after`` and ``next``, and no ``paging`` at all on the last page."""
    limit = min(int(request.query.get("limit", default_limit) or default_limit), 100)
    token = request.query.get("__paging_token") if time_field else request.query.get("after")
    start = max(offset_of(token), 0)
    chunk = items[start:start + limit]
    keep = {k: v for k, v in request.query.items() if k not in ("after", "before", "until", "since",
                                                                "__paging_token", "__previous", "access_token")}
    paging: dict[str, Any] = {}
    if not time_field and chunk:
        paging["cursors"] = {"before": cursor(start), "after": cursor(start + len(chunk))}
    if start > 0:
        paging["previous"] = request.url(path, **keep, before=cursor(start)) if not time_field else \
            request.url(path, **keep, since=int(getattr(chunk[0], time_field).timestamp()) if chunk else 0,
                        __paging_token=cursor(start), __previous=1)
    if start + limit < len(items):
        paging["next"] = request.url(path, **keep, after=cursor(start + limit)) if not time_field else \
            request.url(path, **keep, until=int(getattr(chunk[-1], time_field).timestamp()),
                        __paging_token=cursor(start + limit))
    if instagram:
        paging = {"cursors": {"after": cursor(start + limit)}, "next": paging["next"]} if "next" in paging else {}
    return chunk, ({"paging": paging} if paging else {}) | (extra or {})


@dataclass(frozen=True)
class RecordedCall:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int


@dataclass
class FakeGraphServer(LocalServer):
    model: GraphModel
    tokens: set[str] = field(default_factory=set)  # valid tokens; empty set: any token is accepted
    app_secret: str | None = None  # when set, appsecret_proof must match
    version: str = "v26.0"
    port: int = 0
    expire_after: int | None = None  # answered API calls until every current token expires
    expired: dict[str, int] = field(default_factory=dict)  # token → subcode (463 expired, 460 invalidated)
    budget: int | None = None  # API calls per window before throttling
    window_seconds: float = 1.0
    throttle_code: int = 80001
    regain_minutes: int = 0  # what the usage header says while throttled
    status: int | None = None  # every API call answers this (5xx) while set
    fail_next: int = 0  # the next N API calls answer 500
    delay_seconds: float = 0.0
    truncate: bool = False
    object_faults: dict[str, int] = field(default_factory=dict)  # object id → status of its direct lookups
    # A bad day's payloads: every 200 answer goes through mangle(path after the version, body) -> body
    # (wrong types, dropped fields), as the platform sends them now and then.
    mangle: Callable[[list[str], Any], Any] | None = None
    calls: list[RecordedCall] = field(default_factory=list)
    base_url: str = ""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._recent: deque[float] = deque()
        self._answered = 0
        self._stopping = threading.Event()
        self._httpd: LoopbackServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def permissions(self) -> set[str]:
        return self.model.permissions

    def api_calls(self, path_part: str = "") -> list[RecordedCall]:
        with self._lock:
            return [c for c in self.calls if not c.path.startswith("/media/") and path_part in c.path]

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _Handler

    # Answering ---------------------------------------------------------------------------------
    def _usage(self, throttled: bool) -> list[tuple[str, str]]:
        now = time.monotonic()
        while self._recent and now - self._recent[0] > self.window_seconds:
            self._recent.popleft()
        percent = int(100 * len(self._recent) / self.budget) if self.budget else min(len(self._recent), 5)
        regain = self.regain_minutes if throttled else 0
        app = {"call_count": percent, "total_cputime": percent // 3, "total_time": percent // 2}
        buc = {self.model.usage_object(): [{"type": "pages", "call_count": percent, "total_cputime": percent // 3,
                                            "total_time": percent // 2, "estimated_time_to_regain_access": regain,
                                            "ads_api_access_tier": "standard_access"}]}
        return [("X-App-Usage", json.dumps(app, separators=(",", ":"))),
                ("X-Business-Use-Case-Usage", json.dumps(buc, separators=(",", ":")))]

    def answer(self, path: str, query: dict[str, str],
               headers: dict[str, str]) -> tuple[int, Any, list[tuple[str, str]]]:
        with self._lock:
            if self.status is not None or self.fail_next > 0:
                self.fail_next = max(self.fail_next - 1, 0)
                return self.status or 500, error_body(2, "An unexpected error has occurred. Please retry your request "
                                                         "later.", transient=True), []
            token = query.get("access_token") or _bearer(headers)
            if not token:
                return 400, error_body(104, "An access token is required to request this resource."), []
            if token in self.expired:
                return 400, self._token_error(self.expired[token]), []
            if self.tokens and token not in self.tokens:
                return 400, error_body(190, "Invalid OAuth access token - Cannot parse access token", 467), []
            if self.app_secret is not None:
                proof = hmac.new(self.app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
                if not hmac.compare_digest(query.get("appsecret_proof", ""), proof):
                    return 400, error_body(100, "Invalid appsecret_proof provided in the API argument"), []
            now = time.monotonic()
            self._usage(False)
            if self.budget is not None and len(self._recent) >= self.budget:
                body = error_body(self.throttle_code, THROTTLE_MESSAGES.get(self.throttle_code, "Rate limited"),
                                  transient=self.throttle_code == 4)
                return 400, body, self._usage(True)
            self._recent.append(now)
            if self.expire_after is not None:
                if self._answered >= self.expire_after:
                    for valid in self.tokens or {token}:
                        self.expired.setdefault(valid, 463)
                    return 400, self._token_error(463), []
                self._answered += 1
        parts = [p for p in path.split("/") if p]
        if len(parts) == 2 and parts[1] in self.object_faults:
            return self.object_faults[parts[1]], error_body(2, "Service temporarily unavailable", transient=True), []
        if not parts or parts[0] != self.version:
            return 400, error_body(2500, f"Unknown path components: /{'/'.join(parts)}"), []
        request = GraphRequest(parts[1:], query, token, f"{self.base_url}/{self.version}", f"{self.base_url}/media")
        status, body = self.model.answer(request)
        if status == 200 and self.mangle is not None:
            body = self.mangle(parts[1:], body)
        with self._lock:
            return status, body, self._usage(False)

    @staticmethod
    def _token_error(subcode: int) -> dict[str, Any]:
        if subcode == 460:
            return error_body(190, "Error validating access token: The session has been invalidated because the "
                                   "user changed their password or Facebook has changed the session for security "
                                   "reasons.", 460)
        stamp = datetime.now(UTC).strftime("%A, %d-%b-%y %H:%M:%S UTC")
        return error_body(190, f"Error validating access token: Session has expired on {stamp}. The current time "
                               f"is {stamp}.", subcode)


def _bearer(headers: dict[str, str]) -> str | None:
    value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() in ("oauth", "bearer") and token.strip() else None


class _Handler(JsonHandler):
    def do_GET(self) -> None:
        fake, url = self.server.fake, urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        headers = dict(self.headers.items())
        try:
            if fake.delay_seconds and fake._stopping.wait(fake.delay_seconds):
                return
            if url.path.startswith("/media/"):
                data = fake.model.media_file(url.path[len("/media/"):])
                status = 200 if data is not None else 404
                self._send(status, data or b"not found", "image/jpeg" if data else "text/plain", [])
            else:
                status, body, extra = fake.answer(url.path, query, headers)
                data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
                if fake.truncate and status == 200:
                    data = data[: len(data) // 2]
                extra += [("Facebook-API-Version", fake.version), ("x-fb-rev", "1012345678"),
                          ("x-fb-trace-id", secrets.token_urlsafe(8))]
                self._send(status, data, "application/json; charset=UTF-8", extra)
            with fake._lock:
                fake.calls.append(RecordedCall(url.path, query, headers, status))
        except OSError:
            self.close_connection = True
