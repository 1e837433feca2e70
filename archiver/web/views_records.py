"""Holds and retention: the hold register, plans with what goes and what waits, approval, certificates."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from archiver import audit
from archiver.items import ItemRef
from archiver.retention import holds
from archiver.retention.certificate import find_certificate
from archiver.retention.models import LegalHold, RetentionPlan
from archiver.retention.plan import PlanError, approve, describe, find, plan_items, propose
from archiver.search import QueryError
from archiver.web.auth import require
from archiver.web.forms import FormError, filter_pairs, moment

blueprint = Blueprint("records", __name__)


def archive() -> Any:
    return current_app.extensions["archiver"]


@blueprint.route("/holds")
@require("view")
def hold_list() -> Any:
    with archive().db.session() as db:
        rows = [holds.summary(db, h) for h in db.scalars(select(LegalHold).order_by(LegalHold.id.desc()))]
        audit.record(db, "hold.listed", None, holds=len(rows), via="web")
    return render_template("holds.html", holds=rows, prefill=request.args, filters=filter_pairs(request.args),
                           accounts=[a.name for a in archive().config.accounts])


@blueprint.route("/holds", methods=["POST"])
@require("holds")
def hold_new() -> Any:
    form = request.form
    try:
        criteria = holds.HoldCriteria(tuple(a for a in form.getlist("account") if a),
                                      moment(form.get("since", ""), "since"), moment(form.get("until", ""), "until"),
                                      form.get("q", "").strip() or None,
                                      tuple(i.strip() for i in form.get("items", "").split() if i.strip()))
        with archive().db.session() as db:
            hold = holds.create(db, form.get("matter", ""), criteria, current_user.username)
            hold_id, count = hold.id, holds.summary(db, hold)["items"]
    except (FormError, holds.HoldError) as exc:
        flash(f"No hold placed: {exc}", "error")
        return redirect(url_for("records.hold_list"))
    except QueryError as exc:  # search words refused, as the search form refuses them
        flash(f"No hold placed: {exc}", "error")
        return hold_list(), 400
    holds.sync_store_flags(archive().db, archive().storage)
    flash(f"Hold {hold_id} placed: {count} item(s) frozen.")
    return redirect(url_for("records.hold_page", hold_id=hold_id))


@blueprint.route("/holds/<int:hold_id>")
@require("view")
def hold_page(hold_id: int) -> Any:
    with archive().db.session() as db:
        hold = db.get(LegalHold, hold_id)
        if hold is None:
            abort(404, description=f"no hold {hold_id}")
        shown = holds.details(db, hold)
        audit.record(db, "hold.viewed", f"hold {hold_id}", via="web")
    return render_template("hold.html", hold=shown)


@blueprint.route("/holds/<int:hold_id>/release", methods=["POST"])
@require("holds")
def hold_release(hold_id: int) -> Any:
    try:
        with archive().db.session() as db:
            holds.release(db, hold_id, request.form.get("reason", ""), current_user.username)
    except holds.HoldError as exc:
        flash(f"Not released: {exc}", "error")
        return redirect(url_for("records.hold_page", hold_id=hold_id))
    holds.sync_store_flags(archive().db, archive().storage)
    flash(f"Hold {hold_id} released.")
    return redirect(url_for("records.hold_page", hold_id=hold_id))


@blueprint.route("/retention")
@require("view")
def plan_list() -> Any:
    with archive().db.session() as db:
        rows = [describe(db, p) for p in db.scalars(select(RetentionPlan).order_by(RetentionPlan.id.desc()))]
    config = archive().config
    return render_template("retention.html", plans=rows, series=config.retention.series,
                           accounts=[a.name for a in config.accounts])


@blueprint.route("/retention", methods=["POST"])
@require("retention")
def plan_new() -> Any:
    form = request.form
    try:
        with archive().db.session() as db:
            plan = propose(db, archive().config, moment(form.get("as_of", ""), "as of"), current_user.username,
                           accounts=tuple(a for a in form.getlist("account") if a),
                           series=tuple(s for s in form.getlist("series") if s))
            uid = plan.uid
    except (FormError, PlanError) as exc:
        flash(f"No plan drafted: {exc}", "error")
        return redirect(url_for("records.plan_list"))
    flash(f"Plan {uid} drafted; another records manager approves it.")
    return redirect(url_for("records.plan_page", uid=uid))


@blueprint.route("/retention/<uid>")
@require("view")
def plan_page(uid: str) -> Any:
    with archive().db.session() as db:
        try:
            plan = find(db, uid)
        except PlanError as exc:
            abort(404, description=str(exc))
        shown = describe(db, plan)
        items = [{"item": str(ItemRef(i.account, i.platform_id)), "series": i.series, "kind": i.kind,
                  "posted_at": i.posted_at.isoformat() if i.posted_at else "", "eligible_on": i.eligible_on.date()}
                 for i in plan_items(db, plan)[:500]]
        audit.record(db, "retention.viewed", uid, via="web")
    may_approve = (current_user.may("retention") and shown["state"] == "proposed"
                   and shown["created_by"] != current_user.username)
    return render_template("plan.html", plan=shown, items=items, may_approve=may_approve)


@blueprint.route("/retention/<uid>/approve", methods=["POST"])
@require("retention")
def plan_approve(uid: str) -> Any:
    try:
        with archive().db.session() as db:
            approve(db, uid, current_user.username)
    except PlanError as exc:
        flash(f"Not approved: {exc}", "error")
        return redirect(url_for("records.plan_page", uid=uid)), 303
    flash(f"Plan {uid} approved; 'archiver retention apply {uid}' carries it out.")
    return redirect(url_for("records.plan_page", uid=uid))


@blueprint.route("/retention/certificates/<ref>")
@require("view")
def certificate(ref: str) -> Any:
    with archive().db.session() as db:
        found = find_certificate(db, ref)
        if found is None:
            abort(404, description=f"no disposition certificate {ref}")
        audit.record(db, "retention.certificate_viewed", found.uid, via="web")
        content, sha = found.content, found.sha256
    return render_template("certificate.html", content=content, sha256=sha, uid=ref)
