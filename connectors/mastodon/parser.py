"""Mastodon API payloads to observations; a pure function of the archived response.

What a response is follows from its path: ``/api/v1/accounts/:id`` or ``/accounts/lookup`` the
profile, ``/accounts/:id/statuses`` the account's statuses (kind "post"), ``/statuses/:id/context``
the replies under a status (``descendants``: kind "comment" when it answers the status itself,
"reply" deeper, parent = ``in_reply_to_id``), ``/statuses/:id/history`` every revision of an
edited status, oldest first, and a direct lookup ``/statuses/:id`` the status or, with 404/410,
the instance's word that it is gone.

A version is one revision: its HTML content, content warning, sensitivity, media and poll
options, with ``revised_at`` (the edit's own time). A status and a history entry normalize to
the same content, so the revision a listing shows and the same revision in ``/history`` are
one version. An edited status in a listing gives only its counts: its revisions (each a version
with its own time) come from ``/history``, read in order, past ones only if not yet recorded.
What the archiver knew when it asked (the item's kind, parent and link) travels in the request
URL's fragment (``#kind=reply&parent=…``), which is archived but never sent.

Every field is untrusted: each object is parsed by its own function that checks types and gives
up on that object alone.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from connectors.base import CapturedResponse, Observation, VersionState
from connectors.graph.objects import graph_time
from connectors.rest import body_json

GONE = (404, 410)
DELETED = {"deleted": "the instance answered that the status no longer exists"}
_TAG = re.compile(r"<[^>]+>")


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _id(node: Any) -> str | None:
    value = node.get("id") if isinstance(node, dict) else None
    return value if isinstance(value, str) and value else None


def plain_text(content: Any) -> str:
    """
    >>> plain_text("<p>Road work on <a href='x'>Main St</a>&amp; 5th</p><p>Detour</p>")
    'Road work on Main St & 5th Detour'
    """
    if not isinstance(content, str):
        return ""
    return " ".join(html.unescape(_TAG.sub(" ", content)).split())


def _media(node: Any) -> dict[str, Any] | None:
    if not isinstance(node, dict):
        return None
    kept = {k: node[k] for k in ("id", "type", "url", "remote_url", "description") if isinstance(node.get(k), str)}
    return kept or None


def _poll(node: Any) -> list[str] | None:
    options = node.get("options") if isinstance(node, dict) else None
    if not isinstance(options, list):
        return None
    return [o["title"] for o in options if isinstance(o, dict) and isinstance(o.get("title"), str)]


def _acct(account: Any) -> str | None:
    return _str(account.get("acct")) if isinstance(account, dict) else None


def author_of(account: Any) -> str | None:
    """The author as a reader knows them: ``Display Name (@user@instance)``, or the handle alone."""
    acct = _acct(account)
    if acct is None:
        return None
    name = _str(account.get("display_name"))
    return f"{name} (@{acct})" if name else f"@{acct}"


def revision(node: dict[str, Any], revised_at: Any) -> dict[str, Any]:
    """The content of one revision, the same from a Status and from a StatusEdit."""
    media = node.get("media_attachments") if isinstance(node.get("media_attachments"), list) else []
    return {"content": _str(node.get("content")) or "", "spoiler_text": _str(node.get("spoiler_text")) or "",
            "sensitive": node.get("sensitive") is True, "media": [m for m in map(_media, media) if m],
            "poll": _poll(node.get("poll")), "account": _acct(node.get("account")), "revised_at": _str(revised_at)}


def _media_urls(node: dict[str, Any]) -> tuple[str, ...]:
    media = node.get("media_attachments") if isinstance(node.get("media_attachments"), list) else []
    urls = [m.get("url") or m.get("remote_url") for m in media if isinstance(m, dict)]
    return tuple(u for u in urls if isinstance(u, str) and u.startswith(("http://", "https://")))


def _metrics(node: dict[str, Any]) -> dict[str, int]:
    metrics = {k.removesuffix("_count"): v for k in ("replies_count", "reblogs_count", "favourites_count",
                                                     "quotes_count") if isinstance(v := node.get(k), int)}
    poll = node.get("poll")
    if isinstance(poll, dict) and isinstance(poll.get("votes_count"), int):
        metrics["poll_votes"] = poll["votes_count"]
    return metrics


def status_observation(node: Any, kind: str = "post", root: str | None = None, *,
                       full: bool = False) -> Observation | None:
    """One status. ``root`` (for replies): the status whose context listed it. An edited status
    gives only its counts unless ``full`` (a direct lookup), since ``/history`` gives its revisions."""
    if (status_id := _id(node)) is None:
        return None
    parent = _str(node.get("in_reply_to_id"))
    if root is not None:
        kind = "comment" if parent == root else "reply"
    if node.get("edited_at") and not full:
        return Observation(status_id, kind, {}, metrics=_metrics(node), metrics_only=True)
    content = revision(node, node.get("edited_at") or node.get("created_at"))
    reblog = node.get("reblog")
    if isinstance(reblog, dict):  # a boost: what was boosted, as it was
        content |= {"reblog_of": _str(reblog.get("uri")), "reblog": revision(reblog, reblog.get("created_at"))}
    words = plain_text(content["spoiler_text"]) + " " + plain_text(content["content"] or
                                                                   (content.get("reblog") or {}).get("content"))
    return Observation(platform_id=status_id, kind=kind, content=content, text=words.strip(), parent_id=parent,
                       url=_str(node.get("url")) or _str(node.get("uri")), author=author_of(node.get("account")),
                       posted_at=graph_time(node.get("created_at")),
                       media_urls=_media_urls(node), metrics=_metrics(node))


def profile_observation(node: Any) -> Observation | None:
    if (account_id := _id(node)) is None or not isinstance(node.get("acct"), str):
        return None
    content = {k: node[k] for k in ("id", "username", "acct", "display_name", "note", "url", "avatar", "header",
                                    "bot", "locked", "created_at") if isinstance(node.get(k), str | bool)}
    if isinstance(node.get("fields"), list):
        content["fields"] = [{"name": f.get("name"), "value": f.get("value")} for f in node["fields"]
                             if isinstance(f, dict)]
    metrics = {k: node[k] for k in ("followers_count", "following_count", "statuses_count")
               if isinstance(node.get(k), int)}
    pictures = tuple(u for k in ("avatar", "header") if isinstance(u := node.get(k), str)
                     and u.startswith(("http://", "https://")))
    return Observation(account_id, "profile", content, text=" ".join(
        w for w in (_str(node.get("display_name")), plain_text(node.get("note"))) if w), author=author_of(node),
        url=_str(node.get("url")), metrics=metrics, media_urls=pictures)


def _context(url: str) -> dict[str, str]:
    """What the archiver knew when it asked, from the URL's fragment."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).fragment).items()}


def history_observations(entries: list[Any], status_id: str, known: dict[str, str]) -> list[Observation]:
    """Each revision, oldest first; all but the newest are past revisions (recorded once)."""
    revisions = [e for e in entries if isinstance(e, dict)]
    if not revisions:
        return []
    posted = graph_time(revisions[0].get("created_at"))
    found = []
    for index, entry in enumerate(revisions):
        content = revision(entry, entry.get("created_at"))
        found.append(Observation(
            platform_id=status_id, kind=known.get("kind", "post"), content=content,
            text=f"{plain_text(content['spoiler_text'])} {plain_text(content['content'])}".strip(),
            parent_id=known.get("parent"), url=known.get("url"), author=author_of(entry.get("account")),
            posted_at=posted,
            media_urls=_media_urls(entry), historical=index < len(revisions) - 1))
    return found


def parse(response: CapturedResponse) -> list[Observation]:
    parts = [p for p in urlsplit(response.url).path.split("/") if p]
    if len(parts) < 4 or parts[:2] != ["api", "v1"]:
        return []
    resource, rest = parts[2], parts[3:]
    known = _context(response.url)
    if response.lookup is not None and response.status in GONE:
        return [Observation(response.lookup, known.get("kind", "post"), DELETED, state=VersionState.DELETED)]
    if response.status >= 300:
        return []
    body = body_json(response)
    if resource == "accounts" and len(rest) == 2 and rest[1] == "statuses" and isinstance(body, list):
        return [o for node in body if (o := status_observation(node)) is not None]
    if resource == "accounts" and len(rest) == 1:
        found = profile_observation(body)
        return [found] if found else []
    if resource == "statuses" and len(rest) == 2 and rest[1] == "context" and isinstance(body, dict):
        descendants = body.get("descendants") if isinstance(body.get("descendants"), list) else []
        return [o for node in descendants if (o := status_observation(node, root=rest[0])) is not None]
    if resource == "statuses" and len(rest) == 2 and rest[1] == "history" and isinstance(body, list):
        return history_observations(body, rest[0], known)
    if resource == "statuses" and len(rest) == 1 and response.lookup is not None:
        found = status_observation(body, known.get("kind", "post"), full=True)
        return [found] if found and found.platform_id == response.lookup else []
    return []


__all__ = ["GONE", "parse", "plain_text"]
