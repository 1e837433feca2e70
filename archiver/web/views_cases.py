"""Requests and matters: cases, adding and dropping items, packages built in the background, downloads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from archiver import audit
from archiver.cases import register as cases
from archiver.exports import jobs
from archiver.exports.package.builder import SELECTABLE
from archiver.items import ItemNotFound, find_item, item_ref
from archiver.search import QueryError, check_query
from archiver.web.auth import require
from archiver.web.forms import FormError, day, search_query

blueprint = Blueprint("cases", __name__)


def archive() -> Any:
    return current_app.extensions["archiver"]


@blueprint.route("/cases")
@require("cases")
def case_list() -> Any:
    with archive().db.session() as db:
        rows = cases.list_cases(db)
        audit.record(db, "case.listed", None, cases=len(rows), via="web")
    return render_template("cases.html", cases=rows, kinds=cases.KINDS)


@blueprint.route("/cases", methods=["POST"])
@require("cases")
def case_new() -> Any:
    form = request.form
    kind = form.get("kind", "request")
    if kind == "production" and not current_user.may("productions"):
        abort(403)
    try:
        details = cases.CaseDetails(form.get("name", "").strip(), kind, form.get("requester", "").strip() or None,
                                    form.get("description", "").strip() or None,
                                    day(form.get("received", ""), "received"), day(form.get("due", ""), "due"))
        if not details.name:
            raise FormError("name: give the case a short name, e.g. PRR-2026-114")
        with archive().db.session() as db:
            cases.open_case(db, details, current_user.username)
    except (FormError, cases.CaseError) as exc:
        with archive().db.session() as db:
            rows = cases.list_cases(db)
        return render_template("cases.html", cases=rows, kinds=cases.KINDS, error=str(exc), form=form), 400
    flash(f"Case {details.name} opened.")
    return redirect(url_for("cases.case_page", name=details.name))


def _case(db: Any, name: str) -> Any:
    try:
        return cases.get_case(db, name)
    except cases.CaseError as exc:
        abort(404, description=str(exc))


@blueprint.route("/cases/<path:name>")
@require("cases")
def case_page(name: str) -> Any:
    with archive().db.session() as db:
        case = _case(db, name)
        shown = cases.summary(db, case) | {"searches": cases.searches(db, case), "members": cases.members(db, case)}
        exports = [jobs.as_dict(j) for j in jobs.for_case(db, case.name)]
        audit.record(db, "case.viewed", case.name, via="web")
    return render_template("case.html", case=shown, exports=exports, parts=SELECTABLE)


@blueprint.route("/cases/add", methods=["POST"])
@require("cases")
def add_to_case() -> Any:
    """From a search or an item page: the case is chosen in the form."""
    return _change(request.form.get("case", ""), "add")


@blueprint.route("/cases/<path:name>/items", methods=["POST"])
@require("cases")
def case_change(name: str) -> Any:
    """Add or drop what a search finds (its filters as hidden fields) and/or the items ticked."""
    return _change(name, request.form.get("action", "add"))


def _change(name: str, action: str) -> Any:
    try:
        query = search_query(request.form)
    except FormError as exc:
        abort(400, description=str(exc))
    with archive().db.session() as db:
        case = _case(db, name)
        try:
            refs = [item_ref(db, find_item(db, ref)) for ref in request.form.getlist("item") if ref]
            notes = check_query(db, query, [a.name for a in archive().config.accounts])
        except (ItemNotFound, QueryError) as exc:
            abort(400, description=str(exc))
        if not refs and not cases.has_criteria(query):
            abort(400, description="say what to add or drop: a search or the items ticked")
        change = cases.add_items if action == "add" else cases.drop_items
        count = change(db, case, query, refs, current_user.username)
    for note in notes:
        flash(f"Note: {note}.")
    flash(f"{count} item(s) {'added to' if action == 'add' else 'dropped from'} {name}.")
    return redirect(url_for("cases.case_page", name=name))


@blueprint.route("/cases/<path:name>/exports", methods=["POST"])
@require("cases")
def export_new(name: str) -> Any:
    parts = [p for p in request.form.getlist("part") if p in SELECTABLE]
    options = {"parts": parts, "redact": request.form.get("redact") == "yes",
               "bates": request.form.get("bates") == "yes"}
    with archive().db.session() as db:
        case = _case(db, name)
        if case.kind == "production" and not current_user.may("productions"):
            abort(403)
        job = jobs.submit(db, case.name, options, current_user.username)
    if archive().jobs is not None:
        archive().jobs.wake()
    return redirect(url_for("cases.export_page", uid=job.uid))


@blueprint.route("/exports/<uid>")
@require("cases")
def export_page(uid: str) -> Any:
    with archive().db.session() as db:
        job = jobs.find(db, uid)
        if job is None:
            abort(404, description=f"no export {uid}")
        shown = jobs.as_dict(job)
    return render_template("export.html", job=shown)


@blueprint.route("/exports/<uid>/status")
@require("cases")
def export_status(uid: str) -> Any:
    """The job as JSON, for the progress bar's script."""
    with archive().db.session() as db:
        job = jobs.find(db, uid)
        if job is None:
            abort(404, description=f"no export {uid}")
        return jobs.as_dict(job)


@blueprint.route("/exports/<uid>/download")
@require("cases")
def export_download(uid: str) -> Any:
    with archive().db.session() as db:
        job = jobs.find(db, uid)
        if job is None or job.state != "done" or not job.path or not Path(job.path).is_file():
            abort(404, description=f"export {uid} has no package to download")
        audit.record(db, "case.downloaded", job.case_name, job=uid, file=Path(job.path).name,
                     manifest_sha256=job.manifest_sha256, via="web")
        path = Path(job.path)
    return send_file(path, mimetype="application/zip", as_attachment=True, download_name=path.name)
