"""Preparing a case for release: the clerk's redaction decisions and the withholding (exemption) log.

The automatic redactions (``exports.package.redaction``) are proposals; the clerk reviews them
and may undo one (the words are kept in the release) or add words to redact in an item. Items
may be withheld from the release entirely, each under the statute the clerk cites; the package
leaves them out and lists them in ``withholding-log.csv``. Every decision is audited; decisions
are revoked, never deleted. Items are named ``ACCOUNT:PLATFORM-ID``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver import audit
from archiver.cases.models import CaseItem, CaseRedaction, CaseWithholding, RecordsCase
from archiver.exports.package.redaction import Decisions, words_sha256
from archiver.items import ItemRef

__all__ = ["Decisions", "ReleaseError", "decision_log", "decisions", "redaction_added", "redaction_undone",
           "revoke", "withhold", "withholdings"]


class ReleaseError(Exception):
    """A release decision that cannot be recorded; the message says why."""


def _split(item: str) -> tuple[str, str]:
    try:
        ref = ItemRef.parse(item)
    except ValueError as exc:
        raise ReleaseError(str(exc)) from None
    return ref.account, ref.platform_id


def _member(session: Session, case: RecordsCase, item: str) -> tuple[str, str]:
    account, platform_id = _split(item)
    if session.scalar(select(CaseItem.id).where(CaseItem.case_id == case.id, CaseItem.account == account,
                                                CaseItem.platform_id == platform_id)) is None:
        raise ReleaseError(f"{item} is not in case {case.name}")
    return account, platform_id


def withhold(session: Session, case: RecordsCase, item: str, citation: str, reason: str, by: str) -> CaseWithholding:
    account, platform_id = _member(session, case, item)
    if not citation.strip():
        raise ReleaseError("cite the statute or exemption the item is withheld under")
    if any(w["item"] == item for w in withholdings(session, case)):
        raise ReleaseError(f"{item} is already withheld from {case.name}")
    row = CaseWithholding(case_id=case.id, account=account, platform_id=platform_id, citation=citation.strip(),
                          reason=reason.strip() or None, at=datetime.now(UTC), by=by)
    session.add(row)
    audit.record(session, "release.withheld", item, who=by, case=case.name, citation=row.citation, reason=row.reason)
    return row


def redaction_undone(session: Session, case: RecordsCase, item: str, rule: str, words: str, reason: str,
                     by: str) -> CaseRedaction:
    account, platform_id = _split(item)
    row = CaseRedaction(case_id=case.id, account=account, platform_id=platform_id, action="undo", rule=rule,
                        match_sha256=words_sha256(words), reason=reason.strip() or None, at=datetime.now(UTC), by=by)
    session.add(row)
    session.flush()
    audit.record(session, "release.redaction_undone", item, who=by, case=case.name, rule=rule, decision=row.id,
                 reason=row.reason)
    return row


def redaction_added(session: Session, case: RecordsCase, item: str, words: str, reason: str, by: str) -> CaseRedaction:
    account, platform_id = _member(session, case, item)
    if len(words.strip()) < 2:
        raise ReleaseError("type the words to redact (at least two characters)")
    row = CaseRedaction(case_id=case.id, account=account, platform_id=platform_id, action="add", rule="clerk",
                        words=words.strip(), reason=reason.strip() or None, at=datetime.now(UTC), by=by)
    session.add(row)
    session.flush()
    audit.record(session, "release.redaction_added", item, who=by, case=case.name, decision=row.id, reason=row.reason)
    return row


def revoke(session: Session, case: RecordsCase, kind: str, decision_id: int, by: str) -> None:
    """Take back a redaction decision ("redaction") or a withholding ("withholding")."""
    model = CaseRedaction if kind == "redaction" else CaseWithholding
    row = session.get(model, decision_id)
    if row is None or row.case_id != case.id or row.revoked_at is not None:
        raise ReleaseError(f"no standing {kind} decision {decision_id} in case {case.name}")
    row.revoked_at, row.revoked_by = datetime.now(UTC), by
    audit.record(session, f"release.{kind}_revoked", str(ItemRef(row.account, row.platform_id)), who=by, case=case.name,
                 decision=decision_id)


def decisions(session: Session, case: RecordsCase) -> Decisions:
    """The standing redaction decisions, as the package's redactor takes them."""
    undone: set[tuple[str, str, str]] = set()
    added: dict[str, list[str]] = {}
    for row in session.scalars(select(CaseRedaction).where(CaseRedaction.case_id == case.id,
                                                           CaseRedaction.revoked_at.is_(None))):
        item = str(ItemRef(row.account, row.platform_id))
        if row.action == "undo":
            undone.add((item, row.rule or "", row.match_sha256 or ""))
        elif row.words:
            added.setdefault(item, []).append(row.words)
    return Decisions(frozenset(undone), {k: tuple(v) for k, v in added.items()})


def decision_log(session: Session, case: RecordsCase) -> list[dict[str, Any]]:
    """Every redaction decision, standing or revoked, without the words of undone ones."""
    return [{"id": r.id, "item": str(ItemRef(r.account, r.platform_id)), "action": r.action, "rule": r.rule,
             "words": r.words if r.action == "add" else None, "reason": r.reason, "at": r.at.isoformat(),
             "by": r.by, "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None, "revoked_by": r.revoked_by}
            for r in session.scalars(select(CaseRedaction).where(CaseRedaction.case_id == case.id)
                                     .order_by(CaseRedaction.id))]


def withholdings(session: Session, case: RecordsCase) -> list[dict[str, Any]]:
    """The exemption log: items withheld (not revoked), the statute cited, why, by whom, when."""
    return [{"id": w.id, "item": str(ItemRef(w.account, w.platform_id)), "citation": w.citation,
             "reason": w.reason or "", "by": w.by, "at": w.at.isoformat()}
            for w in session.scalars(select(CaseWithholding).where(CaseWithholding.case_id == case.id,
                                                                   CaseWithholding.revoked_at.is_(None))
                                     .order_by(CaseWithholding.id))]
