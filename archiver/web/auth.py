"""Signing in and out, sessions, roles, and single sign-on through OpenID Connect.

A sign-in starts a server-side session (``web_sessions``): the cookie (Flask's, signed) holds a
random token, the table its SHA-256 with the idle and absolute limits checked on every request.
Local passwords are checked by ``users.authenticate`` (argon2, lockout after repeated failures);
an address that fails too often in 15 minutes is refused before any check. Single sign-on uses
Authlib's OpenID Connect client (discovery, state, nonce, ID token validation): the person's
role comes from a claim mapped in ``[auth.oidc] roles``. Nothing but the sign-in pages and the
stylesheet is served without a session.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

from archiver import audit
from archiver.web import users

blueprint = Blueprint("auth", __name__)
PUBLIC = {"auth.login", "auth.oidc_login", "auth.oidc_callback", "static"}
WINDOW = 15 * 60


class ForeignIssuer(Exception):
    """An ID token issued by another issuer than ``[auth.oidc] issuer``."""


class Person(UserMixin):  # type: ignore[misc]
    """The signed-in person for this request; ``get_id`` is the session token Flask-Login keeps."""

    def __init__(self, token: str, user: users.WebUser):
        self.token, self.username, self.role = token, user.username, user.role
        self.display_name = user.display_name or user.username

    def get_id(self) -> str:
        return self.token

    def may(self, permission: str) -> bool:
        return users.may(self.role, permission)


class AddressThrottle:
    """Failed sign-ins per remote address in a sliding window (per process)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.failures: dict[str, deque[float]] = defaultdict(deque)
        self.lock = threading.Lock()

    def blocked(self, address: str) -> bool:
        with self.lock:
            seen = self.failures[address]
            while seen and seen[0] < time.monotonic() - WINDOW:
                seen.popleft()
            return len(seen) >= self.limit

    def failed(self, address: str) -> None:
        with self.lock:
            self.failures[address].append(time.monotonic())


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _archive() -> Any:
    return current_app.extensions["archiver"]


def _limits() -> users.SessionLimits:
    web = _archive().config.web
    return users.SessionLimits(web.session_idle, web.session_absolute)


def _remote() -> str:
    return str(request.remote_addr or "unknown")


def init(app: Flask) -> None:
    manager = LoginManager(app)
    manager.login_view = "auth.login"
    manager.login_message = "Please sign in."
    manager.session_protection = None  # the server-side session row is the protection
    app.extensions["throttle"] = AddressThrottle(app.extensions["archiver"].config.web.login_attempts_per_ip)

    @manager.user_loader
    def _load(token: str) -> Person | None:
        with _archive().db.session() as db:
            user = users.resume_session(db, _hash(token), _limits())
            return Person(token, user) if user is not None else None

    @app.before_request
    def _sign_in_required() -> Any:
        if request.endpoint in PUBLIC or current_user.is_authenticated:
            return None
        if request.method != "GET":
            abort(401)
        return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))

    @app.errorhandler(401)
    def _unauthorized(_error: Any) -> Any:
        return render_template("error.html", title="Sign in first", message="You are not signed in."), 401

    app.register_blueprint(blueprint)
    oidc = app.extensions["archiver"].config.auth.oidc
    if oidc is not None:
        from authlib.integrations.flask_client import OAuth

        oauth = OAuth(app)
        oauth.register("oidc", client_id=oidc.client_id, client_secret=os.environ.get(oidc.client_secret_env),
                       server_metadata_url=oidc.issuer.rstrip("/") + "/.well-known/openid-configuration",
                       client_kwargs={"scope": oidc.scopes})
        app.extensions["oidc"] = oauth


def require(permission: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A view only for roles with ``permission`` (see users.PERMISSIONS); others get 403, audited."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                abort(401)
            if not current_user.may(permission):
                with _archive().db.session() as db:
                    audit.record(db, "web.refused", request.path, who=current_user.username, role=current_user.role,
                                 needs=permission, method=request.method)
                abort(403)
            return view(*args, **kwargs)

        return guarded

    return decorate


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no host) is followed after sign-in."""
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return url_for("search.dashboard")
    return target


def _start(user: users.WebUser, method: str, next_url: str | None) -> Any:
    token = secrets.token_urlsafe(32)
    with _archive().db.session() as db:
        users.start_session(db, user, _hash(token), _remote(), method)
    session.clear()  # a fresh cookie on every sign-in (no session fixation)
    login_user(Person(token, user))
    return redirect(_safe_next(next_url))


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> Any:
    oidc = _archive().config.auth.oidc
    if request.method == "GET":
        return render_template("login.html", oidc=oidc, next=request.args.get("next", ""))
    throttle: AddressThrottle = current_app.extensions["throttle"]
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    if throttle.blocked(_remote()):
        with _archive().db.session() as db:
            audit.record(db, "login.refused", username[:128] or None, who=username[:128] or "anonymous",
                         reason="too many failures from this address", remote=_remote())
        return render_template("login.html", oidc=oidc, next=request.args.get("next", ""),
                               error="Too many failed sign-ins from your address; wait 15 minutes."), 429
    with _archive().db.session() as db:
        user = users.authenticate(db, username, password, _remote()) if username and password else None
    if user is None:
        throttle.failed(_remote())
        return render_template("login.html", oidc=oidc, next=request.args.get("next", ""),
                               error="Wrong user name or password, or the account is disabled or locked."), 401
    return _start(user, "password", request.args.get("next"))


@blueprint.route("/logout", methods=["POST"])
def logout() -> Any:
    if current_user.is_authenticated:
        with _archive().db.session() as db:
            users.end_session(db, _hash(current_user.token), "signed out")
            audit.record(db, "logout", current_user.username, who=current_user.username)
    logout_user()
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("auth.login"))


@blueprint.route("/login/sso")
def oidc_login() -> Any:
    client = current_app.extensions.get("oidc")
    if client is None:
        abort(404)
    session["next"] = _safe_next(request.args.get("next"))
    return client.oidc.authorize_redirect(url_for("auth.oidc_callback", _external=True))


@blueprint.route("/login/sso/callback")
def oidc_callback() -> Any:
    client = current_app.extensions.get("oidc")
    oidc = _archive().config.auth.oidc
    if client is None or oidc is None:
        abort(404)
    try:
        token = client.oidc.authorize_access_token()
        # Authlib checks the token's issuer against the discovery document's; that one must be
        # the issuer configured, or a provider could speak for another (OpenID Discovery 4.3).
        issuer = (token.get("userinfo") or {}).get("iss")
        if issuer is not None and str(issuer).rstrip("/") != oidc.issuer.rstrip("/"):
            raise ForeignIssuer(issuer)
    except Exception as exc:  # Authlib raises several kinds; each means the sign-in did not happen
        with _archive().db.session() as db:
            audit.record(db, "login.refused", None, who="anonymous", reason=f"single sign-on: {type(exc).__name__}",
                         remote=_remote())
        return render_template("login.html", oidc=oidc, error="Single sign-on did not complete; try again."), 401
    claims = dict(token.get("userinfo") or {})
    username = str(claims.get(oidc.username_claim) or "")[:128]
    role = sso_role(claims.get(oidc.role_claim), oidc.roles, oidc.default_role)
    with _archive().db.session() as db:
        user = users.find_user(db, username) if username else None
        reason = ("no " + oidc.username_claim + " claim" if not username else
                  "disabled" if user is not None and user.disabled else
                  "no role for this person's claims" if role is None and user is None else None)
        if reason:
            audit.record(db, "login.refused", username or None, who=username or "anonymous",
                         reason=f"single sign-on: {reason}", remote=_remote())
        elif user is None:
            user = users.add_user(db, username, role or "read_only", None, "single sign-on",
                                  display_name=claims.get("name"), source="oidc")
        elif role is not None and user.source == "oidc" and user.role != role:
            users.set_role(db, username, role, "single sign-on")
    if reason or user is None:
        return render_template("login.html", oidc=oidc, error="Your agency account may not use the archive "
                               f"({reason}); ask an administrator."), 403
    return _start(user, "oidc", session.pop("next", None))


def sso_role(value: Any, mapping: dict[str, str], default: str | None) -> str | None:
    """The role a claim value (a string or a list of groups) maps to; the most powerful match wins.

    >>> sso_role(["staff", "records-team"], {"records-team": "records_manager", "staff": "read_only"}, None)
    'records_manager'
    """
    values = value if isinstance(value, list) else [value] if value else []
    found = {mapping[v] for v in values if isinstance(v, str) and v in mapping}
    return next((role for role in users.ROLES if role in found), default)
