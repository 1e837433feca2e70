"""An item in context, its media and native records from the WARC bytes, and the replay view."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app, render_template, request
from flask_login import current_user

from archiver import audit
from archiver.cases import register as cases
from archiver.items import ItemNotFound, find_item, item_history
from archiver.threads import fill_last_words, thread
from archiver.web.auth import require
from archiver.web.forms import stable_id, word_diff
from archiver.web.records import find_evidence, read_payload
from archiver.web.replay import ReplayUnavailable
from storage.base import StorageError

blueprint = Blueprint("items", __name__)
SHOWN_INLINE = ("image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4", "video/webm", "audio/mpeg")


def archive() -> Any:
    return current_app.extensions["archiver"]


def _stamp(iso: str | None) -> str:
    return datetime.fromisoformat(iso).strftime("%Y%m%d%H%M%S") if iso else ""


@blueprint.route("/items/<path:ref>")
@require("view")
def item(ref: str) -> Any:
    with archive().db.session() as db:
        try:
            found = find_item(db, ref)
        except ItemNotFound as exc:
            abort(404, description=str(exc))
        history = item_history(db, found)
        tree = fill_last_words(db, thread(db, found))
        name = stable_id(history["account"], history["platform_id"])
        parent = None
        if found.parent_platform_id:
            parent = stable_id(history["account"], found.parent_platform_id)
        audit.record(db, "item.viewed", name, via="web")
        open_cases = cases.list_cases(db) if current_user.may("cases") else []
    versions = history["versions"]
    diffs = [word_diff(versions[i - 1]["text"], v["text"]) if i else None for i, v in enumerate(versions)]
    latest_text = next((v["text"] for v in reversed(versions) if v["text"]), "")
    images = [{"url": m["url"], "record": m["captures"][-1]["record_id"]} for m in history["media"] if m["captures"]]
    return render_template("item.html", h=history, name=name, parent=parent, tree=tree, diffs=diffs,
                           latest_text=latest_text, images=images, open_cases=open_cases, quote=quote)


def _payload(record_id: str) -> Any:
    with archive().db.session() as db:
        evidence = find_evidence(db, record_id)
        if evidence is None:
            abort(404, description=f"no archived record {record_id}")
        try:
            return read_payload(db, archive().storage, evidence)
        except StorageError as exc:
            abort(502, description=f"cannot read the record from storage: {exc}")


@blueprint.route("/records/<path:record_id>/native")
@require("view")
def native(record_id: str) -> Any:
    """The archived payload as captured (decoded), as a download: never rendered as a page of ours."""
    payload = _payload(record_id)
    with archive().db.session() as db:
        audit.record(db, "record.downloaded", record_id, warc=payload.evidence["warc"],
                     sha256=payload.evidence["sha256"], via="web")
    return Response(payload.body, mimetype="application/octet-stream", headers={
        "Content-Disposition": f'attachment; filename="{payload.filename}"',
        "X-Archived-Content-Type": payload.content_type, "X-Record-SHA256": payload.evidence["sha256"] or ""})


@blueprint.route("/records/<path:record_id>/media")
@require("view")
def media(record_id: str) -> Any:
    """A captured image or video from the WARC bytes (never the platform's URL)."""
    payload = _payload(record_id)
    kind = payload.content_type.split(";")[0].strip().lower()
    if kind not in SHOWN_INLINE:
        abort(415, description=f"{kind} is not shown inline; download the native record")
    return Response(payload.body, mimetype=kind, headers={"Content-Security-Policy": "sandbox",
                                                          "Cache-Control": "private, max-age=3600"})


@blueprint.route("/items/<path:ref>/replay/<path:record_id>")
@require("view")
def replay_view(ref: str, record_id: str) -> Any:
    """The replay view: what the record is, and the archived response replayed by pywb in a frame."""
    service = archive().replay
    with archive().db.session() as db:
        try:
            found = find_item(db, ref)
        except ItemNotFound as exc:
            abort(404, description=str(exc))
        history = item_history(db, found)
        evidence = find_evidence(db, record_id)
        if evidence is None:
            abort(404, description=f"no archived record {record_id}")
        name = stable_id(history["account"], history["platform_id"])
        error = None
        collection = ""
        try:
            if service is None:
                raise ReplayUnavailable("replay is not running in this server")
            collection = service.collection(db, history)
        except (ReplayUnavailable, StorageError) as exc:
            error = str(exc)
        audit.record(db, "record.replayed", name, record=record_id, via="web")
    frame = f"/replay/{collection}/{_stamp(evidence['captured_at'])}id_/{evidence['target_uri']}" if not error else ""
    return render_template("replay.html", h=history, name=name, evidence=evidence, frame=frame, error=error)


@blueprint.route("/replay/<path:path>")
@require("view")
def replay_proxy(path: str) -> Any:
    service = archive().replay
    if service is None:
        abort(404, description="replay is not running in this server")
    target = "/" + path + (f"?{request.query_string.decode()}" if request.query_string else "")
    try:
        status, headers, body = service.fetch(target)
    except ReplayUnavailable as exc:
        abort(503, description=str(exc))
    kept = [(k, v) for k, v in headers if k.lower() in ("content-type", "memento-datetime", "link")]
    # The archived bytes are shown in a sandboxed frame: no script of the archive runs with our origin.
    kept.append(("Content-Security-Policy", "sandbox"))
    return Response(body, status=status, headers=kept)
