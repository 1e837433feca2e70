"""The Flask app: configuration, security headers, sign-in required everywhere, the views.

``create_app`` takes the archive's config, index and store (and, from ``archiver serve``, the
export job runner and the replay service). Every page needs a signed-in person except the
sign-in pages and the stylesheet; every form carries a CSRF token (Flask-WTF); the session
cookie is HttpOnly, SameSite=Lax and Secure (``[web] secure_cookies``). While a request runs,
audit entries written by any domain function name the signed-in person.
"""

from __future__ import annotations

import os
import secrets
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, g, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from archiver import audit
from archiver.config import Config
from archiver.exports.jobs import JobRunner
from archiver.index.db import IndexDB
from archiver.web import auth
from archiver.web.replay import ReplayService
from storage.base import Storage

HERE = Path(__file__).parent
CSP = ("default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; script-src 'self'; "
       "frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'; object-src 'none'")


@dataclass
class Archive:
    """What the views work on, kept on the app as ``app.extensions["archiver"]``."""

    config: Config
    db: IndexDB
    storage: Storage
    jobs: JobRunner | None = None
    replay: ReplayService | None = None


def secret_key(config: Config) -> str:
    """The key that signs session cookies: from ``[web] secret_key_env``, else kept in the data folder."""
    if config.web.secret_key_env:
        value = os.environ.get(config.web.secret_key_env)
        if not value:
            raise ValueError(f"web.secret_key_env: environment variable {config.web.secret_key_env} is not set")
        return value
    path = config.data_dir / "web" / "secret-key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()


def create_app(archive: Archive) -> Flask:
    from archiver.web import views_admin, views_cases, views_items, views_records, views_release, views_search

    app = Flask("archiver.web", template_folder=str(HERE / "templates"), static_folder=str(HERE / "static"))
    web = archive.config.web
    app.config.update(
        SECRET_KEY=secret_key(archive.config), SESSION_COOKIE_NAME="archiver_session",
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=web.secure_cookies,
        REMEMBER_COOKIE_DURATION=0, WTF_CSRF_TIME_LIMIT=None, MAX_CONTENT_LENGTH=1_000_000,
        PERMANENT_SESSION_LIFETIME=web.session_absolute,
    )
    app.extensions["archiver"] = archive
    CSRFProtect(app)
    auth.init(app)
    for module in (views_search, views_items, views_cases, views_release, views_records, views_admin):
        app.register_blueprint(module.blueprint)

    @app.before_request
    def _act_as_signed_in_person() -> None:
        if current_user.is_authenticated:
            g.acting = ExitStack()
            g.acting.enter_context(audit.acting_as(current_user.username))

    @app.teardown_request
    def _done(_error: BaseException | None) -> None:
        acting = g.pop("acting", None)
        if acting is not None:
            acting.close()

    @app.after_request
    def _headers(response: Any) -> Any:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        if response.mimetype == "text/html":
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> Any:
        return render_template("error.html", title="Form expired or forged",
                               message="The form was refused: it carried no valid security token. Go back, reload "
                                       "the page and send it again."), 400

    @app.errorhandler(403)
    def _forbidden(_error: Any) -> Any:
        return render_template("error.html", title="Not allowed",
                               message=f"Your role ({getattr(current_user, 'role', 'none')}) does not allow this. "
                                       "Ask an administrator if you need it."), 403

    @app.errorhandler(404)
    def _missing(error: Any) -> Any:
        return render_template("error.html", title="Not found",
                               message=getattr(error, "description", None) or f"Nothing at {request.path}."), 404

    return app
