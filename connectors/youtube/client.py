"""The YouTube connector: a channel's videos and every comment thread, inside the daily units.

One harvest: ``channels.list`` (a ``@handle`` resolved once, kept in the cursor) → the uploads
playlist newest first (``playlistItems.list``, 50 a call) → ``videos.list`` 50 ids a call →
``commentThreads.list`` per video that has comments (and ``moderationStatus=heldForReview`` with
the owner's token) → ``comments.list`` for threads with more replies than the five embedded.

Units are planned: the recent videos (the re-check window, back to the newest the last harvest
saw) come first, every harvest; the full sweep of older videos goes on, oldest-first from where
the last run stopped (``sweep_before`` in the cursor), only with this run's share of what is
left of the day — what remains, divided among the runs of every account on the key before the
Pacific-midnight reset — so a long back catalogue is swept over days without starving the others.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from archiver.capture.session import FetchFailed
from archiver.quota import DAILY_PACIFIC, QuotaSpec
from connectors.base import Connector, HarvestContext, HarvestError, ItemRef, Page, VersionState
from connectors.jsonfields import dicts, mapping, text, timestamp
from connectors.youtube import parser, websub
from connectors.youtube.api import YouTubeApi, YouTubeOptions
from connectors.youtube.paging import PageTokenPaginator

if TYPE_CHECKING:
    from archiver.config import AccountConfig


class YouTubeConnector(Connector):
    platform = "youtube"
    options_model = YouTubeOptions
    lookup_kinds = ("post", "comment", "reply")

    def __init__(self) -> None:
        self._api: YouTubeApi | None = None
        self._listed: set[str] = set()  # videos and threads whose comments were listed in this harvest

    @classmethod
    def check_account(cls, account: AccountConfig) -> list[str]:
        problems = super().check_account(account)
        if not ((account.id.startswith("UC") and len(account.id) == 24) or account.id.startswith("@")):
            problems.append(f"id: {account.id!r} is not a channel id; give the channel's id (\"UC…\", 24 characters: "
                            "YouTube Studio → Settings → Channel → Advanced) or its \"@handle\" (resolved once)")
        if "api_key_env" not in account.options():
            problems.append("api_key_env: missing; name the environment variable holding the Data API key")
        return problems

    @classmethod
    def quota(cls, account: AccountConfig) -> QuotaSpec | None:
        options = cls.options(account)
        assert isinstance(options, YouTubeOptions)
        return QuotaSpec(f"youtube:{account.options().get('api_key_env')}", options.daily_units, DAILY_PACIFIC,
                         "units")

    @classmethod
    def parse(cls, response: Any) -> list[Any]:
        return parser.parse(response)

    def api(self, context: HarvestContext) -> YouTubeApi:
        if self._api is None:
            assert isinstance(context.options, YouTubeOptions)
            self._api = YouTubeApi(context, context.options)
        return self._api

    # The listing ------------------------------------------------------------------------------
    def harvest(self, context: HarvestContext) -> Iterator[Page]:
        api = self.api(context)
        if context.targets:  # a push said these changed (connectors/youtube/websub.py)
            yield from self._videos(context, api, websub.refetched(context.targets))
            yield from websub.confirm_tombstones(self, context, api)
            context.complete = True
            return
        channel_id, uploads = yield from self._channel(context, api)
        now = datetime.now(UTC)
        previous = timestamp(context.cursor.get("newest"))
        recent_edge = min(now - context.recheck_window, previous) if previous else now - context.recheck_window
        sweep_before = timestamp(context.cursor.get("sweep_before")) if context.full_sweep else None
        recent: list[tuple[str, datetime | None]] = []
        older: list[tuple[str, datetime | None]] = []
        playlist = PageTokenPaginator(context.capture.max_pages)
        while not playlist.finished:
            exchange, body = api.get_json("playlistItems", part="snippet,contentDetails,status", playlistId=uploads,
                                          maxResults=api.options.page_size, pageToken=playlist.current or None)
            yield Page(exchange, parser.parse(exchange.response))
            for item in dicts(body, "items"):
                details = mapping(item, "contentDetails")
                video_id = text(details, "videoId")
                published = timestamp(text(details, "videoPublishedAt")) or \
                    timestamp(text(mapping(item, "snippet"), "publishedAt"))
                if video_id is None or text(mapping(item, "status"), "privacyStatus") == "private":
                    continue
                if published is None or published >= recent_edge:
                    recent.append((video_id, published))
                elif context.full_sweep and (sweep_before is None or published < sweep_before):
                    older.append((video_id, published))
            playlist.advance(body)
            if not context.full_sweep and playlist.oldest is not None and playlist.oldest < recent_edge:
                break
        yield from self._videos(context, api, [v for v, _ in recent])
        swept, finished = yield from self._sweep(context, api, older)
        oldest_recent = min((p for _, p in recent if p), default=recent_edge)
        if finished and playlist.finished:
            listed_since = datetime.min.replace(tzinfo=UTC)
        elif sweep_before is None and swept:
            listed_since = min(p for _, p in swept if p) if any(p for _, p in swept) else oldest_recent
        else:
            listed_since = min(oldest_recent, recent_edge)
        context.listed_since = listed_since
        newest = max(filter(None, (previous, *(p for _, p in recent))), default=None)
        context.next_cursor = {"channel_id": channel_id, "uploads": uploads,
                               "newest": newest.isoformat() if newest else None}
        if context.full_sweep and not finished:
            context.full_sweep = False  # still due: the next run goes on from here
            oldest = min((p for _, p in swept if p), default=sweep_before)
            context.next_cursor["sweep_before"] = oldest.isoformat() if oldest else None
            context.notes.append(f"full sweep: {len(swept)} older video(s) this run, {len(older) - len(swept)} left "
                                 "for the next runs (the day's units are shared out)")
        context.notes.append(f"{api.calls} YouTube API calls, {api.units} units")
        context.complete = True

    def _channel(self, context: HarvestContext, api: YouTubeApi) -> Iterator[Page]:
        account_id = context.cursor.get("channel_id") or context.account.id
        params = {"forHandle": account_id} if account_id.startswith("@") else {"id": account_id}
        exchange, body = api.get_json("channels", part="snippet,contentDetails,statistics", **params)
        yield Page(exchange, parser.parse(exchange.response))
        channel = next(iter(dicts(body, "items")), {})
        uploads = text(mapping(mapping(channel, "contentDetails"), "relatedPlaylists"), "uploads")
        if text(channel, "id") is None or uploads is None:
            raise HarvestError(f"YouTube has no channel {account_id} (channels.list returned no item); check the "
                               "account's id", "platform")
        return text(channel, "id"), uploads

    def _sweep(self, context: HarvestContext, api: YouTubeApi,
               older: list[tuple[str, datetime | None]]) -> Iterator[Page]:
        """Older videos, newest first, as far as this run's share of the day's units reaches."""
        share = self._share(context)
        start, swept = api.units, []
        for index in range(0, len(older), api.options.page_size):
            batch = older[index:index + api.options.page_size]
            done = yield from self._videos(context, api, [v for v, _ in batch],
                                           enough=lambda: share is not None and api.units - start >= share)
            swept += [pair for pair in batch if pair[0] in done]
            if len(done) < len(batch):
                return swept, False
        return swept, True

    def _share(self, context: HarvestContext) -> int | None:
        """This run's units for the sweep: what is left today over the runs left today on the key."""
        budget = context.budget
        if budget is None:
            return None
        from archiver.coverage import expected_interval

        status = budget.status()
        every = expected_interval(context.account.schedule).total_seconds()
        return sweep_share(status.remaining, (status.resets_at - datetime.now(UTC)).total_seconds(), every,
                           budget.sharing)

    def _videos(self, context: HarvestContext, api: YouTubeApi, ids: list[str],
                enough: Callable[[], bool] = lambda: False) -> Iterator[Page]:
        """Videos 50 at a time, then each one's comment threads, until ``enough``; the ids done."""
        done: list[str] = []
        for start in range(0, len(ids), api.options.page_size):
            if enough():
                return done
            exchange, body = api.get_json("videos", part=parser.VIDEO_PARTS, id=",".join(ids[start:start + 50]),
                                          maxResults=api.options.page_size)
            yield Page(exchange, parser.parse(exchange.response))
            listed = {text(v, "id"): v for v in dicts(body, "items")}
            for video_id in ids[start:start + 50]:
                if enough():
                    return done
                video = listed.get(video_id, {})
                if video and text(mapping(video, "statistics"), "commentCount") != "0":
                    yield from self._threads(context, api, video_id, "published")
                if video and api.owner:
                    yield from self._threads(context, api, video_id, "heldForReview")
                done.append(video_id)
        return done

    def _threads(self, context: HarvestContext, api: YouTubeApi, video_id: str, status: str) -> Iterator[Page]:
        pages = PageTokenPaginator(context.capture.max_pages)
        while not pages.finished:
            exchange, body = api.get_json("commentThreads", part="snippet,replies", videoId=video_id,
                                          maxResults=api.options.comment_page_size, textFormat="plainText",
                                          order="time", pageToken=pages.current or None,
                                          moderationStatus=None if status == "published" else status,
                                          soft=("commentsDisabled", "videoNotFound"))
            if exchange.response.status != 200:
                context.notes.append(f"comments of {video_id} not listed: {', '.join(reasons_of(body))}")
                return
            yield Page(exchange, parser.parse(exchange.response))
            self._listed.add(video_id)
            for thread in dicts(body, "items"):
                embedded = len(dicts(mapping(thread, "replies"), "comments"))
                total = mapping(thread, "snippet").get("totalReplyCount")
                self._listed.add(str(thread.get("id")))
                if isinstance(total, int) and total > embedded:
                    yield from self._replies(context, api, str(thread["id"]))
            pages.advance(body)

    def _replies(self, context: HarvestContext, api: YouTubeApi, thread_id: str) -> Iterator[Page]:
        pages = PageTokenPaginator(context.capture.max_pages)
        while not pages.finished:
            exchange, body = api.get_json("comments", part="snippet", parentId=thread_id, textFormat="plainText",
                                          maxResults=api.options.comment_page_size, pageToken=pages.current or None)
            yield Page(exchange, parser.parse(exchange.response))
            pages.advance(body)

    # Lookups ----------------------------------------------------------------------------------
    def worth_lookup(self, ref: ItemRef) -> bool:
        """A comment is a suspect only if its video's threads were listed in this harvest."""
        return ref.kind == "post" or ref.parent_id in self._listed

    def confirm(self, context: HarvestContext, suspects: list[ItemRef]) -> Iterator[Page]:
        """Videos and comments missing from a complete listing, 50 ids a call: only an empty
        ``items`` for an id deletes it. Comments count only if their video was listed this run."""
        api = self.api(context)
        videos = [r.platform_id for r in suspects if r.kind == "post"]
        comments = [r.platform_id for r in suspects if r.kind != "post" and self.worth_lookup(r)]
        for resource, ids, part in (("videos", videos, "snippet,status"), ("comments", comments, "snippet")):
            for start in range(0, len(ids), 50):
                batch = ids[start:start + 50]
                try:
                    exchange = api.get(resource, lookup=",".join(batch), part=part, id=",".join(batch))
                except FetchFailed as exc:
                    context.notes.append(f"could not look up {len(batch)} {resource}: {exc}")
                    context.unresolved += batch
                    continue
                observations = parser.parse(exchange.response)
                context.unresolved += [i for i in batch if i not in {o.platform_id for o in observations}]
                yield Page(exchange, observations)
                for gone in (o.platform_id for o in observations if o.state is VersionState.DELETED):
                    yield from self._cascade(context, gone, exchange)  # a thread's replies go with it

    def _cascade(self, context: HarvestContext, video_id: str, evidence: Any) -> Iterator[Page]:
        children = context.descendants(video_id)
        if children:
            record = {"event": "parent-deleted", "parent": video_id, "children": children,
                      "confirmed_by": evidence.evidence.response.record_id}
            import json

            exchange = context.session.record_resource(f"{parser.CASCADE_PREFIX}{video_id}",
                                                       json.dumps(record, sort_keys=True).encode(), "application/json")
            yield Page(exchange, parser.parse(exchange.response))


def sweep_share(remaining: int, seconds_to_reset: float, every_seconds: float, sharing: int) -> int:
    """Units one run may give the sweep: the day's rest over the runs of every account on the key.

    >>> sweep_share(9000, 10 * 3600, 3600, 3)  # 10 hourly runs left, three channels on the key
    300
    >>> sweep_share(9000, 600, 86400, 1)  # a daily schedule: this run is the day's last
    9000
    """
    runs = max(1, math.ceil(seconds_to_reset / (every_seconds or 3600.0)))
    return max(remaining // (runs * max(sharing, 1)), 1)


def reasons_of(body: dict[str, Any]) -> list[str]:
    return [str(e.get("reason")) for e in dicts(mapping(body, "error"), "errors")] or ["an error"]
