"""``archiver retention apply PLAN``: carry out an approved plan, then certify what was done.

Order, so that nothing is claimed that did not happen and nothing is lost halfway:

1. Holds are refreshed and the plan's items are checked again: only approved items that are
   still due and not held go; the store is asked which objects it would refuse to delete
   (Object Lock, legal hold), and their records are left alone, with the items in them.
2. Items of ``transfer`` series are written to a WACZ package, which is verified, first.
3. Each object is deleted, or rewritten (the new sealed WARC is stored and verified before the
   old one is deleted); each outcome is journaled in the plan before the next object, so an
   interrupted apply resumes where it stopped.
4. The index drops exactly what was destroyed, and the certificate is issued (see
   ``certificate.py``).
"""

from __future__ import annotations

import logging
import shutil
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from archiver import audit
from archiver.config import Config
from archiver.index.db import IndexDB
from archiver.index.models import Evidence, Harvest, Item, ItemEvidence, Version, WarcFile
from archiver.retention import holds
from archiver.retention.certificate import issue
from archiver.retention.lock import LockPolicy, Sighting
from archiver.retention.models import PlanObject, RetentionPlan
from archiver.retention.plan import Draft, PlanError, draft, find, plan_items
from archiver.retention.rewrite import Rewritten, rewrite
from archiver.retention.selection import Record
from archiver.retention.transfer import Package, write_package
from storage.base import ObjectLocked, Storage, StorageError

log = logging.getLogger(__name__)


class Disposition:
    def __init__(self, config: Config, db: IndexDB, storage: Storage, who: str):
        self.config, self.db, self.storage, self.who = config, db, storage, who
        self.workdir = config.data_dir / "disposition-work"

    def apply(self, uid: str) -> dict[str, object]:
        with self.db.session() as session:
            plan = find(session, uid)
            if plan.state == "proposed":
                raise PlanError(f"plan {uid} is not approved; approve it first: archiver retention approve {uid} "
                                "--by NAME")
            if plan.state != "approved":
                raise PlanError(f"plan {uid} is {plan.state}; nothing to apply")
            approved = {(p.account, p.platform_id) for p in plan_items(session, plan)}
        holds.sync_store_flags(self.db, self.storage)
        refused: dict[str, str] = {}
        while True:  # leave alone whatever the store would refuse to delete, and the items in it
            with self.db.session() as session:
                made = draft(session, self.config, datetime.now(UTC), only=approved, frozen=set(refused))
                keys = {made.selection.files[f].key for f in made.selection.delete_files | made.selection.rewrite_files}
            fresh = {key: reason for key in sorted(keys - refused.keys()) if (reason := self.storage.lock_reason(key))}
            if not fresh:
                break
            refused |= fresh
        packages = self._transfer(uid, made)
        outcomes = self._destroy(uid, made)
        disposed = self._reindex(made, outcomes)
        with self.db.session() as session:
            plan = find(session, uid)
            certificate = issue(session, self.config, self.storage, plan, made, disposed, outcomes, refused, packages,
                                self.who)
            plan.state, plan.applied_at, plan.certificate = "applied", datetime.now(UTC), certificate["id"]
            audit.record(session, "retention.disposed", uid, who=self.who, certificate=certificate["id"],
                         items=len(disposed), sha256=certificate["sha256"],
                         objects={k: v["outcome"] for k, v in outcomes.items()})
        holds.sync_store_flags(self.db, self.storage)
        shutil.rmtree(self.workdir / uid, ignore_errors=True)
        return certificate

    def _transfer(self, uid: str, made: Draft) -> list[Package]:
        selection = made.selection
        by_series: dict[str, set[int]] = defaultdict(set)
        for due in made.due:
            if due.item.id in selection.disposed and due.series.action == "transfer":
                by_series[due.series.code].add(due.item.id)
        packages = []
        folder = self.config.retention.transfer_dir or Path("transfers")
        folder = folder if folder.is_absolute() else self.config.data_dir / folder
        for code, items in sorted(by_series.items()):
            spans = set()
            for record in selection.records.values():
                if record.items & items or record.owners & items:
                    key = selection.files[record.file_id].key
                    spans.update((key, offset, length) for offset, length in record.spans())
            package = write_package(self.storage, spans, folder / f"{uid}-{code}.wacz",
                                    title=f"Transfer of record series {code} under plan {uid}",
                                    description={"plan": uid, "series": code, "items": len(items),
                                                 "agency": self.config.archiver.agency})
            packages.append(package)
        return packages

    def _destroy(self, uid: str, made: Draft) -> dict[str, dict[str, object]]:
        selection = made.selection
        outcomes: dict[str, dict[str, object]] = {}
        for file_id in sorted(selection.delete_files | selection.rewrite_files, key=lambda f: selection.files[f].key):
            warc = selection.files[file_id]
            doomed = selection.destroyed[file_id]
            try:
                if file_id in selection.delete_files:
                    self.storage.delete(warc.key)
                    outcome: dict[str, object] = {"outcome": "deleted"}
                else:
                    outcome = self._resumed(uid, made, warc, doomed) or self._rewrite(uid, made, warc, doomed)
            except ObjectLocked as exc:
                outcome = {"outcome": "refused", "message": str(exc)}
            except StorageError as exc:
                outcome = {"outcome": "failed", "message": str(exc)}
            outcome |= {"key": warc.key, "sha256": warc.sha256, "size": warc.size, "file_id": file_id,
                        "records": [r.evidence_id for r in doomed]}
            outcomes[warc.key] = outcome
            self._journal(uid, warc.key, outcome)
        return outcomes

    def _rewrite(self, uid: str, made: Draft, warc: WarcFile, doomed: list[Record]) -> dict[str, object]:
        selection = made.selection
        spans = [span for record in doomed for span in record.spans()]
        note = {"plan": uid, "source_sha256": warc.sha256, "agency": self.config.archiver.agency}
        new = rewrite(self.storage, warc.key, spans, self.workdir / uid, note)
        self.storage.put(new.key, new.path, new.sha256)  # verified by the store; locked once the old one is gone
        self._journal(uid, warc.key, {"outcome": "rewriting", "new_key": new.key, "new_sha256": new.sha256,
                                      "new_size": new.size, "records": [r.evidence_id for r in doomed]})
        try:
            self.storage.delete(warc.key)
        except ObjectLocked:
            self.storage.delete(new.key)
            raise
        survivors = [r for r in selection.records.values() if r.file_id == warc.id and r not in doomed]
        with self.db.session() as session:
            kept = [session.get(Item, i) for i in sorted({i for r in survivors for i in r.items})]
            sightings = [Sighting(item.platform_id, item.posted_at, item.last_seen_at) for item in kept if item]
            until = LockPolicy(self.config).retain_until(session, warc.key.split("/")[1], sightings, warc.stored_at)
        if until is not None and until > datetime.now(UTC):
            self.storage.set_retention(new.key, until)
        return {"outcome": "rewritten", "new_key": new.key, "new_sha256": new.sha256, "new_size": new.size,
                "retain_until": until, "offsets": {r.evidence_id: (new.new_offset(r.offset), r.request_offset and
                                                                   new.new_offset(r.request_offset))
                                                   for r in survivors}}

    def _resumed(self, uid: str, made: Draft, warc: WarcFile, doomed: list[Record]) -> dict[str, object] | None:
        """An interrupted apply already stored the rewrite and deleted the original: finish from the journal."""
        with self.db.session() as session:
            plan = session.scalar(select(RetentionPlan).where(RetentionPlan.uid == uid))
            row = session.scalar(select(PlanObject).where(PlanObject.plan_id == plan.id, PlanObject.key == warc.key)) \
                if plan else None
        if row is None or row.new_key is None or self.storage.stat(warc.key) is not None \
                or self.storage.stat(row.new_key) is None:
            return None
        new = Rewritten(row.new_key, Path(), row.new_size or 0, row.new_sha256 or "",
                        tuple(sorted(span for record in doomed for span in record.spans())))
        survivors = [r for r in made.selection.records.values() if r.file_id == warc.id and r not in doomed]
        return {"outcome": "rewritten", "new_key": new.key, "new_sha256": new.sha256, "new_size": new.size,
                "retain_until": None, "offsets": {r.evidence_id: (new.new_offset(r.offset), r.request_offset and
                                                                  new.new_offset(r.request_offset))
                                                  for r in survivors}}

    def _journal(self, uid: str, key: str, outcome: dict[str, object]) -> None:
        with self.db.session() as session:
            plan = session.scalar(select(RetentionPlan).where(RetentionPlan.uid == uid))
            row = session.scalar(select(PlanObject).where(PlanObject.plan_id == plan.id, PlanObject.key == key)) \
                if plan else None
            if row is None:
                return
            row.outcome, row.message = str(outcome["outcome"]), outcome.get("message")  # type: ignore[assignment]
            row.new_key, row.new_sha256 = outcome.get("new_key"), outcome.get("new_sha256")  # type: ignore[assignment]
            row.new_size = outcome.get("new_size")  # type: ignore[assignment]
            row.removed = [str(r) for r in outcome["records"]]  # type: ignore[attr-defined]

    def _reindex(self, made: Draft, outcomes: dict[str, dict[str, object]]) -> set[int]:
        """Drop from the index exactly what was destroyed; the disposed item ids."""
        done = {k: o for k, o in outcomes.items() if o["outcome"] in ("deleted", "rewritten")}
        destroyed = {e for o in done.values() for e in o["records"]}  # type: ignore[attr-defined]
        with self.db.session() as session:
            disposed = {i for i in made.selection.disposed
                        if self._all_in(session, i, destroyed)}
            _delete_in(session, ItemEvidence, ItemEvidence.evidence_id, destroyed)
            _delete_in(session, ItemEvidence, ItemEvidence.item_id, disposed)
            _delete_in(session, Version, Version.item_id, disposed)
            _delete_in(session, Item, Item.id, disposed)
            _delete_in(session, Evidence, Evidence.id, destroyed)
            harvests = set()
            for outcome in done.values():
                warc = session.get(WarcFile, outcome["file_id"])
                if warc is None:
                    continue
                if outcome["outcome"] == "deleted":
                    harvests.add(warc.harvest_id)
                    _delete_in(session, Evidence, Evidence.warc_file_id, {warc.id})
                    session.delete(warc)
                    continue
                warc.key, warc.sha256 = str(outcome["new_key"]), str(outcome["new_sha256"])
                warc.size, warc.stored_at = int(outcome["new_size"]), datetime.now(UTC)  # type: ignore[call-overload]
                warc.retain_until = outcome.get("retain_until")  # type: ignore[assignment]
                for evidence_id, (offset, request_offset) in outcome["offsets"].items():  # type: ignore[attr-defined]
                    evidence = session.get(Evidence, evidence_id)
                    if evidence is not None:
                        evidence.offset, evidence.request_offset = offset, request_offset
            session.flush()
            for harvest_id in harvests - {None}:
                if session.scalar(select(WarcFile.id).where(WarcFile.harvest_id == harvest_id).limit(1)) is None:
                    session.execute(delete(Harvest).where(Harvest.id == harvest_id))
        return disposed

    @staticmethod
    def _all_in(session: Session, item_id: int, destroyed: set[int]) -> bool:
        records = set(session.scalars(select(ItemEvidence.evidence_id).where(ItemEvidence.item_id == item_id)))
        return records <= destroyed


def _delete_in(session: Session, model: type, column: object, values: set[int]) -> None:
    ordered = sorted(values)
    for start in range(0, len(ordered), 500):
        session.execute(delete(model).where(column.in_(ordered[start:start + 500])))  # type: ignore[attr-defined]
