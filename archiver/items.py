"""An item's full history, as ``archiver show`` prints it and exports write it.

Each version carries the evidence it was first and last observed in (WARC key, record id,
offset, length, SHA-256 of the payload), and the last time the previous version was seen, so
a change is pinned between two observed times, both backed by records.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.index.models import Account, Evidence, Item, Version, WarcFile


class ItemNotFound(LookupError):
    pass


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def find_item(session: Session, ref: str) -> Item:
    """An item by index id ("42"), by "account:platform-id", or by a platform id unique in the index."""
    if ref.isdigit():
        item = session.get(Item, int(ref))
        if item is not None:
            return item
    account, sep, platform_id = ref.partition(":")
    if sep:
        item = session.scalar(
            select(Item).join(Account, Account.id == Item.account_id)
            .where(Account.name == account, Item.platform_id == platform_id)
        )
        if item is not None:
            return item
    matches = session.scalars(select(Item).where(Item.platform_id == ref).limit(2)).all()
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise ItemNotFound(f"{ref!r} matches items in several accounts; write it as ACCOUNT:{ref}")
    raise ItemNotFound(f"no item {ref!r} in the index; give its id from 'archiver search' or ACCOUNT:PLATFORM-ID")


def evidence_dict(evidence: Evidence, warc_key: str) -> dict[str, Any]:
    return {
        "warc": warc_key,
        "record_id": evidence.record_id,
        "record_type": evidence.record_type,
        "offset": evidence.offset,
        "length": evidence.length,
        "sha256": evidence.payload_sha256,
        "block_digest": evidence.block_digest,
        "target_uri": evidence.target_uri,
        "status": evidence.status,
        "captured_at": _iso(evidence.captured_at),
        "request_record_id": evidence.request_record_id,
        "request_offset": evidence.request_offset,
        "request_length": evidence.request_length,
    }


def _evidence_by_id(session: Session, ids: set[int]) -> dict[int, dict[str, Any]]:
    rows = session.execute(
        select(Evidence, WarcFile.key).join(WarcFile, WarcFile.id == Evidence.warc_file_id).where(Evidence.id.in_(ids))
    ).all()
    return {evidence.id: evidence_dict(evidence, key) for evidence, key in rows}


def _media(session: Session, account_id: int, urls: list[str]) -> list[dict[str, Any]]:
    if not urls:
        return []
    rows = session.execute(
        select(Evidence, WarcFile.key).join(WarcFile, WarcFile.id == Evidence.warc_file_id)
        .where(Evidence.target_uri.in_(urls), WarcFile.account_id == account_id)
        .order_by(Evidence.captured_at)
    ).all()
    captured: dict[str, list[dict[str, Any]]] = {}
    for evidence, key in rows:
        captured.setdefault(evidence.target_uri, []).append(evidence_dict(evidence, key))
    return [{"url": url, "captures": captured.get(url, [])} for url in urls]


def item_history(session: Session, item: Item) -> dict[str, Any]:
    account = session.get(Account, item.account_id)
    assert account is not None
    versions = session.scalars(select(Version).where(Version.item_id == item.id).order_by(Version.seq)).all()
    evidence = _evidence_by_id(session, {e for v in versions for e in (v.first_evidence_id, v.last_evidence_id)})
    history = []
    previous: Version | None = None
    media_urls: list[str] = []
    for version in versions:
        history.append({
            "seq": version.seq,
            "state": version.state,
            "first_observed_at": _iso(version.first_observed_at),
            "last_observed_at": _iso(version.last_observed_at),
            "previous_last_observed_at": _iso(previous.last_observed_at) if previous else None,
            "content_hash": version.content_hash,
            "content": version.content,
            "text": version.text,
            "first_evidence": evidence.get(version.first_evidence_id),
            "last_evidence": evidence.get(version.last_evidence_id),
        })
        media_urls.extend(u for u in version.media_urls if u not in media_urls)
        previous = version
    return {
        "id": item.id,
        "account": account.name,
        "platform": account.platform,
        "platform_id": item.platform_id,
        "kind": item.kind,
        "state": item.state,
        "url": item.url,
        "author": item.author,
        "posted_at": _iso(item.posted_at),
        "parent_id": item.parent_platform_id,
        "first_seen_at": _iso(item.first_seen_at),
        "last_seen_at": _iso(item.last_seen_at),
        "metrics": item.metrics or {},
        "metrics_observed_at": _iso(item.metrics_observed_at),
        "versions": history,
        "media": _media(session, item.account_id, media_urls),
    }
