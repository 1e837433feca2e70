"""Children that go with a deleted parent, recorded by the archiver itself.

On some platforms a deleted post takes its comments with them (Facebook, Instagram, Threads,
LinkedIn): once a direct lookup confirms the post is gone, its comments can no longer be listed
or looked up. The archiver then writes a record of its own (``urn:archiver:cascade:PARENT``)
naming the children the index holds under it, the reason, and the record that confirmed the
parent's deletion; parsers read it like any response, so ``reindex`` reproduces the deletions.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

from archiver.capture.session import Exchange
from connectors.base import CapturedResponse, HarvestContext, Observation, Page, VersionState
from connectors.untrusted import Fields

CASCADE_PREFIX = "urn:archiver:cascade:"


def cascade(context: HarvestContext, parent: str, reason: str, evidence: Exchange,
            parse: Callable[[CapturedResponse], list[Observation]], skip: set[str] | None = None) -> Iterator[Page]:
    """Record the children of ``parent`` (those not already confirmed gone in this harvest: ``skip``)."""
    children = [c for c in context.descendants(parent) if not skip or c not in skip]
    if not children:
        return
    record = {"event": "parent-deleted", "reason": reason, "parent": parent, "children": children,
              "confirmed_by": evidence.evidence.response.record_id,
              "confirmed_at": evidence.response.captured_at.isoformat()}
    body = json.dumps(record, ensure_ascii=False, sort_keys=True).encode()
    exchange = context.session.record_resource(f"{CASCADE_PREFIX}{parent}", body, "application/json")
    yield Page.parsed(exchange, parse)


def cascade_observations(response: CapturedResponse, kind: str = "comment") -> list[Observation]:
    """The children a cascade record names, each deleted with the reason."""
    try:
        record = json.loads(response.body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return []
    if not isinstance(record, dict) or not isinstance(record.get("children"), list):
        return []
    node = Fields(record)
    reason = {"deleted": node.text("reason") or "parent deleted", "parent": node.value("parent")}
    children = [Fields({"id": child}, f"children[{index}]").identifier()
                for index, child in enumerate(node.array("children"))]
    return [Observation(child, kind, reason, state=VersionState.DELETED) for child in children]
