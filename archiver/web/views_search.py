"""The dashboard and the search page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request
from flask_login import current_user

from archiver import audit, overview
from archiver.cases import register as cases
from archiver.facets import state_facets
from archiver.search import QueryError, SearchPage, SearchQuery, check_query, search
from archiver.web.auth import require
from archiver.web.forms import FormError, filter_pairs, mark, search_query, with_filters

blueprint = Blueprint("search", __name__)


def archive() -> Any:
    return current_app.extensions["archiver"]


@blueprint.route("/")
@require("view")
def dashboard() -> Any:
    # Each read in its own session, before the one that writes the audit entry (SQLite's one writer).
    extra = {"alerts": overview.open_alerts(archive().db), "budgets": overview.budgets(archive().db, archive().config)}
    with archive().db.session() as db:
        shown = overview.dashboard(db, archive().config) | extra
        audit.record(db, "web.dashboard", None)
    return render_template("dashboard.html", board=shown)


@blueprint.route("/search")
@require("view")
def search_page() -> Any:
    config = archive().config
    size = config.web.page_size
    try:
        page_number = max(int(request.args.get("page", "1") or 1), 1)
    except ValueError:
        page_number = 1
    error, page, facets, query = None, SearchPage(), [], None
    try:
        query = search_query(request.args, size, (page_number - 1) * size)
    except FormError as exc:
        error = str(exc)
    searched = query is not None and bool(filter_pairs(request.args))
    open_cases: list[dict[str, Any]] = []
    accounts = [a.name for a in config.accounts]
    notes: list[str] = []
    if searched and query is not None:
        with archive().db.session() as db:
            try:  # the checks the CLI makes: refused words or an unknown account are the form's error
                notes = check_query(db, query, accounts)
            except QueryError as exc:
                error = str(exc)
            else:
                page, facets, open_cases = _results(db, query)
    pages = -(-page.total // size) if page.total else 0
    return render_template(
        "search.html", args=request.args, error=error, notes=notes, page=page, facets=facets, searched=searched,
        accounts=accounts, platforms=sorted({a.platform for a in config.accounts}), mark=mark,
        text=query.text if query else None, page_number=page_number, pages=pages, size=size,
        more=page.total > page_number * size, filters=filter_pairs(request.args), open_cases=open_cases,
        prev_link=with_filters(request.args, page=page_number - 1) if page_number > 1 else None,
        next_link=with_filters(request.args, page=page_number + 1) if page.total > page_number * size else None
    ), 400 if error else 200


def _results(db: Any, query: SearchQuery) -> tuple[SearchPage, list[dict[str, Any]], list[dict[str, Any]]]:
    """A page of what ``query`` finds, its state facets, and the open cases it could be added to."""
    page = search(db, query)
    # State facets: how many matching items were ever in each state (counted up to the cap).
    facets = [{"state": state, "count": counted or "not counted", "active": state in query.states,
               "link": with_filters(request.args, state=state, page=None)}
              for state, counted in state_facets(db, query, page).items()]
    audit.record(db, "search", None, query=query.describe(), results=page.total,
                 results_exact=page.total_is_exact, via="web")
    return page, facets, cases.list_cases(db) if current_user.may("cases") else []
