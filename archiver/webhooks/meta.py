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
