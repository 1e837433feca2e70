"""The case register: open a case, add and drop what searches find, review it.

Every action is audited in the same unit of work that does it (invariant 6). Items are added
in search order and stay in the order they were added, which is the order of the package.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import and_, delete, func, select, tuple_
from sqlalchemy.orm import Session

from archiver import audit
from archiver.cases.models import CaseItem, CaseSearch, RecordsCase
from archiver.index.models import Account, Item
from archiver.items import ItemRef, item_refs
from archiver.search import SearchQuery, matching_ids

KINDS = ("request", "production")
NAME_MAX = 100  # characters: a case name becomes folder and file names (packages, downloads)
_FORBIDDEN = frozenset('/\\:*?"<>|')  # not accepted in a file name by Windows, macOS or Linux
_RESERVED = frozenset({"con", "prn", "aux", "nul", *(f"com{n}" for n in range(10)), *(f"lpt{n}" for n in range(10))})


class CaseError(Exception):
    """A case action that cannot be done; the message says why and what to do instead."""


@dataclass(frozen=True)
class CaseDetails:
    name: str
    kind: str = "request"
    requester: str | None = None
    description: str | None = None
    received_on: date | None = None
    due_on: date | None = None


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a case (it must work as a file name on any system), or None.

    >>> name_problem("PRR-2026-114"), name_problem("Doe v. City (2026)")
    (None, None)
    >>> name_problem("PRR/114")
    "has '/', which file systems do not accept"
    """
    if not name.strip():
        return "is empty"
    if len(name) > NAME_MAX:
        return f"is {len(name)} characters long; at most {NAME_MAX}"
    bad = sorted({c for c in name if c in _FORBIDDEN or not c.isprintable()})
    if bad:
        return f"has {', '.join(repr(c) for c in bad)}, which file systems do not accept"
    if name != name.strip() or name.endswith("."):
        return "starts or ends with a space, or ends with '.'"
    if name.startswith(("-", ".")):
        return "starts with '-' or '.'"
    if name.split(".")[0].strip().lower() in _RESERVED:
        return "is a device name on Windows"
    return None


def open_case(session: Session, details: CaseDetails, by: str) -> RecordsCase:
    problem = name_problem(details.name)
    if problem is not None:
        raise CaseError(f"the case name {details.name!r} {problem}; use letters, digits, spaces and . _ - ( ) "
                        "(e.g. PRR-2026-114)")
    if details.kind not in KINDS:
        raise CaseError(f"case kind {details.kind!r} is not one of {', '.join(KINDS)}")
    if session.scalar(select(RecordsCase.id).where(RecordsCase.name == details.name)) is not None:
        raise CaseError(f"a case named {details.name!r} already exists; pick another name or use it")
    if details.received_on and details.due_on and details.due_on < details.received_on:
        raise CaseError(f"--due {details.due_on} is before --received {details.received_on}")
    case = RecordsCase(name=details.name, kind=details.kind, requester=details.requester,
                       description=details.description, received_on=details.received_on, due_on=details.due_on,
                       created_at=datetime.now(UTC), created_by=by)
    session.add(case)
    session.flush()
    audit.record(session, "case.opened", details.name, kind=details.kind, requester=details.requester,
                 received=str(details.received_on or ""), due=str(details.due_on or ""))
    return case


def get_case(session: Session, name: str) -> RecordsCase:
    case = session.scalar(select(RecordsCase).where(RecordsCase.name == name))
    if case is None:
        raise CaseError(f"no case named {name!r}; 'archiver request list' shows the cases, "
                        f"'archiver request new {name}' opens one")
    return case


def _keys(session: Session, found: list[int], named: list[ItemRef]) -> list[tuple[str, str]]:
    """(account, platform id) of what a search found (index ids, in order), then of the items named."""
    refs = item_refs(session, found)
    keys = [(refs[i].account, refs[i].platform_id) for i in found if i in refs]
    return keys + [(ref.account, ref.platform_id) for ref in named]


def add_items(session: Session, case: RecordsCase, query: SearchQuery, named: list[ItemRef], by: str) -> int:
    """Add what ``query`` finds (if it has any criterion) and the items ``named``; returns how many were new."""
    found = matching_ids(session, query) if has_criteria(query) else []
    keys = list(dict.fromkeys(_keys(session, found, named)))
    present = set(tuple(row) for row in session.execute(select(CaseItem.account, CaseItem.platform_id)
                                  .where(CaseItem.case_id == case.id)).all())
    new = [key for key in dict.fromkeys(keys) if key not in present]
    now = datetime.now(UTC)
    record = CaseSearch(case_id=case.id, action="add", query=_described(query, named), items=len(new), at=now,
                        by=by)
    session.add(record)
    session.flush()
    session.add_all(CaseItem(case_id=case.id, account=account, platform_id=platform_id, search_id=record.id,
                             added_at=now) for account, platform_id in new)
    audit.record(session, "case.items_added", case.name, query=record.query, matched=len(keys), added=len(new))
    return len(new)


def drop_items(session: Session, case: RecordsCase, query: SearchQuery, named: list[ItemRef], by: str) -> int:
    """Drop from the case what ``query`` finds and the items ``named``; returns how many left the case."""
    found = matching_ids(session, query) if has_criteria(query) else []
    keys = set(_keys(session, found, named))
    members = set(tuple(row) for row in session.execute(select(CaseItem.account, CaseItem.platform_id)
                                  .where(CaseItem.case_id == case.id)).all())
    leaving = sorted(keys & members)
    for start in range(0, len(leaving), 500):
        chunk = leaving[start:start + 500]
        session.execute(delete(CaseItem).where(CaseItem.case_id == case.id,
                                               tuple_(CaseItem.account, CaseItem.platform_id).in_(chunk)))
    described = _described(query, named)
    session.add(CaseSearch(case_id=case.id, action="drop", query=described, items=len(leaving),
                           at=datetime.now(UTC), by=by))
    audit.record(session, "case.items_dropped", case.name, query=described, dropped=len(leaving))
    return len(leaving)


def has_criteria(query: SearchQuery) -> bool:
    return any(k not in ("limit", "offset") for k in query.describe())


def _described(query: SearchQuery, named: list[ItemRef]) -> dict[str, Any]:
    """The search as the case log and the custody record keep it: filters, and items by stable name."""
    described = {k: v for k, v in query.describe().items() if k not in ("limit", "offset")}
    if named:
        described["items"] = [str(ref) for ref in named]
    return described


def case_item_ids(session: Session, case: RecordsCase, leave_out: set[str] = frozenset()) -> list[int]:  # type: ignore[assignment]
    """Index ids of the case's items still in the index, in the order they were added.

    ``leave_out`` names items (ACCOUNT:PLATFORM-ID) not wanted, e.g. those withheld from a release.
    """
    rows = session.execute(
        select(CaseItem.account, CaseItem.platform_id, Item.id).join(Account, Account.name == CaseItem.account)
        .join(Item, and_(Item.account_id == Account.id, Item.platform_id == CaseItem.platform_id))
        .where(CaseItem.case_id == case.id).order_by(CaseItem.id)
    ).all()
    return [item_id for account, platform_id, item_id in rows if str(ItemRef(account, platform_id)) not in leave_out]


def summary(session: Session, case: RecordsCase) -> dict[str, Any]:
    members = session.scalar(select(func.count()).select_from(CaseItem).where(CaseItem.case_id == case.id)) or 0
    return {"name": case.name, "kind": case.kind, "requester": case.requester, "description": case.description,
            "received": case.received_on.isoformat() if case.received_on else None,
            "due": case.due_on.isoformat() if case.due_on else None,
            "created_at": case.created_at.isoformat(), "created_by": case.created_by, "items": members}


def searches(session: Session, case: RecordsCase) -> list[dict[str, Any]]:
    rows = session.scalars(select(CaseSearch).where(CaseSearch.case_id == case.id).order_by(CaseSearch.id))
    return [{"action": s.action, "query": s.query, "items": s.items, "at": s.at.isoformat(), "by": s.by}
            for s in rows]


def list_cases(session: Session) -> list[dict[str, Any]]:
    return [summary(session, case) for case in session.scalars(select(RecordsCase).order_by(RecordsCase.id))]


def members(session: Session, case: RecordsCase) -> list[dict[str, Any]]:
    """The case's items as a review list: stable id, account, kind, state, posted, author, first words."""
    from archiver.index.models import Version

    rows = session.execute(
        select(Item.platform_id, CaseItem.account, Item.kind, Item.state, Item.posted_at, Item.author, Version.text)
        .join(Account, Account.name == CaseItem.account)
        .join(Item, and_(Item.account_id == Account.id, Item.platform_id == CaseItem.platform_id))
        .join(Version, and_(Version.item_id == Item.id, Version.seq == 1))
        .where(CaseItem.case_id == case.id).order_by(CaseItem.id)
    ).all()
    return [{"item_id": str(ItemRef(r[1], r[0])), "account": r[1], "kind": r[2], "state": r[3],
             "posted": r[4].strftime("%Y-%m-%d %H:%M") if r[4] else "", "author": r[5],
             "text": " ".join((r[6] or "").split())[:80], "platform_id": r[0], "item": str(ItemRef(r[1], r[0]))}
            for r in rows]
