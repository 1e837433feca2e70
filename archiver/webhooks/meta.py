"""Meta webhooks: the verification handshake, the signature check, and what a delivery names.

Meta signs each delivery with the app secret: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of
the raw body>``. The check runs on the raw bytes before anything parses them, against every app
secret the configured Facebook and Instagram accounts name, in constant time. A delivery names
Pages (``object: page``) or Instagram accounts (``object: instagram``) by id in ``entry[].id``;
each change names the objects to re-fetch.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from archiver.config import AccountConfig, Config

PLATFORM_OF_OBJECT = {"page": "facebook", "instagram": "instagram"}
POST_ITEMS = frozenset({"post", "status", "photo", "video", "share", "link", "event", "album"})


def app_secrets(config: Config) -> list[bytes]:
    """The app secrets of every Facebook and Instagram account, for checking signatures."""
    found = []
    for account in config.accounts:
        if account.platform in PLATFORM_OF_OBJECT.values() and account.options().get("app_secret_env"):
            secret = account.secret("app_secret_env", required=False)
            if secret and secret.encode() not in found:
                found.append(secret.encode())
    return found


def signature_problem(body: bytes, header: str | None, secrets: list[bytes]) -> str | None:
    """None if ``header`` is a valid signature of ``body`` by one of ``secrets``; else why not.

    >>> body = b'{"object":"page"}'
    >>> good = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    >>> signature_problem(body, good, [b"s3cret"]) is None, signature_problem(body, good, [b"other"])
    (True, 'the X-Hub-Signature-256 signature does not match the body')
    """
    if not secrets:
        return "no app secret is configured (app_secret_env on the Facebook/Instagram accounts)"
    if not header:
        return "no X-Hub-Signature-256 header"
    scheme, _, given = header.partition("=")
    if scheme != "sha256" or not given:
        return "the X-Hub-Signature-256 header is not of the form sha256=<hex>"
    matched = False
    for secret in secrets:  # every secret is tried, so timing says nothing about which matched
        expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
        matched |= hmac.compare_digest(expected.encode(), given.strip().lower().encode())
    return None if matched else "the X-Hub-Signature-256 signature does not match the body"


def handshake(query: dict[str, str], verify_token: str | None) -> str | None:
    """The challenge to echo if this is Meta's subscription check with our verify token."""
    if not verify_token or query.get("hub.mode") != "subscribe" or "hub.challenge" not in query:
        return None
    if not hmac.compare_digest(query.get("hub.verify_token", "").encode(), verify_token.encode()):
        return None
    return query["hub.challenge"]


MAX_DEPTH = 32  # Meta's deliveries nest about six deep; anything far deeper is not one of theirs
_SCALAR_KEYS = ("item", "verb", "field", "post_id", "comment_id", "parent_id", "id")


def _depth(value: Any) -> int:
    """How deeply ``value`` nests, counted without recursion (and stopping past MAX_DEPTH)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            if deepest > MAX_DEPTH:
                return deepest
            stack.extend((child, level + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool)


def delivery_problem(payload: Any) -> str | None:
    """Why a signed, parsed delivery is not shaped like Meta's (answered 400, never stored), or None.

    Only what the archiver reads is checked: ``object``, ``entry[].id``, ``entry[].changes[]``
    with ``field`` and a ``value`` object whose ids and verbs are strings or numbers.

    >>> delivery_problem({"object": "page", "entry": [{"id": "1", "changes": [{"field": "feed",
    ...                   "value": {"item": "comment", "verb": "hide", "comment_id": "1_2"}}]}]}) is None
    True
    >>> delivery_problem({"object": "page", "entry": 5})
    'entry is not a list'
    >>> delivery_problem({"object": "page", "entry": [{"id": "1", "changes": [{"field": "feed",
    ...                   "value": {"item": {"nested": "object"}}}]}]})
    'entry[0].changes[0].value.item is not a string or a number'
    """
    if not isinstance(payload, dict):
        return "the body is not a JSON object"
    if _depth(payload) > MAX_DEPTH:
        return f"the body nests deeper than {MAX_DEPTH} levels"
    if not isinstance(payload.get("object", ""), str):
        return "object is not a string"
    entries = payload.get("entry", [])
    if not isinstance(entries, list):
        return "entry is not a list"
    for n, entry in enumerate(entries):
        if not isinstance(entry, dict):
            return f"entry[{n}] is not an object"
        if "id" in entry and not _scalar(entry["id"]):
            return f"entry[{n}].id is not a string or a number"
        changes = entry.get("changes", [])
        if not isinstance(changes, list):
            return f"entry[{n}].changes is not a list"
        for c, change in enumerate(changes):
            where = f"entry[{n}].changes[{c}]"
            if not isinstance(change, dict) or not isinstance(change.get("value", {}), dict):
                return f"{where} is not an object with a value object"
            for key in _SCALAR_KEYS:
                for holder, name in ((change, where), (change.get("value", {}), f"{where}.value")):
                    if key in holder and holder[key] is not None and not _scalar(holder[key]):
                        return f"{name}.{key} is not a string or a number"
            media = change.get("value", {}).get("media")
            if media is not None and not (isinstance(media, dict) and _scalar(media.get("id", ""))):
                return f"{where}.value.media is not an object with an id"
    return None


@dataclass(frozen=True)
class Routed:
    account: AccountConfig
    targets: tuple[str, ...]  # "post:ID" / "comment:ID" to re-fetch


def targets_of(platform: str, entry: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for change in entry.get("changes") or []:
        value = change.get("value") if isinstance(change, dict) else None
        if not isinstance(value, dict):
            continue
        if platform == "facebook" and change.get("field") == "feed":
            item = value.get("item")
            if item == "comment" and value.get("comment_id"):
                found.append(f"comment:{value['comment_id']}")
            elif item in POST_ITEMS and value.get("post_id"):
                found.append(f"post:{value['post_id']}")
        elif platform == "instagram" and change.get("field") in ("comments", "live_comments") and value.get("id"):
            found.append(f"comment:{value['id']}")
            media = value.get("media")
            if isinstance(media, dict) and media.get("id"):
                found.append(f"post:{media['id']}")
    return list(dict.fromkeys(found))


def route(config: Config, payload: Any) -> list[Routed]:
    """Which configured accounts a delivery is about, and what to re-fetch for each."""
    if not isinstance(payload, dict):
        return []
    platform = PLATFORM_OF_OBJECT.get(str(payload.get("object")))
    if platform is None:
        return []
    routed: dict[str, list[str]] = {}
    accounts = {a.id: a for a in config.accounts if a.platform == platform}
    for entry in payload.get("entry") or []:
        if isinstance(entry, dict) and (account := accounts.get(str(entry.get("id")))) is not None:
            routed.setdefault(account.name, []).extend(targets_of(platform, entry))
    return [Routed(config.account(name), tuple(dict.fromkeys(targets))) for name, targets in routed.items()]
