"""What must hold after a kill (bench/crash.py), read from the index, the store and the spool.

``after_kill``: what must hold at any moment, however the process died — every WARC the index
knows is in the store with its size, a stored WARC the index does not know is still in the spool
(recovery indexes it), no item has two equal versions in a row, and the account's cursor is the
one the latest complete harvest earned, with all of that harvest's files stored and indexed.

``after_restart``: what must hold once the next harvest (and so recovery) has run — also nothing
left in the spool, no object without index rows, no harvest still ``running``, every record of
every stored WARC with its evidence row, and the index matching the fake: every item it serves
is there in its current state, every deletion is recorded, no version the fake never had, none
it had when a harvest completed is missing.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crash_fakes import State
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator

from archiver.capture.spool import OPEN_SUFFIX, spool_files
from archiver.index.db import IndexDB
from archiver.index.models import Account, Evidence, Harvest, Item, Version, WarcFile

ListObjects = Callable[[], dict[str, int]]  # storage key → size
ReadObject = Callable[[str], bytes]  # storage key → the object's bytes


@dataclass
class History:
    """Every state the fake gave each item, and the states a complete harvest must have seen."""

    states: dict[str, list[State]] = field(default_factory=dict)
    required: dict[str, set[State]] = field(default_factory=dict)

    def note(self, truth: dict[str, State]) -> None:
        for item, state in truth.items():
            seen = self.states.setdefault(item, [])
            if not seen or seen[-1] != state:
                seen.append(state)

    def harvested(self, truth: dict[str, State]) -> None:
        for item, state in truth.items():
            self.required.setdefault(item, set()).add(state)


def _state_of(version_state: str, content: dict[str, Any]) -> State:
    if version_state == "deleted":
        return State("", "deleted")
    marker = content.get("title") or content.get("message") or ""
    return State(str(marker), "hidden" if version_state == "hidden" else "live")


def _spool_keys(spool: Path) -> set[str]:
    return {p.relative_to(spool).as_posix().removesuffix(OPEN_SUFFIX) for p in spool_files(spool)}


def storage_problems(db: IndexDB, objects: dict[str, int], spool: Path, *, settled: bool) -> list[str]:
    """Rows without their object; objects without rows (allowed only while still in the spool)."""
    problems = []
    with db.session() as session:
        rows = {key: (size, state) for key, size, state in session.execute(
            select(WarcFile.key, WarcFile.size, WarcFile.state))}
    for key, (size, state) in rows.items():
        if state != "stored":
            problems.append(f"objects: {key} is {state!r} in the index")
        elif key not in objects:
            problems.append(f"objects: the index has {key}, the store does not")
        elif size is not None and objects[key] != size:
            problems.append(f"objects: {key} is {objects[key]} bytes in the store, {size} in the index")
    waiting = _spool_keys(spool)
    for key in objects.keys() - rows.keys():
        if settled or key not in waiting:
            problems.append(f"objects: {key} is stored but the index has no row for it")
    if settled and waiting:
        problems.append(f"spool: {len(waiting)} WARC file(s) left after recovery, e.g. {sorted(waiting)[0]}")
    return problems


def cursor_problems(db: IndexDB, account: str, spool: Path) -> list[str]:
    """The cursor is the latest complete harvest's, and that harvest's data is all stored and indexed."""
    with db.session() as session:
        row = session.scalar(select(Account).where(Account.name == account))
        if row is None:
            return []
        latest = session.scalar(select(Harvest).where(Harvest.account_id == row.id, Harvest.complete.is_(True))
                                .order_by(Harvest.started_at.desc()).limit(1))
        expected = (latest.cursor_after or {}) if latest is not None else {}
        problems = []
        if (row.cursor or {}) != expected:
            which = f"harvest {latest.uid}'s" if latest is not None else "empty (no complete harvest)"
            problems.append(f"cursor: {account}'s cursor is {row.cursor!r}, expected {which} {expected!r}")
        if latest is not None and any(latest.uid in key for key in _spool_keys(spool)):
            problems.append(f"cursor: harvest {latest.uid} moved the cursor with files still in the spool")
        # Each harvest started from the cursor the complete harvests before it had earned (a reset
        # in between, e.g. by recovery, shows here even when the harvest then earned a new one).
        earned: dict[str, Any] = {}
        for harvest in session.scalars(select(Harvest).where(Harvest.account_id == row.id)
                                       .order_by(Harvest.started_at)):
            if harvest.cursor_before is not None and harvest.cursor_before != earned:
                problems.append(f"cursor: harvest {harvest.uid} started from {harvest.cursor_before!r}, "
                                f"not from the {earned!r} the harvests before it earned")
            if harvest.complete:
                earned = harvest.cursor_after or {}
    return problems


def version_problems(db: IndexDB, account: str) -> list[str]:
    """Versions numbered 1..n with no two equal in a row (a version applied twice)."""
    problems = []
    with db.session() as session:
        rows = session.execute(
            select(Item.platform_id, Item.version_count, Version.seq, Version.content_hash, Version.state)
            .join(Account, Account.id == Item.account_id).join(Version, Version.item_id == Item.id)
            .where(Account.name == account).order_by(Item.platform_id, Version.seq)).all()
    by_item: dict[str, list[Any]] = {}
    for row in rows:
        by_item.setdefault(row.platform_id, []).append(row)
    for item, versions in by_item.items():
        if [v.seq for v in versions] != list(range(1, len(versions) + 1)) or versions[0].version_count != len(versions):
            problems.append(f"versions: {item} has versions {[v.seq for v in versions]}, "
                            f"version_count {versions[0].version_count}")
        for before, after in itertools.pairwise(versions):
            if (before.content_hash, before.state) == (after.content_hash, after.state):
                problems.append(f"versions: {item} has version {after.seq} equal to version {before.seq} (duplicated)")
    return problems


def after_kill(db: IndexDB, objects: ListObjects, spool: Path, account: str) -> list[str]:
    return [*storage_problems(db, objects(), spool, settled=False), *cursor_problems(db, account, spool),
            *version_problems(db, account)]


def truth_problems(db: IndexDB, account: str, kinds: tuple[str, ...], truth: dict[str, State],
                   history: History) -> list[str]:
    with db.session() as session:
        rows = session.execute(
            select(Item.platform_id, Version.state, Version.content)
            .join(Account, Account.id == Item.account_id).join(Version, Version.item_id == Item.id)
            .where(Account.name == account, Item.kind.in_(kinds)).order_by(Item.platform_id, Version.seq)).all()
    indexed: dict[str, list[State]] = {}
    for platform_id, state, content in rows:
        indexed.setdefault(platform_id, []).append(_state_of(state, content or {}))
    problems = []
    for item, now in truth.items():
        versions = indexed.get(item)
        if now.state == "deleted":
            if versions and versions[-1].state != "deleted":
                problems.append(f"items: {item} was deleted on the platform, the index still shows {versions[-1]}")
            continue
        if not versions:
            problems.append(f"items: {item} ({now.marker!r}) is served and missing from the index (lost)")
        elif versions[-1] != now:
            problems.append(f"items: {item}'s latest version is {versions[-1]}, the platform serves {now}")
    for item, versions in indexed.items():
        had = history.states.get(item, [])
        if strange := [v for v in versions if v not in had]:
            problems.append(f"versions: {item} has {strange[0]}, a state the platform never served")
        if lost := history.required.get(item, set()) - set(versions):
            problems.append(f"versions: {item} lost {sorted(lost, key=str)[0]}, seen by a complete harvest")
        if had and len(versions) > len(had):
            problems.append(f"versions: {item} has {len(versions)} versions for {len(had)} states (duplicated)")
    return problems


def evidence_problems(db: IndexDB, read: ReadObject, checked: set[str]) -> list[str]:
    """Every response, resource and revisit record of each stored WARC has its evidence row in the
    index (what was captured before a kill is not lost), and no row names a record the file lacks.
    Files already found whole (``checked``) are not read again."""
    problems = []
    with db.session() as session:
        rows = session.execute(select(WarcFile.key, Evidence.record_id).join(
            Evidence, Evidence.warc_file_id == WarcFile.id, isouter=True)).all()
    indexed: dict[str, set[str]] = {}
    for key, record_id in rows:
        indexed.setdefault(key, set()).update([record_id] if record_id else [])
    for key in sorted(indexed.keys() - checked):
        records = {record.rec_headers.get_header("WARC-Record-ID")
                   for record in ArchiveIterator(io.BytesIO(read(key)), check_digests=False)
                   if record.rec_type in ("response", "resource", "revisit")}
        if lost := records - indexed[key]:
            problems.append(f"evidence: {len(lost)} record(s) of {key} have no evidence row (lost)")
        if strange := indexed[key] - records:
            problems.append(f"evidence: {len(strange)} evidence row(s) name records {key} does not have")
        if not lost and not strange:
            checked.add(key)
    return problems


def after_restart(db: IndexDB, objects: ListObjects, spool: Path, account: str, kinds: tuple[str, ...],
                  truth: dict[str, State], history: History, read: ReadObject, checked: set[str]) -> list[str]:
    with db.session() as session:
        running = session.scalars(select(Harvest.uid).where(Harvest.status == "running")).all()
    return [*storage_problems(db, objects(), spool, settled=True), *cursor_problems(db, account, spool),
            *version_problems(db, account), *truth_problems(db, account, kinds, truth, history),
            *evidence_problems(db, read, checked),
            *(f"harvests: {uid} is still 'running' after recovery" for uid in running)]
