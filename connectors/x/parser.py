"""X API v2 payloads to observations; a pure function of the archived response.

What a response is follows from its URL and lookup mark: ``/2/users/:id/tweets`` and
``/2/tweets/search/…`` are listings, ``/2/tweets?ids=…`` is either the edit history of posts
(the versions the harvest asked for) or, marked as a lookup, a check of items missing from a
listing; ``/2/users/…`` is the account's profile.

Every id in ``edit_history_tweet_ids`` is a version of one item, named by the first id of the
chain, each with its own ``created_at``. A listing shows only an edited post's newest version,
so there it says no more than "still there" (a state-only observation: the index keeps the
content it has); the versions themselves come from the history the harvest fetches, in chain
order, each once. Counts (``public_metrics``) and ``edit_controls`` (which change by the
minute) are metrics, never versions. A reply marked ``"hidden": true`` (the conversation
owner's view, the vocabulary of the hide-replies endpoint) is recorded hidden. In lookups only
the platform's own "Not Found Error" for an id records a deletion; "Authorization Error"
(protected or suspended author) makes the item unavailable.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

from connectors.base import CapturedResponse, Observation, VersionState
from connectors.jsonfields import counts, dicts, each, flag, mapping, text, texts, timestamp

TWEET_FIELDS = ("attachments,author_id,conversation_id,created_at,edit_controls,edit_history_tweet_ids,entities,"
                "in_reply_to_user_id,lang,possibly_sensitive,public_metrics,referenced_tweets,source")
EXPANSIONS = "author_id,referenced_tweets.id,attachments.media_keys"
USER_FIELDS = "created_at,description,location,profile_image_url,protected,public_metrics,url,verified"
MEDIA_FIELDS = "duration_ms,height,media_key,preview_image_url,type,url,width,alt_text"
NOT_FOUND = "https://api.twitter.com/2/problems/resource-not-found"
NOT_AUTHORIZED = "https://api.twitter.com/2/problems/not-authorized-for-resource"
DELETED = {"deleted": "X answered Not Found Error for this post (deleting any version deletes the whole chain)"}


def api_path(url: str) -> list[str]:
    """The path from ``/2/`` on, whatever prefix a ``base_url`` put before it."""
    parts = [p for p in urlsplit(url).path.split("/") if p]
    return parts[parts.index("2"):] if "2" in parts else []


class Includes:
    """``includes`` of one response: users, referenced posts and media by id."""

    def __init__(self, body: dict[str, Any]):
        found = mapping(body, "includes")
        self.users = {u["id"]: u for u in dicts(found, "users") if isinstance(u.get("id"), str)}
        self.media = {m["media_key"]: m for m in dicts(found, "media") if isinstance(m.get("media_key"), str)}
        self.items: dict[str, str] = {}  # any version id of a referenced post → its item id
        for node in dicts(found, "tweets"):
            chain = texts(node, "edit_history_tweet_ids")
            for version in chain:
                self.items[version] = chain[0]

    def item_of(self, version_id: str) -> str:
        return self.items.get(version_id, version_id)


def _chain(tweet: dict[str, Any]) -> list[str]:
    chain = texts(tweet, "edit_history_tweet_ids")
    own = text(tweet, "id")
    if own is None:
        raise ValueError("a post without an id")
    return chain if chain and own in chain else [own]


def _media(tweet: dict[str, Any], includes: Includes) -> list[dict[str, Any]]:
    found = []
    for key in texts(mapping(tweet, "attachments"), "media_keys"):
        media = includes.media.get(key, {})
        found.append({"media_key": key, "type": text(media, "type"), "url": text(media, "url"),
                      "preview_image_url": text(media, "preview_image_url"), "alt_text": text(media, "alt_text")})
    return found


def tweet_observation(tweet: dict[str, Any], includes: Includes, *, state_only: bool = False) -> Observation:
    """One post or reply; ``state_only``: a listing's word that an edited post is still there."""
    chain = _chain(tweet)
    version_id = text(tweet, "id") or chain[-1]
    replied = next((text(r, "id") for r in dicts(tweet, "referenced_tweets") if text(r, "type") == "replied_to"),
                   None)
    parent = includes.item_of(replied) if replied else None
    conversation = text(tweet, "conversation_id")
    kind = "post" if parent is None else "comment" if parent == conversation else "reply"
    user = includes.users.get(text(tweet, "author_id") or "", {})
    username = text(user, "username")
    media = _media(tweet, includes)
    hidden = flag(tweet, "hidden") is True
    metrics: dict[str, Any] = counts(mapping(tweet, "public_metrics"))
    controls = mapping(tweet, "edit_controls")
    if controls:
        metrics |= {f"edit_{k}": v for k, v in controls.items() if isinstance(v, str | int | bool)}
    url = f"https://x.com/{username or 'i'}/status/{version_id}"
    if state_only:
        return Observation(chain[0], kind, {}, state=VersionState.HIDDEN if hidden else VersionState.VISIBLE,
                           state_only=True, metrics=metrics, parent_id=parent)
    content = {
        "text": text(tweet, "text"), "created_at": text(tweet, "created_at"), "version_id": version_id,
        "edit_history_tweet_ids": chain, "author": {"id": text(tweet, "author_id"), "username": username,
                                                    "name": text(user, "name")},
        "conversation_id": conversation, "in_reply_to_user_id": text(tweet, "in_reply_to_user_id"),
        "referenced_tweets": [{"type": text(r, "type"), "id": text(r, "id")}
                              for r in dicts(tweet, "referenced_tweets")],
        "attachments": media, "entities": mapping(tweet, "entities"), "lang": text(tweet, "lang"),
        "possibly_sensitive": flag(tweet, "possibly_sensitive"), "source": text(tweet, "source"),
    }
    first = version_id == chain[0]
    return Observation(
        platform_id=chain[0], kind=kind, content=content, text=text(tweet, "text") or "",
        state=VersionState.HIDDEN if hidden else VersionState.VISIBLE, url=url,
        author=_author(text(user, "name"), username),
        # Only the first version's time is the item's; later versions carry theirs in content.
        posted_at=timestamp(text(tweet, "created_at")) if first else None, parent_id=parent,
        media_urls=tuple(u for m in media for u in (m["url"] or m["preview_image_url"],) if u), metrics=metrics,
    )


def _author(name: str | None, username: str | None) -> str | None:
    """How a person reads an X author: "Jim Moffitt (@snowman)"."""
    handle = f"@{username}" if username else None
    return f"{name} ({handle})" if name and handle else name or handle


def user_observation(user: dict[str, Any]) -> list[Observation]:
    user_id = text(user, "id")
    if user_id is None:
        return []
    keys = ("id", "username", "name", "description", "created_at", "location", "url", "protected", "verified",
            "profile_image_url")
    content = {k: user.get(k) if isinstance(user.get(k), str | bool) else None for k in keys}
    picture = text(user, "profile_image_url")
    return [Observation(user_id, "profile", content, text=" ".join(filter(None, (text(user, "name"),
                                                                                   text(user, "description")))),
                        url=f"https://x.com/{text(user, 'username') or 'i'}",
                        author=_author(text(user, "name"), text(user, "username")),
                        metrics=counts(mapping(user, "public_metrics")), media_urls=(picture,) if picture else ())]


def listing_observations(body: dict[str, Any]) -> list[Observation]:
    includes = Includes(body)
    return list(each(dicts(body, "data"), lambda t: [tweet_observation(t, includes,
                                                                        state_only=len(_chain(t)) > 1)]))


def history_observations(body: dict[str, Any]) -> list[Observation]:
    """Versions the harvest asked for, oldest first within each chain."""
    includes = Includes(body)
    tweets = [t for t in dicts(body, "data") if isinstance(t.get("id"), str)]
    tweets.sort(key=lambda t: (_position(t), t["id"]))
    return list(each(tweets, lambda t: [tweet_observation(t, includes)]))


def _position(tweet: dict[str, Any]) -> int:
    chain = texts(tweet, "edit_history_tweet_ids")
    return chain.index(tweet["id"]) if tweet["id"] in chain else 0


def lookup_observations(response: CapturedResponse, body: Any) -> list[Observation]:
    """A check of items missing from a listing (the lookup mark lists their ids): there, gone, or
    not visible. Anything but the platform's word about an id says nothing about it."""
    asked = [i for i in (response.lookup or "").split(",") if i]
    if response.status != 200 or not isinstance(body, dict):
        return []
    includes = Includes(body)
    found = {}
    for tweet in dicts(body, "data"):
        try:
            observation = tweet_observation(tweet, includes, state_only=True)
        except ValueError:
            continue
        found[observation.platform_id] = observation
        found.setdefault(text(tweet, "id") or "", observation)
    observations = [found[i] for i in asked if i in found]
    for error in dicts(body, "errors"):
        value = text(error, "value") or text(error, "resource_id")
        if value not in asked or value in found:
            continue
        if text(error, "type") == NOT_FOUND:
            observations.append(Observation(value, "post", DELETED, state=VersionState.DELETED))
        elif text(error, "type") == NOT_AUTHORIZED:
            observations.append(Observation(value, "post", {}, state=VersionState.UNAVAILABLE, state_only=True))
    return observations


def parse(response: CapturedResponse) -> list[Observation]:
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError, RecursionError):
        return []
    if response.lookup is not None:
        return lookup_observations(response, body)
    if not isinstance(body, dict) or not 200 <= response.status < 300:
        return []
    path = api_path(response.url)
    if (path[1:2] == ["users"] and path[-1:] == ["tweets"]) or path[1:3] == ["tweets", "search"]:
        return listing_observations(body)
    if path == ["2", "tweets"] and "ids" in dict(parse_qsl(urlsplit(response.url).query)):
        return history_observations(body)
    if path[:2] == ["2", "tweets"] and len(path) == 3 and isinstance(body.get("data"), dict):
        return history_observations(body | {"data": [body["data"]]})  # one post by id
    if path[1:2] == ["users"]:
        return list(each([mapping(body, "data")], user_observation))
    return []


__all__ = ["EXPANSIONS", "MEDIA_FIELDS", "TWEET_FIELDS", "USER_FIELDS", "api_path", "parse"]
