"""The X connector: an account's posts, the replies in their conversations, every edit as a
version, deletions only on X's own "Not Found Error", inside the credential's monthly reads.

One harvest: the profile (resolving a ``@handle`` to the numeric id once, kept in the cursor);
``/2/users/:id/tweets`` newest first, back to the re-check window and the newest post the last
complete harvest saw (a full sweep goes to the 3,200 the endpoint reaches; older history is a
stated gap); after each page, the versions of edited posts not yet recorded (``/2/tweets?ids=``);
then the replies to the listed posts, by conversation, many conversations per query
(``(conversation_id:A OR …) is:reply``, at most 512 characters): recent search for the last 7
days, full-archive search when the credential has it (``full_archive = true``), else what lies
outside the 7 days is a stated gap — the schedule must keep inside it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from archiver.capture.session import FetchFailed
from archiver.quota import MONTHLY_UTC, Period, QuotaSpec
from connectors.base import Connector, HarvestContext, HarvestError, ItemRef, Page
from connectors.jsonfields import dicts, mapping, text, texts, timestamp
from connectors.x import parser
from connectors.x.api import XApi, XOptions
from connectors.x.paging import FIRST, TokenPaginator

if TYPE_CHECKING:
    from archiver.config import AccountConfig

SEARCH_WINDOW = timedelta(days=7)
TIMELINE_REACH = 3200
QUERY_LIMIT = 512
FIELDS: dict[str, Any] = {"tweet_fields": parser.TWEET_FIELDS, "expansions": parser.EXPANSIONS,
                          "user_fields": "username,name", "media_fields": parser.MEDIA_FIELDS}


def conversation_queries(roots: list[str], limit: int = QUERY_LIMIT) -> list[str]:
    """Search queries covering these conversations, as few as the length limit allows.

    >>> conversation_queries(["1", "2"])
    ['(conversation_id:1 OR conversation_id:2) is:reply']
    """
    queries, batch = [], []
    for root in roots:
        trial = [*batch, root]
        if batch and len("(" + " OR ".join(f"conversation_id:{r}" for r in trial) + ") is:reply") > limit:
            queries.append(batch)
            batch = [root]
        else:
            batch = trial
    if batch:
        queries.append(batch)
    return ["(" + " OR ".join(f"conversation_id:{r}" for r in batch) + ") is:reply" for batch in queries]


class XConnector(Connector):
    platform = "x"
    options_model = XOptions
    lookup_kinds = ("post", "comment", "reply")
    default_recheck_window = timedelta(days=7)
    default_full_sweep = timedelta(days=30)

    def __init__(self) -> None:
        self._api: XApi | None = None
        self._fetched: set[str] = set()  # version ids whose history was asked for in this harvest
        self._searched: set[str] = set()  # conversations whose replies were listed in this harvest
        self._wanted: list[str] = []  # versions of edited posts still to fetch
        self._under: set[str] | None = None  # the items in those conversations (from the index)
        self._descendants: Callable[[str], list[str]] = lambda root: []

    @classmethod
    def check_account(cls, account: AccountConfig) -> list[str]:
        problems = super().check_account(account)
        if not (account.id.isdigit() or (account.id.startswith("@") and len(account.id) > 1)):
            problems.append(f"id: {account.id!r} is neither a numeric X user id nor a @handle; give the id (the "
                            "account's numeric id, from GET /2/users/by/username/HANDLE) or \"@handle\" (resolved "
                            "once on the first harvest and kept)")
        if "bearer_token_env" not in account.options():
            problems.append("bearer_token_env: missing; name the environment variable holding the app's bearer token")
        return problems

    @classmethod
    def quota(cls, account: AccountConfig) -> QuotaSpec | None:
        options = cls.options(account)
        assert isinstance(options, XOptions)
        variable = account.options().get("bearer_token_env")  # the app's: X caps reads per project
        period = Period("month", UTC, options.budget_reset_day) if options.budget_reset_day != 1 else MONTHLY_UTC
        return QuotaSpec(f"x:{variable}", options.monthly_reads, period, "reads")

    @classmethod
    def parse(cls, response: Any) -> list[Any]:
        return parser.parse(response)

    def api(self, context: HarvestContext) -> XApi:
        if self._api is None:
            assert isinstance(context.options, XOptions)
            self._api = XApi(context, context.options)
        return self._api

    # The listing ------------------------------------------------------------------------------
    def harvest(self, context: HarvestContext) -> Iterator[Page]:
        api = self.api(context)
        self._descendants = context.descendants
        if context.targets:  # X sends the archiver no webhooks; a targeted run checks the ids given
            yield from self.confirm(context, [ItemRef(t.partition(":")[2] or t, "post", None, None)
                                              for t in context.targets])
            context.complete = True
            return
        user_id = yield from self._profile(context, api)
        now = datetime.now(UTC)
        previous = timestamp(context.cursor.get("newest"))
        stop_before = None if context.full_sweep or previous is None else min(now - context.recheck_window, previous)
        timeline = TokenPaginator(context.capture.max_pages, stop_before)
        roots: list[tuple[str, datetime | None]] = []
        while not timeline.finished:
            token = timeline.current or None
            exchange, body = api.call(api.client.get_users_tweets, user_id, max_results=api.options.page_size,
                                      pagination_token=token if token != FIRST else None, **FIELDS)
            yield Page(exchange, parser.parse(exchange.response))
            yield from self._history(context, api, body)
            roots += [((texts(t, "edit_history_tweet_ids") or [t["id"]])[0], timestamp(text(t, "created_at")))
                      for t in dicts(body, "data") if isinstance(t.get("id"), str)
                      and not any(text(r, "type") == "replied_to" for r in dicts(t, "referenced_tweets"))]
            timeline.advance(body)
        listed_since = datetime.min.replace(tzinfo=UTC) if timeline.reached_end else timeline.oldest
        if timeline.reached_end and timeline.listed >= TIMELINE_REACH:
            context.notes.append(f"the timeline reaches only the newest {TIMELINE_REACH:,} posts; older posts of the "
                                 "account (before " + (timeline.oldest.isoformat() if timeline.oldest else "?")
                                 + ") are a gap unless archived earlier")
            context.window_exceeded = ("", timeline.oldest.isoformat() if timeline.oldest else "")
            listed_since = timeline.oldest
        replies_since = yield from self._replies(context, api, roots, now)
        while self._wanted:
            yield from self._versions(api, 100)
        context.listed_since = max(filter(None, (listed_since, replies_since)), default=None)
        newest = max(filter(None, (timeline.newest, previous)), default=None)
        context.next_cursor = {"user_id": user_id, "newest": newest.isoformat() if newest else None}
        context.notes.append(f"{api.calls} X API calls, {api.reads} posts read (paid reads), "
                             f"{api.waited:.1f} s waited on rate limits")
        context.complete = True

    def _profile(self, context: HarvestContext, api: XApi) -> Iterator[Page]:
        """The account's profile; a @handle is resolved once and the id kept in the cursor."""
        account_id = context.account.id
        known = context.cursor.get("user_id")
        if account_id.startswith("@") and not known:
            exchange, body = api.call(api.client.get_user, username=account_id[1:], user_fields=parser.USER_FIELDS)
        else:
            exchange, body = api.call(api.client.get_user, id=known or account_id, user_fields=parser.USER_FIELDS)
        yield Page(exchange, parser.parse(exchange.response))
        user_id = text(mapping(body, "data"), "id")
        if user_id is None:
            errors = "; ".join(str(e.get("detail")) for e in dicts(body, "errors"))
            raise HarvestError(f"X has no visible user {account_id} ({errors or 'no data'}); check the account's id",
                               "platform")
        return user_id

    def _history(self, context: HarvestContext, api: XApi, body: dict[str, Any]) -> Iterator[Page]:
        """The versions of edited posts on this page that the index has not recorded yet."""
        chains = [c for t in dicts(body, "data") if len(c := texts(t, "edit_history_tweet_ids")) > 1
                  and c[-1] not in self._fetched]
        if not chains:
            return
        recorded = context.recorded([c[0] for c in chains])
        for chain in chains:
            self._fetched.update(chain)
            latest = recorded.get(chain[0], {}).get("version_id")
            self._wanted += chain[chain.index(latest) + 1:] if latest in chain else chain
        while len(self._wanted) >= 100:  # full calls now, the rest at the end of the listing
            yield from self._versions(api, 100)

    def _versions(self, api: XApi, count: int) -> Iterator[Page]:
        """Fetch ``count`` of the versions waiting (100 ids a call)."""
        batch, self._wanted = self._wanted[:count], self._wanted[count:]
        if batch:
            exchange, _ = api.call(api.client.get_tweets, batch, **FIELDS)
            yield Page(exchange, parser.parse(exchange.response))

    def _replies(self, context: HarvestContext, api: XApi, roots: list[tuple[str, datetime | None]],
                 now: datetime) -> Iterator[Page]:
        """Replies in the listed posts' conversations; returns since when replies were all listed."""
        assert isinstance(context.options, XOptions)
        full = context.options.full_archive
        recent_edge = now - SEARCH_WINDOW + timedelta(minutes=5)
        archive = [r for r, at in roots if full and (at is None or at < recent_edge)]
        recent = [r for r, at in roots if not (full and (at is None or at < recent_edge))]
        for method, ids in ((api.client.search_all_tweets, archive), (api.client.search_recent_tweets, recent)):
            self._searched.update(ids)
            for query in conversation_queries(ids):
                pages = TokenPaginator(context.capture.max_pages)
                while not pages.finished:
                    token = pages.current or None
                    exchange, body = api.call(method, query, max_results=max(api.options.page_size, 10),
                                              next_token=token if token != FIRST else None, **FIELDS)
                    yield Page(exchange, parser.parse(exchange.response))
                    yield from self._history(context, api, body)
                    pages.advance(body)
        if full:
            return None
        older = [at for _, at in roots if at is not None and at < recent_edge]
        listed_at = timestamp(context.cursor.get("listed_at"))
        if older or (listed_at is not None and listed_at < now - SEARCH_WINDOW):
            start = listed_at if listed_at is not None and listed_at < now - SEARCH_WINDOW else min(older)
            context.window_exceeded = context.window_exceeded or (start.isoformat(), (now - SEARCH_WINDOW).isoformat())
            context.notes.append("replies older than 7 days are out of reach of recent search (the credential has no "
                                 "full-archive search): replies posted before "
                                 f"{(now - SEARCH_WINDOW).isoformat(timespec='minutes')} to posts listed here may be "
                                 "missing; harvest at least weekly, or set full_archive = true")
        return now - SEARCH_WINDOW

    # Lookups ----------------------------------------------------------------------------------
    def worth_lookup(self, ref: ItemRef) -> bool:
        """A reply is a suspect only if its conversation was searched in this harvest."""
        if ref.kind == "post":
            return True
        if self._under is None:
            self._under = {d for root in self._searched for d in self._descendants(root)}
        return ref.platform_id in self._under

    def confirm(self, context: HarvestContext, suspects: list[ItemRef]) -> Iterator[Page]:
        """Look up missing posts and replies a hundred at a time: X's "Not Found Error" for an id
        deletes it, "Authorization Error" makes it unavailable, anything else decides nothing."""
        api = self.api(context)
        ids = list(dict.fromkeys(ref.platform_id for ref in suspects))
        for start in range(0, len(ids), 100):
            batch = ids[start:start + 100]
            try:
                exchange, _ = api.call(api.client.get_tweets, batch, lookup=",".join(batch), **FIELDS)
            except FetchFailed as exc:
                context.notes.append(f"could not look up {len(batch)} post(s): {exc}")
                context.unresolved += batch
                continue
            observations = parser.parse(exchange.response)
            answered = {o.platform_id for o in observations}
            context.unresolved += [i for i in batch if i not in answered]
            yield Page(exchange, observations)
