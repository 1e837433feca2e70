"""A local OpenID Connect provider for the single sign-on tests, over a real socket on 127.0.0.1.

It speaks the authorization code flow as Entra ID, Okta and Google Workspace do: a discovery
document (``/.well-known/openid-configuration``), its signing keys (``/jwks``), ``/authorize``
(checks the client and its registered redirect URI, answers with a one-time code and the state),
``/token`` (checks the client secret, the code, the redirect URI; returns an access token and an
RS256-signed ID token with iss, sub, aud, exp, iat, nonce and the person's claims) and
``/userinfo``. Like the fake platforms it also has bad days, set by ``fault``: an ID token for
another audience, from another issuer, answering another nonce, expired, or signed by a key it
does not publish; or a discovery document that names another issuer than the one configured.

There is no login form: ``person`` is who the next authorization request signs in as (the claims
a real provider would have after the person typed their agency password), or None to have the
person refuse (``error=access_denied``).

    >>> import requests
    >>> with FakeProvider({"app": "s3cret"}) as provider:
    ...     config = requests.get(provider.issuer + "/.well-known/openid-configuration", timeout=5).json()
    >>> config["issuer"] == provider.issuer, config["id_token_signing_alg_values_supported"]
    (True, ['RS256'])
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

from joserfc import jwt
from joserfc.jwk import RSAKey

from wsgi_server import serving

FAULTS = ("audience", "issuer", "nonce", "expired", "unknown key", "discovery issuer")


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    nonce: str | None
    claims: dict[str, Any]


@dataclass
class FakeProvider:
    """``clients``: client id -> secret. Register each client's redirect URIs in ``redirect_uris``."""

    clients: dict[str, str]
    redirect_uris: dict[str, list[str]] = field(default_factory=dict)
    person: dict[str, Any] | None = None
    fault: str | None = None
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "signing-1"},
                                                                    private=True))
    # Everything a leak would show: codes, tokens; and the requests, as (method, path).
    issued: list[str] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    grants: dict[str, Grant] = field(default_factory=dict)

    def __enter__(self) -> FakeProvider:
        self._serving = serving(self)
        self.issuer = self._serving.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._serving.__exit__(*exc)

    # WSGI -----------------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        self.requests.append((method, path))
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        routes = {("GET", "/.well-known/openid-configuration"): self.discovery, ("GET", "/jwks"): self.jwks,
                  ("GET", "/authorize"): self.authorize, ("POST", "/token"): self.token,
                  ("GET", "/userinfo"): self.userinfo}
        handler = routes.get((method, path))
        if handler is None:
            return _answer(start_response, "404 Not Found", {"error": "not_found"})
        return handler(environ, query, start_response)

    def _claimed_issuer(self) -> str:
        return self.issuer + "/other-tenant" if self.fault in ("issuer", "discovery issuer") else self.issuer

    def discovery(self, _environ: dict[str, Any], _query: dict[str, str], start: Any) -> list[bytes]:
        issuer = self._claimed_issuer() if self.fault == "discovery issuer" else self.issuer
        return _answer(start, "200 OK", {
            "issuer": issuer, "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": self.issuer + "/token", "userinfo_endpoint": self.issuer + "/userinfo",
            "jwks_uri": self.issuer + "/jwks", "response_types_supported": ["code"],
            "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"], "grant_types_supported": ["authorization_code"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "claims_supported": ["sub", "email", "name", "groups"]})

    def jwks(self, _environ: dict[str, Any], _query: dict[str, str], start: Any) -> list[bytes]:
        return _answer(start, "200 OK", {"keys": [self.key.as_dict(private=False)]})

    def authorize(self, _environ: dict[str, Any], query: dict[str, str], start: Any) -> list[bytes]:
        client, redirect = query.get("client_id", ""), query.get("redirect_uri", "")
        # An unknown client or redirect URI gets an error page, never a redirect (RFC 6749 4.1.2.1).
        if client not in self.clients or redirect not in self.redirect_uris.get(client, []):
            return _answer(start, "400 Bad Request", {"error": "invalid_request", "error_description":
                                                      "unknown client or unregistered redirect_uri"})
        if query.get("response_type") != "code" or "openid" not in query.get("scope", "").split():
            return _redirect(start, redirect, {"error": "invalid_request", "state": query.get("state", "")})
        if self.person is None:
            return _redirect(start, redirect, {"error": "access_denied", "state": query.get("state", "")})
        code = secrets.token_urlsafe(24)
        self.issued.append(code)
        self.grants[code] = Grant(client, redirect, query.get("nonce"), dict(self.person))
        return _redirect(start, redirect, {"code": code, "state": query.get("state", "")})

    def token(self, environ: dict[str, Any], _query: dict[str, str], start: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        form = {k: v[0] for k, v in parse_qs(environ["wsgi.input"].read(length).decode()).items()}
        client, secret = form.get("client_id"), form.get("client_secret")
        basic = environ.get("HTTP_AUTHORIZATION", "")
        if basic.startswith("Basic "):
            client, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
        if client not in self.clients or self.clients[client] != secret:
            return _answer(start, "401 Unauthorized", {"error": "invalid_client"})
        grant = self.grants.pop(form.get("code", ""), None)  # a code is good once
        if grant is None or grant.client_id != client or grant.redirect_uri != form.get("redirect_uri"):
            return _answer(start, "400 Bad Request", {"error": "invalid_grant"})
        access = secrets.token_urlsafe(32)
        id_token = self._id_token(grant)
        self.issued += [access, id_token]
        self.grants[access] = grant
        return _answer(start, "200 OK", {"access_token": access, "token_type": "Bearer", "expires_in": 3600,
                                         "id_token": id_token, "scope": "openid email profile"})

    def _id_token(self, grant: Grant) -> str:
        now = int(time.time())
        claims = {"iss": self._claimed_issuer(), "sub": str(grant.claims.get("sub") or grant.claims.get("email")),
                  "aud": "another-app" if self.fault == "audience" else grant.client_id,
                  "iat": now - 7200 if self.fault == "expired" else now,
                  "exp": now - 3600 if self.fault == "expired" else now + 3600,
                  **({"nonce": "not-the-one-sent" if self.fault == "nonce" else grant.nonce} if grant.nonce else {}),
                  **grant.claims}
        key = self.key
        if self.fault == "unknown key":  # same kid, another key: the published one does not verify it
            key = RSAKey.generate_key(2048, parameters={"kid": "signing-1"}, private=True)
        return jwt.encode({"alg": "RS256", "kid": "signing-1"}, claims, key)

    def userinfo(self, environ: dict[str, Any], _query: dict[str, str], start: Any) -> list[bytes]:
        bearer = environ.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ")
        grant = self.grants.get(bearer)
        if grant is None:
            return _answer(start, "401 Unauthorized", {"error": "invalid_token"})
        return _answer(start, "200 OK", {"sub": grant.claims.get("sub") or grant.claims.get("email"), **grant.claims})


def _answer(start: Any, status: str, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data))),
                   ("Cache-Control", "no-store")])
    return [data]


def _redirect(start: Any, uri: str, params: dict[str, str]) -> list[bytes]:
    start("302 Found", [("Location", f"{uri}{'&' if '?' in uri else '?'}{urlencode(params)}"),
                        ("Content-Length", "0")])
    return []
