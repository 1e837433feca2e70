"""JSON Lines export: one item per line with every version and its evidence."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from archiver.exports.selection import ExportRequest, histories, matching_item_ids, new_folder, write_manifest


def export_jsonl(session: Session, request: ExportRequest, out: Path) -> dict[str, Any]:
    new_folder(out)
    target = out / "items.jsonl"
    digest, count = hashlib.sha256(), 0
    with target.open("x", encoding="utf-8") as handle:
        for history in histories(session, matching_item_ids(session, request.query)):
            line = json.dumps(history, ensure_ascii=False, sort_keys=True) + "\n"
            handle.write(line)
            digest.update(line.encode("utf-8"))
            count += 1
    summary = request.describe() | {"format": "jsonl", "items": count,
                                    "files": {target.name: {"sha256": digest.hexdigest()}}}
    write_manifest(out / "export.json", summary)
    return summary
