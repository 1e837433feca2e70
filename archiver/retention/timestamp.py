"""A daily digest of the audit log and of new WARCs, time-stamped by an RFC 3161 authority.

The digest document names the day, the audit chain's head at the end of that day (its hash
covers every earlier entry) and every WARC stored that day with its SHA-256. Its SHA-256 is
sent to the time-stamping authority (``[timestamp] url``); the signed reply is verified
against ``[timestamp] ca_file`` before it is kept. Later, anyone can check that the log and
the WARCs of that day existed, unchanged, at the authority's time.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import requests
from cryptography import x509
from rfc3161_client import TimestampRequestBuilder, VerificationError, VerifierBuilder, decode_timestamp_response
from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver import audit
from archiver.audit import AuditEntry
from archiver.config import Config
from archiver.index.models import WarcFile
from archiver.retention.models import TimeStamp


class TimestampError(Exception):
    """The authority could not be reached, refused, or sent a reply that does not verify."""


def document(session: Session, config: Config, day: date, cutoff: datetime | None = None) -> dict[str, Any]:
    """The day's digest document; a day not yet over is covered up to ``cutoff`` (now)."""
    start = datetime.combine(day, time(), UTC)
    end = min(start + timedelta(days=1), cutoff or datetime.now(UTC))
    head = session.scalar(select(AuditEntry).where(AuditEntry.at < end).order_by(AuditEntry.seq.desc()).limit(1))
    today = session.scalars(select(AuditEntry.seq).where(AuditEntry.at >= start, AuditEntry.at < end)).all()
    warcs = session.execute(select(WarcFile.key, WarcFile.sha256).where(
        WarcFile.stored_at >= start, WarcFile.stored_at < end).order_by(WarcFile.key)).all()
    return {"day": day.isoformat(), "agency": config.archiver.agency, "until": end.isoformat(),
            "audit": {"through_seq": head.seq if head else 0, "head_hash": head.hash if head else audit.GENESIS,
                      "entries_that_day": len(today)},
            "warcs": [{"key": key, "sha256": sha} for key, sha in warcs]}


def canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def _verifier(config: Config, nonce: int | None, policy: Any = None) -> Any:
    path = config.timestamp.ca_file
    if path is None:
        raise TimestampError("[timestamp] ca_file is not set")
    path = path if path.is_absolute() else config.base_dir / path
    try:
        certificates = x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise TimestampError(f"cannot read the TSA certificates in {path}: {exc}") from None
    builder = VerifierBuilder(nonce=nonce, policy_id=policy)
    for certificate in certificates:
        if certificate.issuer == certificate.subject:
            builder = builder.add_root_certificate(certificate)
        else:
            builder = builder.add_intermediate_certificate(certificate)
    return builder.build()


def stamp(session: Session, config: Config, day: date) -> TimeStamp:
    url = config.timestamp.url
    if not url:
        raise TimestampError("no time-stamping authority: set [timestamp] url and ca_file")
    existing = session.scalar(select(TimeStamp).where(TimeStamp.day == day.isoformat()))
    if existing is not None:
        return existing
    doc = document(session, config, day)
    data = canonical(doc)
    request = TimestampRequestBuilder().data(data).nonce(nonce=True).cert_request(cert_request=True).build()
    try:
        answer = requests.post(url, data=request.as_bytes(), timeout=config.timestamp.timeout_seconds,
                               headers={"Content-Type": "application/timestamp-query"})
    except requests.RequestException as exc:
        raise TimestampError(f"cannot reach the time-stamping authority at {url}: {type(exc).__name__}") from None
    if answer.status_code != 200:
        raise TimestampError(f"the time-stamping authority at {url} answered HTTP {answer.status_code}")
    try:
        reply = decode_timestamp_response(answer.content)
        _verifier(config, request.nonce).verify_message(reply, data)
    except (ValueError, VerificationError) as exc:
        raise TimestampError(f"the time-stamp reply from {url} does not verify: {exc}") from None
    row = TimeStamp(day=day.isoformat(), created_at=datetime.now(UTC), digest=hashlib.sha256(data).hexdigest(),
                    document=doc, tsa_url=url, reply=base64.b64encode(answer.content).decode(),
                    gen_time=reply.tst_info.gen_time.astimezone(UTC))
    session.add(row)
    session.flush()
    audit.record(session, "timestamp.issued", day.isoformat(), digest=row.digest, tsa=url,
                 gen_time=row.gen_time.isoformat(), warcs=len(doc["warcs"]), through_seq=doc["audit"]["through_seq"])
    return row


def check(session: Session, config: Config, row: TimeStamp) -> str | None:
    """Why a kept time-stamp no longer holds (the reply, or the day's log or WARC list changed), or None."""
    cutoff = datetime.fromisoformat(row.document["until"])
    if canonical(document(session, config, date.fromisoformat(row.day), cutoff)) != canonical(row.document):
        return "the audit log or the WARCs of that day differ from what was time-stamped"
    try:
        reply = decode_timestamp_response(base64.b64decode(row.reply))
        _verifier(config, None).verify_message(reply, canonical(row.document))
    except (ValueError, VerificationError, TimestampError) as exc:
        return f"the time-stamp does not verify: {exc}"
    return None
