"""Reading one archived record for a page: its evidence row, and its payload from the stored WARC.

A record is named by its WARC-Record-ID as the index holds it; its bytes come from the store
by byte range, read as the packages read them (``exports.payloads``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.exports.payloads import Payload, read_payload
from archiver.index.models import Evidence, WarcFile
from archiver.items import evidence_dict

__all__ = ["Payload", "find_evidence", "read_payload"]


def find_evidence(session: Session, record_id: str) -> dict[str, Any] | None:
    row = session.execute(select(Evidence, WarcFile.key).join(WarcFile, WarcFile.id == Evidence.warc_file_id)
                          .where(Evidence.record_id == record_id)).first()
    return evidence_dict(row[0], row[1]) if row else None
