"""A local X API v2 for tests, benchmarks and the demo: real HTTP on 127.0.0.1, real shapes.

Serves a ``FakeXAccount`` the way ``api.x.com/2`` does — ``/2/users/:id/tweets`` (newest first,
only the most recent ``timeline_limit`` reachable), ``/2/tweets/search/recent`` (the last
``search_days`` days) and ``/2/tweets/search/all`` (only with ``full_archive``), ``/2/tweets``
lookups with partial ``errors`` for what is gone or not visible, ``/2/users/by/username/:name``,
``/2/users/:id`` — with ``x-rate-limit-*`` headers on every answer, gzip, and its bad days::

    from connectors.x.fakeaccount import FakeXAccount
    from connectors.x.fakeserver import FakeXServer

    with FakeXServer(FakeXAccount.synthetic(posts=100, replies=400), tokens={"BEARER"}) as server:
        server.rate_limit = 5          # calls per endpoint per window, then 429 until x-rate-limit-reset
        server.usage_cap = 300         # posts read this month, then 429 UsageCapExceeded
        server.expired.add("BEARER")   # 401 Unauthorized

Posts read are counted in ``reads`` (what X bills).
"""

from __future__ import annotations

import argparse
import re
import time
from datetime import timedelta
from typing import Any

from connectors.fakejson import Answer, FakeJsonServer
from connectors.x.fakeaccount import FakeTweet, FakeVersion, FakeXAccount

PROBLEM = "https://api.twitter.com/2/problems/"
UNAUTHORIZED = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
FORBIDDEN = {"detail": "You are not permitted to perform this action.", "type": "about:blank", "title": "Forbidden",
             "status": 403}
TOO_MANY = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}
CODE_88 = {"errors": [{"code": 88, "message": "Rate limit exceeded"}]}
USAGE_CAPPED = {"title": "UsageCapExceeded", "detail": "Usage cap exceeded: Monthly product cap",
                "type": f"{PROBLEM}usage-capped", "period": "Monthly", "scope": "Product"}
CLIENT_FORBIDDEN = {"title": "Client Forbidden", "type": f"{PROBLEM}client-forbidden", "reason": "client-not-enrolled",
                    "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use keys and "
                              "tokens from a Twitter developer App that is attached to a Project. You can create a "
                              "project via the developer portal.", "required_enrollment": "Appropriate Level of API "
                                                                                          "Access"}
TOKEN_PREFIX = "7140dibdnow9c7b"
_CONVERSATION = re.compile(r"conversation_id:(\d+)")


def invalid(detail: str) -> tuple[int, dict[str, Any]]:
    return 400, {"errors": [{"parameters": {}, "message": detail}], "title": "Invalid Request",
                 "detail": "One or more parameters to your request was invalid.", "type": f"{PROBLEM}invalid-request"}


def page_token(offset: int) -> str:
    return TOKEN_PREFIX + _base36(offset)


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if not number:
            return text


def _offset(token: str | None) -> int | None:
    if not token:
        return 0
    if not token.startswith(TOKEN_PREFIX):
        return None
    try:
        return int(token[len(TOKEN_PREFIX):], 36)
    except ValueError:
        return None


def _fields(query: dict[str, str], name: str) -> set[str]:
    return {f for f in query.get(name, "").split(",") if f}


class FakeXServer(FakeJsonServer):
    def __init__(self, account: FakeXAccount, tokens: set[str] | None = None, user_tokens: set[str] | None = None,
                 full_archive: bool = False, port: int = 0):
        super().__init__(port)
        self.account = account
        self.tokens = tokens or set()  # app-only bearer tokens; empty: any token is accepted
        self.user_tokens = user_tokens or set()  # the owner's OAuth 2.0 user tokens (see hidden replies)
        self.expired: set[str] = set()
        self.forbidden = False  # every call 403 (the app lost its access level)
        self.full_archive = full_archive
        self.timeline_limit = 3200
        self.search_days = 7
        self.rate_limit: int | None = None  # calls per endpoint per window
        self.window_seconds = 900.0
        self.old_429 = False  # answer throttling with the v1.1 body ({"errors":[{"code":88,…}]})
        self.throttle_next = 0  # the next N API calls answer 429, the window resetting a second later
        self.usage_cap: int | None = None  # posts read per month
        self.reads = 0
        self.short_pages = False  # pages shorter than asked, with a next_token all the same
        self.wrong_types = False  # every fifth post with wrongly typed fields (created_at a number…)
        self._windows: dict[str, tuple[float, int]] = {}  # endpoint → (window start, calls)

    def start(self) -> FakeXServer:
        super().start()
        self.account.media_root = f"{self.base_url}/media"
        return self

    # The gate -----------------------------------------------------------------------------------
    def _limits(self, endpoint: str) -> tuple[list[tuple[str, str]], bool]:
        now = time.time()
        start, count = self._windows.get(endpoint, (now, 0))
        if now - start >= self.window_seconds:
            start, count = now, 0
        limit = self.rate_limit or 1500
        exceeded = self.rate_limit is not None and count >= limit
        if not exceeded:
            count += 1
        self._windows[endpoint] = (start, count)
        headers = [("x-rate-limit-limit", str(limit)), ("x-rate-limit-remaining", str(max(limit - count, 0))),
                   ("x-rate-limit-reset", str(int(start + self.window_seconds + 0.999)))]
        return headers, exceeded

    def answer(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes) -> Answer:
        if path.startswith("/media/"):
            name = path[len("/media/"):]
            found = name.startswith("avatar-") or any(m.name == name for m in self.account.media.values())
            return (200, b"\xff\xd8\xff\xe0fake-jpeg:" + name.encode(), [("Content-Type", "image/jpeg")]) if found \
                else (404, b"not found", [("Content-Type", "text/plain")])
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        known = self.tokens | self.user_tokens
        if not token or token in self.expired or (known and token not in known):
            return 401, UNAUTHORIZED, []
        if self.forbidden:
            return 403, FORBIDDEN, []
        endpoint = re.sub(r"/\d+", "/:id", path)
        with self.lock:
            limits, exceeded = self._limits(endpoint)
            if self.throttle_next > 0:  # another client of the same app spent the window
                self.throttle_next -= 1
                limits = [(k, "0" if k.endswith("remaining") else str(int(time.time()) + 1) if k.endswith("reset")
                           else v) for k, v in limits]
                exceeded = True
            if exceeded:
                return 429, CODE_88 if self.old_429 else TOO_MANY, limits
            if self.usage_cap is not None and self.reads >= self.usage_cap:
                return 429, USAGE_CAPPED, limits
        status, payload = self._route(path, query, owner=token in self.user_tokens)
        data = payload.get("data") if isinstance(payload, dict) else None
        if status == 200 and data and (path.startswith("/2/tweets") or path.endswith("/tweets")):
            with self.lock:
                self.reads += len(data) if isinstance(data, list) else 1
        return status, payload, [*limits, ("api-version", "2.130")]

    # Endpoints ----------------------------------------------------------------------------------
    def _route(self, path: str, query: dict[str, str], owner: bool) -> tuple[int, Any]:
        parts = [p for p in path.split("/") if p]
        account = self.account
        if parts[:1] != ["2"]:
            return 404, {"title": "Not Found Error", "type": "about:blank", "status": 404, "detail": "Not Found"}
        if parts[1:4] == ["users", "by", "username"] and len(parts) == 5:
            user = next((u for u in account.users.values() if u.username.lower() == parts[4].lower()), None)
            return self._user(user, query, parts[4], "username")
        if parts[1:2] == ["users"] and len(parts) == 3:
            return self._user(account.users.get(parts[2]), query, parts[2], "id")
        if parts[1:2] == ["users"] and len(parts) == 4 and parts[3] == "tweets":
            mine = sorted((t for t in account.visible() if t.author_id == parts[2]), key=lambda t: t.created,
                          reverse=True)[: self.timeline_limit]
            return self._listing(mine, query, "pagination_token", (5, 100))
        if parts[1:4] == ["tweets", "search", "recent"] or parts[1:4] == ["tweets", "search", "all"]:
            if parts[3] == "all" and not self.full_archive:
                return 403, CLIENT_FORBIDDEN
            return self._search(query, recent=parts[3] == "recent", owner=owner)
        if parts[1:2] == ["tweets"] and len(parts) == 2:
            return self._lookup(query.get("ids", "").split(","), query, owner)
        if parts[1:2] == ["tweets"] and len(parts) == 3:
            status, body = self._lookup([parts[2]], query, owner)
            if isinstance(body.get("data"), list):
                body["data"] = body["data"][0]
            return status, body
        return 404, {"title": "Not Found Error", "type": "about:blank", "status": 404, "detail": "Not Found"}

    def _user(self, user: Any, query: dict[str, str], value: str, parameter: str) -> tuple[int, Any]:
        if user is None or user.suspended:
            kind = "User has been suspended" if user is not None else "Could not find user with"
            return 200, {"errors": [{"value": value, "detail": f"{kind} {parameter}: [{value}].",
                                     "title": "Forbidden" if user is not None else "Not Found Error",
                                     "resource_type": "user", "parameter": parameter, "resource_id": value,
                                     "type": f"{PROBLEM}resource-not-found"}]}
        return 200, {"data": self.account.user_node(user, _fields(query, "user.fields"))}

    def _search(self, query: dict[str, str], recent: bool, owner: bool) -> tuple[int, Any]:
        text = query.get("query", "")
        if not text or len(text) > 512:
            return invalid(f"There were errors processing your request: Query must be between 1 and 512 "
                           f"characters long (got {len(text)})")
        conversations = set(_CONVERSATION.findall(text))
        since = self.account.now() - timedelta(days=self.search_days) if recent else None
        found = [t for c in conversations for t in self.account.conversations.get(c, []) if self.account.shown(t)
                 and (since is None or t.created >= since) and ("is:reply" not in text or t.replied_to)]
        found.sort(key=lambda t: t.created, reverse=True)
        return self._listing(found, query, "next_token", (10, 100), owner=owner)

    def _listing(self, tweets: list[FakeTweet], query: dict[str, str], token_name: str, bounds: tuple[int, int],
                 owner: bool = False) -> tuple[int, Any]:
        size = int(query["max_results"]) if query.get("max_results", "").isdigit() else 10
        if not bounds[0] <= size <= bounds[1]:
            return invalid(f"The `max_results` query parameter value [{size}] is not between {bounds[0]} and "
                           f"{bounds[1]}")
        start = _offset(query.get(token_name))
        if start is None:
            return invalid(f"The `{token_name}` query parameter value [{query.get(token_name)}] is not valid")
        taken = size - 3 if self.short_pages and size > bounds[0] + 3 else size
        chunk = tweets[start:start + taken]
        body = self._render(chunk, [t.current for t in chunk], query, owner)
        meta: dict[str, Any] = {"result_count": len(chunk)}
        if chunk:
            meta |= {"newest_id": chunk[0].current.id, "oldest_id": chunk[-1].current.id}
        if start + taken < len(tweets):
            meta["next_token"] = page_token(start + taken)
        return 200, body | {"meta": meta}

    def _lookup(self, ids: list[str], query: dict[str, str], owner: bool) -> tuple[int, Any]:
        ids = [i for i in ids if i]
        if not 1 <= len(ids) <= 100:
            return invalid(f"The `ids` query parameter value must hold 1 to 100 ids (got {len(ids)})")
        found: list[tuple[FakeTweet, FakeVersion]] = []
        errors = []
        for tweet_id in ids:
            tweet = self.account.by_version.get(tweet_id)
            author = self.account.users.get(tweet.author_id) if tweet else None
            if tweet is None or tweet.deleted:
                errors.append({"value": tweet_id, "detail": f"Could not find tweet with ids: [{tweet_id}].",
                               "title": "Not Found Error", "resource_type": "tweet", "parameter": "ids",
                               "resource_id": tweet_id, "type": f"{PROBLEM}resource-not-found"})
            elif author is not None and (author.suspended or author.protected):
                errors.append({"value": tweet_id, "detail": f"Sorry, you are not authorized to see the Tweet with "
                               f"ids: [{tweet_id}].", "title": "Authorization Error", "resource_type": "tweet",
                               "parameter": "ids", "resource_id": tweet_id,
                               "type": f"{PROBLEM}not-authorized-for-resource"})
            else:
                found.append((tweet, next(v for v in tweet.versions if v.id == tweet_id)))
        body = self._render([t for t, _ in found], [v for _, v in found], query, owner) if found else {}
        return 200, body | ({"errors": errors} if errors else {})

    def _render(self, tweets: list[FakeTweet], versions: list[FakeVersion], query: dict[str, str],
                owner: bool) -> dict[str, Any]:
        account, fields = self.account, _fields(query, "tweet.fields")
        expansions = _fields(query, "expansions")
        data = []
        for index, (tweet, version) in enumerate(zip(tweets, versions, strict=True)):
            root = account.by_version.get(tweet.conversation_id)
            node = account.render(tweet, version, fields, owner and root is not None
                                  and root.author_id == account.owner.id)
            if self.wrong_types and index % 5 == 4:
                node |= {"created_at": 1590000000, "public_metrics": "many", "edit_history_tweet_ids": version.id}
            data.append(node)
        body: dict[str, Any] = {"data": data}
        includes: dict[str, list[Any]] = {}
        if "author_id" in expansions or "in_reply_to_user_id" in expansions:
            wanted = dict.fromkeys(t.author_id for t in tweets) if "author_id" in expansions else {}
            wanted |= dict.fromkeys(t.in_reply_to_user_id for t in tweets
                                    if "in_reply_to_user_id" in expansions and t.in_reply_to_user_id)
            user_fields = _fields(query, "user.fields")
            includes["users"] = [account.user_node(account.users[u], user_fields) for u in wanted
                                 if u in account.users]
        if "referenced_tweets.id" in expansions:
            referenced = []
            for tweet in tweets:
                target = account.by_version.get(tweet.replied_to or "")
                if target is not None and not target.deleted:
                    version = next(v for v in target.versions if v.id == tweet.replied_to)
                    referenced.append(account.render(target, version, fields, False))
            includes["tweets"] = list({node["id"]: node for node in referenced}.values())
        if "attachments.media_keys" in expansions:
            media = [account.media[k] for t in tweets for k in t.media_keys if k in account.media]
            includes["media"] = [{"media_key": m.key, "type": m.kind, "url": f"{self.base_url}/media/{m.name}",
                                  "width": 1200, "height": 675} for m in media]
        return body | ({"includes": {k: v for k, v in includes.items() if v}} if any(includes.values()) else {})


def main(argv: list[str] | None = None) -> int:
    """Serve a synthetic account until stopped: prints the base URL and the account's user id."""
    parser = argparse.ArgumentParser(description="a local fake X API v2")
    parser.add_argument("--posts", type=int, default=3000)
    parser.add_argument("--replies", type=int, default=10000)
    parser.add_argument("--token", default="bench-bearer-token")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    account = FakeXAccount.synthetic(posts=args.posts, replies=args.replies, seed=args.seed)
    with FakeXServer(account, tokens={args.token}, full_archive=True) as server:
        print(server.base_url, account.owner.id, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    raise SystemExit(main())
