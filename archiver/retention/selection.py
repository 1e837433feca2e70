"""Which records can be destroyed so that exactly the due items disappear, and nothing else.

A WARC record (one API page, one media file) may hold several items, and an item is usually
in several records. The rules, applied until nothing changes:

- an item is disposed only if every record it was seen in is destroyed;
- a record is destroyed only if every item in it is being disposed, except that a record
  which merely re-observes an unchanged item (it is neither the first nor the last sighting of
  any version of that item) does not keep the record alive: the index, and a reindex, are the
  same without it. Held items keep every record they are in;
- a media record goes when every item that shows the media is disposed; a record whose
  payload a surviving ``revisit`` refers to stays;
- nothing in a WARC object that a legal hold needs (or that the store refuses to delete) is
  touched;
- records that hold no item (``warcinfo``, harvest summaries, errors) go only with their file.

Files then fall into three groups: untouched, deleted whole, or rewritten with the surviving
records (byte for byte) into a new sealed WARC.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from archiver.index.models import Evidence, Item, ItemEvidence, Version, WarcFile

CHUNK = 500


def _chunks(values: Iterable[int]) -> Iterable[list[int]]:
    ordered = sorted(set(values))
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start:start + CHUNK]


@dataclass
class Record:
    evidence_id: int
    file_id: int
    record_type: str
    offset: int
    length: int
    request_offset: int | None
    request_length: int | None
    payload_sha256: str | None
    target_uri: str
    items: set[int] = field(default_factory=set)  # items observed in this record
    owners: set[int] = field(default_factory=set)  # for media: items that show it

    def spans(self) -> list[tuple[int, int]]:
        found = [(self.offset, self.length)]
        if self.request_offset is not None and self.request_length:
            found.append((self.request_offset, self.request_length))
        return found


@dataclass
class Selection:
    disposed: set[int]  # item ids
    destroyed: dict[int, list[Record]]  # file id → records to destroy
    delete_files: set[int]
    rewrite_files: set[int]
    deferred: dict[int, str]  # item id → why it is not disposed now
    files: dict[int, WarcFile]
    records: dict[int, Record]  # evidence id → record, for every record of the affected files


class RecordGraph:
    """Records of the files that hold any record of the candidate items, and what is in them."""

    def __init__(self, session: Session, candidates: set[int]):
        self.session = session
        file_ids: set[int] = set()
        for chunk in _chunks(candidates):
            file_ids.update(session.scalars(select(Evidence.warc_file_id).join(
                ItemEvidence, ItemEvidence.evidence_id == Evidence.id).where(ItemEvidence.item_id.in_(chunk))))
        self.files = {f.id: f for chunk in _chunks(file_ids)
                      for f in session.scalars(select(WarcFile).where(WarcFile.id.in_(chunk)))}
        self.records: dict[int, Record] = {}
        for chunk in _chunks(self.files):
            for e in session.scalars(select(Evidence).where(Evidence.warc_file_id.in_(chunk))):
                self.records[e.id] = Record(e.id, e.warc_file_id, e.record_type, e.offset, e.length, e.request_offset,
                                            e.request_length, e.payload_sha256, e.target_uri)
        self.item_records: dict[int, set[int]] = defaultdict(set)
        for chunk in _chunks(self.records):
            for item_id, evidence_id in session.execute(
                    select(ItemEvidence.item_id, ItemEvidence.evidence_id).where(ItemEvidence.evidence_id.in_(chunk))):
                self.records[evidence_id].items.add(item_id)
                self.item_records[item_id].add(evidence_id)
        for chunk in _chunks(candidates):  # a candidate's records are all loaded (files chosen from them)
            for item_id, evidence_id in session.execute(
                    select(ItemEvidence.item_id, ItemEvidence.evidence_id).where(ItemEvidence.item_id.in_(chunk))):
                self.item_records[item_id].add(evidence_id)
        self.version_evidence: set[tuple[int, int]] = set()
        for chunk in _chunks(self.records):
            for item_id, first, last in session.execute(
                    select(Version.item_id, Version.first_evidence_id, Version.last_evidence_id).where(
                        or_(Version.first_evidence_id.in_(chunk), Version.last_evidence_id.in_(chunk)))):
                self.version_evidence.update({(item_id, first), (item_id, last)})
        self._media_owners()

    def _media_owners(self) -> None:
        media = [r for r in self.records.values() if not r.items and r.record_type in ("response", "resource",
                                                                                        "revisit")]
        by_account: dict[int, dict[str, list[Record]]] = defaultdict(lambda: defaultdict(list))
        for record in media:
            by_account[self.files[record.file_id].account_id][record.target_uri].append(record)
        for account_id, urls in by_account.items():
            query = select(Version.item_id, Version.media_urls).join(Item, Item.id == Version.item_id).where(
                Item.account_id == account_id)
            for item_id, shown in self.session.execute(query).yield_per(5000):
                for url in shown or ():
                    for record in urls.get(url, ()):
                        record.owners.add(item_id)


def select_records(session: Session, candidates: set[int], held: set[int], frozen_keys: set[str]) -> Selection:
    """The largest set of candidate items that can be disposed under the rules above."""
    graph = RecordGraph(session, candidates - held)
    frozen = {fid for fid, f in graph.files.items() if f.key in frozen_keys or f.state != "stored"}
    disposing = set(candidates - held)
    deferred: dict[int, str] = {i: "under a legal hold" for i in candidates & held}

    def destroyable(record: Record) -> bool:
        if record.file_id in frozen:
            return False
        if record.items:
            return all(j in disposing or (j not in held and (j, record.evidence_id) not in graph.version_evidence)
                       for j in record.items)
        return bool(record.owners) and record.owners <= disposing

    while True:
        blocked = {i for i in disposing
                   if not all(e in graph.records and destroyable(graph.records[e]) for e in graph.item_records[i])}
        if not blocked:
            break
        for item_id in blocked:
            in_frozen = any(graph.records[e].file_id in frozen for e in graph.item_records[item_id]
                            if e in graph.records)
            deferred[item_id] = ("in a WARC object a legal hold needs or the store will not delete yet" if in_frozen
                                 else "shares a record with an item that is kept")
        disposing -= blocked
    destroy = {e for e, r in graph.records.items() if (r.items or r.owners) and destroyable(r)}
    destroy -= _kept_by_revisits(session, graph, destroy)
    by_file: dict[int, list[Record]] = defaultdict(list)
    for evidence_id in destroy:
        by_file[graph.records[evidence_id].file_id].append(graph.records[evidence_id])
    delete_files, rewrite_files = set(), set()
    for file_id, doomed in by_file.items():
        content = [r for r in graph.records.values() if r.file_id == file_id and (r.items or r.owners)]
        (delete_files if len(doomed) == len(content) else rewrite_files).add(file_id)
    return Selection(disposing, dict(by_file), delete_files, rewrite_files, deferred, graph.files, graph.records)


def _kept_by_revisits(session: Session, graph: RecordGraph, destroy: set[int]) -> set[int]:
    """Payload records that a surviving revisit record (anywhere in the account) refers to."""
    originals = {e: graph.records[e] for e in destroy
                 if graph.records[e].record_type in ("response", "resource") and graph.records[e].payload_sha256}
    hashes = {r.payload_sha256 for r in originals.values()}
    if not hashes:
        return set()
    surviving: set[tuple[int, str]] = set()
    for evidence_id, account_id, sha in session.execute(
            select(Evidence.id, WarcFile.account_id, Evidence.payload_sha256)
            .join(WarcFile, WarcFile.id == Evidence.warc_file_id)
            .where(Evidence.record_type == "revisit", Evidence.payload_sha256.in_(sorted(h for h in hashes if h)))):
        if evidence_id not in destroy:
            surviving.add((account_id, sha))
    return {e for e, r in originals.items() if (graph.files[r.file_id].account_id, r.payload_sha256) in surviving}
