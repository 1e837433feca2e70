"""Release review: every automatic redaction with undo, redactions the clerk adds, the withholding log."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from archiver import audit
from archiver.cases import register as cases
from archiver.cases import release
from archiver.exports.package.documents import documents
from archiver.exports.package.redaction import Redactor
from archiver.web.auth import require

blueprint = Blueprint("release", __name__)
SHOWN = 2_000  # redactions listed on one review page


def archive() -> Any:
    return current_app.extensions["archiver"]


def _case(db: Any, name: str) -> Any:
    try:
        return cases.get_case(db, name)
    except cases.CaseError as exc:
        abort(404, description=str(exc))


@blueprint.route("/cases/<path:name>/review")
@require("release")
def review(name: str) -> Any:
    """What a redacted release would replace, as the package's own redactor finds it."""
    patterns = [(p.name, p.pattern) for p in archive().config.exports.redaction_patterns]
    with archive().db.session() as db:
        case = _case(db, name)
        redactor = Redactor(patterns, release.decisions(db, case), collect=True)
        for _ in documents(db, cases.case_item_ids(db, case), redactor):
            if len(redactor.found or []) > SHOWN:
                break
        found = list(dict.fromkeys(redactor.found or []))  # the same words in the same place, once
        members = cases.members(db, case)
        shown = {"name": case.name, "kind": case.kind, "log": release.decision_log(db, case),
                 "withheld": release.withholdings(db, case)}
        audit.record(db, "release.reviewed", case.name, redactions=len(found), via="web")
    items = [m["item"] for m in members]
    return render_template("review.html", case=shown, found=found[:SHOWN], more=len(found) > SHOWN, items=items)


@blueprint.route("/cases/<path:name>/review", methods=["POST"])
@require("release")
def decide(name: str) -> Any:
    form = request.form
    action = form.get("action", "")
    who = current_user.username
    try:
        with archive().db.session() as db:
            case = _case(db, name)
            if action == "undo":
                release.redaction_undone(db, case, form.get("item", ""), form.get("rule", ""), form.get("words", ""),
                                         form.get("reason", ""), who)
            elif action == "add":
                release.redaction_added(db, case, form.get("item", ""), form.get("words", ""),
                                        form.get("reason", ""), who)
            elif action == "withhold":
                release.withhold(db, case, form.get("item", ""), form.get("citation", ""), form.get("reason", ""),
                                 who)
            elif action in ("revoke-redaction", "revoke-withholding"):
                release.revoke(db, case, action.removeprefix("revoke-"), int(form.get("id", "0") or 0), who)
            else:
                abort(400, description=f"unknown review action {action!r}")
    except (release.ReleaseError, ValueError) as exc:
        flash(f"Not done: {exc}", "error")
        return redirect(url_for("release.review", name=name))
    done = {"undo": "Redaction undone.", "add": "Redaction added.", "withhold": "Item withheld."}
    flash(done.get(action, "Decision revoked."))
    return redirect(url_for("release.review", name=name))
