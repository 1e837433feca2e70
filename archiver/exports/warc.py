"""WARC export: the records behind the selected items, cut from the stored WARCs by byte range.

Each record is its own gzip member in storage, so copying its bytes copies the record whole,
digests and all, without re-encoding it. The export starts with its own ``warcinfo`` record
describing what was exported, when and by whom.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.capture.warc import WarcFileWriter
from archiver.exports.selection import ExportRequest, histories, matching_item_ids, new_folder, write_manifest
from archiver.index.models import Evidence, WarcFile
from archiver.items import history_evidence
from storage.base import Storage


def export_warc(session: Session, storage: Storage, request: ExportRequest, out: Path) -> dict[str, Any]:
    new_folder(out)
    spans: dict[str, set[tuple[int, int]]] = defaultdict(set)
    revisited: set[str] = set()
    items = 0
    for history in histories(session, matching_item_ids(session, request.query)):
        items += 1
        for evidence in history_evidence(history):
            spans[evidence["warc"]].add((evidence["offset"], evidence["length"]))
            if evidence.get("request_offset") is not None:
                spans[evidence["warc"]].add((evidence["request_offset"], evidence["request_length"]))
            if evidence["record_type"] == "revisit":
                revisited.add(evidence["record_id"])
    if revisited:  # a revisit holds no payload: bring the record that does
        for original in _revisit_originals(session, revisited):
            spans[original["warc"]].add((original["offset"], original["length"]))
    stamp = request.created_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = out / f"export-{stamp}.warc.gz"
    records = 0
    with WarcFileWriter(target) as writer:
        writer.write_warcinfo({"software": request.describe()["software"], "format": "WARC File Format 1.1",
                               "description": "records exported by gov-social-archiver",
                               "archiver-export": json.dumps(request.describe())}, datetime.now(UTC))
        writer.sync()
    with target.open("ab") as sink:
        for key in sorted(spans):
            for offset, length in sorted(spans[key]):
                sink.write(storage.read_range(key, offset, length))
                records += 1
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    summary = request.describe() | {"format": "warc", "items": items, "records": records + 1,
                                    "source_warcs": sorted(spans),
                                    "files": {target.name: {"sha256": digest, "size": target.stat().st_size}}}
    write_manifest(out / "export.json", summary)
    return summary


def _revisit_originals(session: Session, revisit_ids: set[str]) -> list[dict[str, Any]]:
    revisits = session.scalars(select(Evidence).where(Evidence.record_id.in_(revisit_ids))).all()
    wanted = {r.payload_sha256 for r in revisits if r.payload_sha256}
    rows = session.execute(
        select(Evidence, WarcFile.key).join(WarcFile, WarcFile.id == Evidence.warc_file_id)
        .where(Evidence.payload_sha256.in_(wanted), Evidence.record_type.in_(("response", "resource")))
    ).all()
    return [{"warc": key, "offset": e.offset, "length": e.length} for e, key in rows]
