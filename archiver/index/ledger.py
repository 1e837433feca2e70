"""Bookkeeping rows: accounts, harvests, WARC files and evidence, and the lookups on them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.capture.session import Evidence as CapturedEvidence
from archiver.capture.warc import RevisitTarget, parse_warc_date
from archiver.index.models import Account, Evidence, WarcFile


def now() -> datetime:
    return datetime.now(UTC)


def ensure_account(session: Session, name: str, platform: str, platform_account_id: str) -> Account:
    account = session.scalar(select(Account).where(Account.name == name))
    if account is None:
        account = Account(name=name, platform=platform, platform_account_id=platform_account_id, cursor={},
                          status="active", created_at=now())
        session.add(account)
        session.flush()
    elif (account.platform, account.platform_account_id) != (platform, platform_account_id):
        # The config now points the name elsewhere: history stays, the cursor must not carry over.
        account.platform, account.platform_account_id, account.cursor = platform, platform_account_id, {}
    return account


def evidence_row(warc_file_id: int, evidence: CapturedEvidence, status: int | None) -> dict[str, Any]:
    response, request = evidence.response, evidence.request
    return {
        "warc_file_id": warc_file_id,
        "record_id": response.record_id,
        "record_type": response.record_type,
        "offset": response.offset,
        "length": response.length,
        "target_uri": response.target_uri,
        "status": status,
        "captured_at": parse_warc_date(response.date),
        "payload_sha256": evidence.payload_sha256,
        "payload_digest": response.payload_digest,
        "block_digest": response.block_digest,
        "request_record_id": request.record_id if request else None,
        "request_offset": request.offset if request else None,
        "request_length": request.length if request else None,
    }


def revisit_target(session: Session, account_id: int, month: str, payload_sha256: str) -> RevisitTarget | None:
    """An earlier full record with these bytes in the same account and month.

    Revisits never point outside their account-month: WARCs are disposed of per account and
    month, so a revisit can never outlive the record that holds its payload.
    """
    row = session.execute(
        select(Evidence.record_id, Evidence.target_uri, Evidence.captured_at, Evidence.payload_digest)
        .join(WarcFile, WarcFile.id == Evidence.warc_file_id)
        .where(
            Evidence.payload_sha256 == payload_sha256,
            Evidence.record_type.in_(("response", "resource")),
            WarcFile.account_id == account_id,
            WarcFile.month == month,
        )
        .limit(1)
    ).first()
    if row is None or not row.payload_digest:
        return None
    date = row.captured_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return RevisitTarget(row.record_id, row.target_uri, date, row.payload_digest)


def media_archived(session: Session, account_id: int, url: str) -> bool:
    """Whether a complete, successful copy of ``url`` is already archived for the account."""
    return session.execute(
        select(Evidence.id)
        .join(WarcFile, WarcFile.id == Evidence.warc_file_id)
        .where(Evidence.target_uri == url, Evidence.status == 200, WarcFile.account_id == account_id,
               WarcFile.state == "stored")
        .limit(1)
    ).first() is not None
