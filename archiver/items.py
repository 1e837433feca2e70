"""An item's full history, as ``archiver show`` prints it and exports write it.

Each version carries the evidence it was first and last observed in (WARC key, record id,
offset, length, SHA-256 of the payload), and the last time the previous version was seen, so
a change is pinned between two observed times, both backed by records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
    found: dict[int, dict[str, Any]] = {}
    wanted = sorted(ids)
    for start in range(0, len(wanted), 500):
        rows = session.execute(
            select(Evidence, WarcFile.key).join(WarcFile, WarcFile.id == Evidence.warc_file_id)
            .where(Evidence.id.in_(wanted[start:start + 500]))
        ).all()
        found.update((evidence.id, evidence_dict(evidence, key)) for evidence, key in rows)
    return found


def _media(session: Session, wanted: dict[int, list[str]]) -> dict[tuple[int, str], list[dict[str, Any]]]:
    """Captures of each (account id, media URL), oldest first."""
    captured: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for account_id in {a for a, urls in wanted.items() if urls}:
        urls = sorted(set(wanted[account_id]))
        for start in range(0, len(urls), 500):
            rows = session.execute(
                select(Evidence, WarcFile.key).join(WarcFile, WarcFile.id == Evidence.warc_file_id)
                .where(Evidence.target_uri.in_(urls[start:start + 500]), WarcFile.account_id == account_id)
                .order_by(Evidence.captured_at, Evidence.id)
            ).all()
            for evidence, key in rows:
                captured.setdefault((account_id, evidence.target_uri), []).append(evidence_dict(evidence, key))
    return captured


def item_history(session: Session, item: Item) -> dict[str, Any]:
    return item_histories(session, [item])[0]


def item_histories(session: Session, items: list[Item]) -> list[dict[str, Any]]:
    """The histories of ``items``, in order, with a handful of queries however many there are."""
    accounts = {a.id: a for a in session.scalars(select(Account).where(Account.id.in_({i.account_id for i in items})))}
    versions: dict[int, list[Version]] = {item.id: [] for item in items}
    ids = list(versions)
    for start in range(0, len(ids), 500):
        for version in session.scalars(select(Version).where(Version.item_id.in_(ids[start:start + 500]))
                                        .order_by(Version.item_id, Version.seq)):
            versions[version.item_id].append(version)
    evidence = _evidence_by_id(session, {e for vs in versions.values() for v in vs
                                         for e in (v.first_evidence_id, v.last_evidence_id)})
    media_urls: dict[int, list[str]] = {}
    for item in items:
        wanted = media_urls.setdefault(item.account_id, [])
        wanted.extend(u for v in versions[item.id] for u in v.media_urls)
    media = _media(session, media_urls)
    return [_history(item, accounts[item.account_id], versions[item.id], evidence, media) for item in items]


def _history(item: Item, account: Account, versions: list[Version], evidence: dict[int, dict[str, Any]],
             media: dict[tuple[int, str], list[dict[str, Any]]]) -> dict[str, Any]:
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
        "media": [{"url": url, "captures": media.get((item.account_id, url), [])} for url in media_urls],
    }


def history_evidence(history: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every distinct evidence record of an item history: versions' first/last, then media captures."""
    found: dict[str, dict[str, Any]] = {}
    for version in history.get("versions", []):
        for name in ("first_evidence", "last_evidence"):
            evidence = version.get(name)
            if evidence:
                found.setdefault(evidence["record_id"], evidence)
    for medium in history.get("media", []):
        for evidence in medium.get("captures", []):
            found.setdefault(evidence["record_id"], evidence)
    return list(found.values())


def source_warcs(session: Session, keys: Iterable[str]) -> list[dict[str, Any]]:
    """[{"key", "sha256"}] of stored WARCs, as the index's warc_files table records them, by key."""
    found: dict[str, str | None] = {}
    ordered = sorted(set(keys))
    for start in range(0, len(ordered), 500):
        chunk = ordered[start:start + 500]
        rows = session.execute(select(WarcFile.key, WarcFile.sha256).where(WarcFile.key.in_(chunk)))
        found.update({key: sha for key, sha in rows})
    return [{"key": key, "sha256": found.get(key)} for key in ordered]
