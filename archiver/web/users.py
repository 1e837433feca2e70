"""People who sign in to the web app, their roles, and what each role may do.

Shared by ``archiver users`` and the web app's sign-in. Passwords are hashed with argon2id
(argon2-cffi's defaults, re-hashed when those change); the hash is the only thing stored and
no password is ever logged or audited. After ``MAX_FAILURES`` wrong passwords in a row an
account is locked for ``LOCKOUT``; every sign-in and refusal is in the audit trail.

Roles (ROLES) and the permissions they grant (PERMISSIONS) are the one place that says who
may do what; views ask ``may(role, permission)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver import audit
from archiver.web.models import WebSession, WebUser

ROLES = ("admin", "records_manager", "legal", "clerk", "read_only")
# Everyone signed in may search and view records; the rest by role.
PERMISSIONS: dict[str, frozenset[str]] = {
    "view": frozenset(ROLES),
    "cases": frozenset({"clerk", "legal"}),  # open, build, export and download packages
    "release": frozenset({"clerk", "legal"}),  # redaction review, withholding log
    "productions": frozenset({"legal"}),  # cases of kind "production" (Bates, load files)
    "holds": frozenset({"records_manager", "legal"}),
    "retention": frozenset({"records_manager"}),  # draft and approve disposition plans
    "audit": frozenset({"admin", "records_manager", "legal"}),
    "users": frozenset({"admin"}),
    "accounts": frozenset({"admin", "records_manager"}),
}
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD = 12
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")
_hasher = PasswordHasher()


class UserError(Exception):
    """A user action that cannot be done; the message says why and what to do."""


def may(role: str | None, permission: str) -> bool:
    return role is not None and role in PERMISSIONS.get(permission, frozenset())


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"role {role!r} is not one of {', '.join(ROLES)}")
    return role


def check_password(password: str, username: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password must have at least {MIN_PASSWORD} characters")
    if username.lower() in password.lower():
        raise UserError("the password must not contain the user name")


def find_user(session: Session, username: str) -> WebUser | None:
    return session.scalar(select(WebUser).where(WebUser.username == username))


def get_user(session: Session, username: str) -> WebUser:
    user = find_user(session, username)
    if user is None:
        raise UserError(f"no user {username!r}; 'archiver users list' shows them")
    return user


def add_user(session: Session, username: str, role: str, password: str | None, by: str, *,
             display_name: str | None = None, source: str = "local") -> WebUser:
    if not _USERNAME.match(username):
        raise UserError(f"user name {username!r}: use letters, digits and . _ @ + - (at most 128)")
    check_role(role)
    if session.scalar(select(WebUser.id).where(WebUser.username == username)) is not None:
        raise UserError(f"user {username!r} already exists; use set-role or reset-password")
    if source == "local":
        if password is None:
            raise UserError("a local user needs a password")
        check_password(password, username)
    now = datetime.now(UTC)
    user = WebUser(username=username, display_name=display_name, role=role, source=source, disabled=False,
                   failed_logins=0, created_at=now, created_by=by,
                   password_hash=_hasher.hash(password) if password else None,
                   password_changed_at=now if password else None)
    session.add(user)
    session.flush()
    audit.record(session, "user.added", username, who=by, role=role, source=source)
    return user


def set_role(session: Session, username: str, role: str, by: str) -> WebUser:
    user = get_user(session, username)
    previous, user.role = user.role, check_role(role)
    audit.record(session, "user.role_set", username, who=by, role=role, previous=previous)
    return user


def set_disabled(session: Session, username: str, disabled: bool, by: str) -> WebUser:
    user = get_user(session, username)
    user.disabled = disabled
    if disabled:
        end_sessions(session, user.id, "user disabled")
    else:
        user.failed_logins, user.locked_until = 0, None
    audit.record(session, "user.disabled" if disabled else "user.enabled", username, who=by)
    return user


def reset_password(session: Session, username: str, password: str, by: str) -> WebUser:
    user = get_user(session, username)
    if user.source != "local":
        raise UserError(f"{username} signs in through single sign-on; their password is kept there")
    check_password(password, username)
    user.password_hash = _hasher.hash(password)
    user.password_changed_at = datetime.now(UTC)
    user.failed_logins, user.locked_until = 0, None
    end_sessions(session, user.id, "password reset")
    audit.record(session, "user.password_reset", username, who=by)
    return user


def list_users(session: Session) -> list[dict[str, Any]]:
    return [{"username": u.username, "display_name": u.display_name, "role": u.role, "source": u.source,
             "disabled": u.disabled, "locked_until": u.locked_until.isoformat() if u.locked_until else None,
             "created_at": u.created_at.isoformat(), "created_by": u.created_by}
            for u in session.scalars(select(WebUser).order_by(WebUser.username))]


def authenticate(session: Session, username: str, password: str, remote: str) -> WebUser | None:
    """The user if the password is right and the account usable; every outcome audited, never the password."""
    user = session.scalar(select(WebUser).where(WebUser.username == username))
    now = datetime.now(UTC)
    reason = None
    if user is None or user.source != "local" or not user.password_hash:
        _hasher.hash("timing-equaliser")  # as slow as a real check, so names cannot be probed by timing
        reason = "unknown user"
    elif user.locked_until and user.locked_until > now:
        reason = "locked after repeated failures"
    elif user.disabled:
        reason = "disabled"
    else:
        try:
            _hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            user.failed_logins += 1
            reason = "wrong password"
            if user.failed_logins >= MAX_FAILURES:
                user.locked_until, user.failed_logins = now + LOCKOUT, 0
                reason = "wrong password; locked for 15 minutes"
    if reason is not None:
        audit.record(session, "login.refused", username[:128], who=username[:128], reason=reason, remote=remote)
        return None
    assert user is not None
    if _hasher.check_needs_rehash(user.password_hash or ""):
        user.password_hash = _hasher.hash(password)
    user.failed_logins, user.locked_until = 0, None
    return user


@dataclass(frozen=True)
class SessionLimits:
    idle: timedelta
    absolute: timedelta


def start_session(session: Session, user: WebUser, token_hash: str, remote: str, method: str) -> WebSession:
    now = datetime.now(UTC)
    row = WebSession(id=token_hash, user_id=user.id, created_at=now, last_seen_at=now, remote_addr=remote[:64])
    session.add(row)
    audit.record(session, "login", user.username, who=user.username, method=method, remote=remote)
    return row


def resume_session(session: Session, token_hash: str, limits: SessionLimits) -> WebUser | None:
    """The signed-in user of a session still within its idle and absolute limits; else None (and ended)."""
    row = session.get(WebSession, token_hash)
    if row is None or row.ended_at is not None:
        return None
    now = datetime.now(UTC)
    user = session.get(WebUser, row.user_id)
    reason = ("user disabled" if user is None or user.disabled else
              "absolute expiry" if now - row.created_at > limits.absolute else
              "idle expiry" if now - row.last_seen_at > limits.idle else None)
    if reason:
        row.ended_at, row.end_reason = now, reason
        return None
    if now - row.last_seen_at > timedelta(seconds=30):  # a write per page would serialize readers on SQLite
        row.last_seen_at = now
    return user


def end_session(session: Session, token_hash: str, reason: str) -> None:
    row = session.get(WebSession, token_hash)
    if row is not None and row.ended_at is None:
        row.ended_at, row.end_reason = datetime.now(UTC), reason


def end_sessions(session: Session, user_id: int, reason: str) -> None:
    for row in session.scalars(select(WebSession).where(WebSession.user_id == user_id,
                                                        WebSession.ended_at.is_(None))):
        row.ended_at, row.end_reason = datetime.now(UTC), reason
