"""People and the audit trail: users and roles (admin), the audit trail with filters and its chain's status."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from archiver import audit
from archiver.web import users
from archiver.web.auth import require
from archiver.web.forms import FormError, moment

blueprint = Blueprint("admin", __name__)
AUDIT_PAGE = 200


def archive() -> Any:
    return current_app.extensions["archiver"]


@blueprint.route("/admin/users")
@require("users")
def user_list() -> Any:
    with archive().db.session() as db:
        rows = users.list_users(db)
    return render_template("users.html", users=rows, roles=users.ROLES, minimum=users.MIN_PASSWORD)


@blueprint.route("/admin/users", methods=["POST"])
@require("users")
def user_change() -> Any:
    form = request.form
    action, username = form.get("action", ""), form.get("username", "").strip()
    who = current_user.username
    try:
        with archive().db.session() as db:
            if action == "add":
                users.add_user(db, username, form.get("role", ""), form.get("password") or None, who,
                               display_name=form.get("display_name") or None,
                               source="oidc" if form.get("sso") == "yes" else "local")
            elif action == "set-role":
                users.set_role(db, username, form.get("role", ""), who)
            elif action in ("disable", "enable"):
                users.set_disabled(db, username, action == "disable", who)
            elif action == "reset-password":
                users.reset_password(db, username, form.get("password", ""), who)
            else:
                raise users.UserError(f"unknown action {action!r}")
    except users.UserError as exc:
        flash(f"Not done: {exc}", "error")
        return redirect(url_for("admin.user_list"))
    flash(f"{username}: done ({action}).")
    return redirect(url_for("admin.user_list"))


@blueprint.route("/audit")
@require("audit")
def audit_trail() -> Any:
    args = request.args
    error = None
    try:
        since = moment(args.get("since", ""), "since")
    except FormError as exc:
        error, since = str(exc), None
    query = select(audit.AuditEntry).order_by(audit.AuditEntry.seq.desc()).limit(AUDIT_PAGE)
    for field, column in (("action", audit.AuditEntry.action), ("actor", audit.AuditEntry.actor),
                          ("target", audit.AuditEntry.target)):
        if args.get(field):
            query = query.where(column == args[field].strip())
    if since:
        query = query.where(audit.AuditEntry.at >= since)
    with archive().db.session() as db:
        rows = [audit.as_dict(e) for e in db.scalars(query)]
        chain = None
        if args.get("verify") == "yes":
            checked, broken = audit.verify(db)
            chain = {"entries": checked, "intact": broken is None,
                     "broken_at": broken.seq if broken else None, "reason": broken.reason if broken else None}
            audit.record(db, "audit.verified", None, entries=checked, broken_at=chain["broken_at"], via="web")
        audit.record(db, "audit.viewed", None, filters={k: v for k, v in args.items() if v}, via="web")
    return render_template("audit.html", rows=rows, args=args, chain=chain, error=error, page=AUDIT_PAGE)
