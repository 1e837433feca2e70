"""The city's X account and YouTube channel for ``archiver demo``: fake platforms driven by the
same scenario events as the feed and the Page (posts, replies, edits, hides, deletions)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from archiver.simulate.platforms import SimulatedPlatform
from archiver.simulate.scenario import Event, Fault

X_TOKEN_ENV = "ARCHIVER_DEMO_X_BEARER"
X_TOKEN = "demo-x-bearer-5d20c8"  # throwaway credentials for the local fakes only
YT_KEY_ENV = "ARCHIVER_DEMO_YT_KEY"
YT_KEY = "demo-youtube-key-93b1f0"


class CityXAccount(SimulatedPlatform):
    """A city's X account on the fake X API: posts, replies, edits (new ids in the chain),
    hidden replies (the owner's view), deleted replies and posts."""

    kinds = ("post", "comment", "edit", "hide", "unhide", "delete_comment", "delete_post")

    def __init__(self, account: str = "city-x", seed: int = 0, history: int = 15):
        from connectors.x.fakeaccount import FakeUser, FakeXAccount
        from connectors.x.fakeserver import FakeXServer

        self.account, self.history, self._count = account, history, 0
        self.fake = FakeXAccount(FakeUser(str(2244994945 + seed), "cityofspringfield", "City of Springfield"))
        self.residents = [self.fake.user(f"resident{n}", f"Resident {n}") for n in range(12)]
        self.server = FakeXServer(self.fake, tokens={X_TOKEN}, user_tokens={X_TOKEN + "-owner"}, full_archive=True)

    def start(self, begin: datetime) -> None:
        for back in range(self.history, 0, -1):
            post = self.fake.post(begin - timedelta(hours=11 * back), f"City update {self.history - back}")
            for index in range(back % 3):
                self.fake.post(post.created + timedelta(minutes=7 * (index + 1)), f"early reply {back}.{index}",
                               self.residents[index], post)
        self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def account_toml(self) -> str:
        return (f'[[accounts]]\nname = "{self.account}"\nplatform = "x"\nid = "{self.fake.owner.id}"\n'
                f'schedule = "1h"\nbearer_token_env = "{X_TOKEN_ENV}"\naccess_token_env = "{X_TOKEN_ENV}_OWNER"\n'
                f'base_url = "{self.server.base_url}"\nfull_archive = true\nmonthly_reads = 1000000\n'
                # replies come to posts of any age; re-list the whole simulated fortnight every harvest
                'max_throttle_wait = "1m"\nrecheck_window = "30d"\n')

    def environment(self) -> dict[str, str]:
        return {X_TOKEN_ENV: X_TOKEN, f"{X_TOKEN_ENV}_OWNER": X_TOKEN + "-owner"}

    def apply(self, event: Event, at: datetime) -> None:
        fake, self._count = self.fake, self._count + 1
        posts = [t for t in fake.live() if t.replied_to is None]
        replies = [t for t in fake.live() if t.replied_to is not None]
        if event.kind == "post":
            fake.post(at, f"City update {self._count}: service notice")
        elif event.kind == "comment" and posts:
            post = posts[-1 - int(event.pick ** 2 * len(posts)) % len(posts)]
            fake.post(at, f"resident reply {self._count}", self.residents[self._count % 12], post)
        elif event.kind == "edit" and posts:
            post = posts[int(event.pick * len(posts))]
            fake.edit(post, f"{post.current.text.split(' [')[0]} [edited {at:%a %H:%M}]", at)
        elif event.kind in ("hide", "unhide"):
            wanted = [t for t in replies if t.hidden == (event.kind == "unhide")]
            if wanted:
                wanted[int(event.pick * len(wanted))].hidden = event.kind == "hide"
        elif event.kind == "delete_comment" and replies:
            replies[int(event.pick * len(replies))].deleted = True
        elif event.kind == "delete_post" and posts:
            posts[int(event.pick * len(posts))].deleted = True

    def set_faults(self, faults: list[Fault], timeout_seconds: float) -> None:
        active = {fault.kind for fault in faults}
        server = self.server
        server.status = 503 if "5xx" in active else None
        server.delay_seconds = timeout_seconds + 0.5 if "timeout" in active else 0.0
        server.truncate = "truncated" in active
        server.forbidden = "permission" in active
        server.expired = {X_TOKEN + "-owner"} if "token" in active else set()

    def truth(self) -> dict[str, str]:
        return {t.id: t.current.text + ("|hidden" if t.hidden else "") for t in self.fake.live()}

    def content_key(self, content: dict[str, Any], state: str = "visible") -> str:
        return str(content.get("text", "")) + ("|hidden" if state == "hidden" else "")


class CityYouTubeChannel(SimulatedPlatform):
    """A city's YouTube channel on the fake Data API: meeting videos, comments and replies,
    edited comments, deleted comments and videos; every call counted against the day's units."""

    kinds = ("post", "comment", "edit", "delete_comment", "delete_post")

    def __init__(self, account: str = "city-youtube", seed: int = 0, history: int = 8):
        from connectors.youtube.fakechannel import FakeChannel
        from connectors.youtube.fakeserver import FakeYouTubeServer

        self.account, self.history, self._count = account, history, 0
        self.channel = FakeChannel(channel_id=f"UC{seed:022d}")
        self.server = FakeYouTubeServer(self.channel, keys={YT_KEY})

    def start(self, begin: datetime) -> None:
        for back in range(self.history, 0, -1):
            video = self.channel.add_video(begin - timedelta(days=2 * back), f"Council meeting {self.history - back}")
            for index in range(back % 4):
                self.channel.add_comment(video, video.published + timedelta(hours=index + 1),
                                         f"early comment {back}.{index}", f"Resident {index}")
        self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def account_toml(self) -> str:
        return (f'[[accounts]]\nname = "{self.account}"\nplatform = "youtube"\nid = "{self.channel.channel_id}"\n'
                f'schedule = "1h"\napi_key_env = "{YT_KEY_ENV}"\nbase_url = "{self.server.base_url}"\n'
                "rate_limit_backoff_seconds = 0.05\n")

    def environment(self) -> dict[str, str]:
        return {YT_KEY_ENV: YT_KEY}

    def apply(self, event: Event, at: datetime) -> None:
        channel, self._count = self.channel, self._count + 1
        videos = [v for v in channel.videos if not v.deleted]
        comments = channel.live_comments()
        if event.kind == "post" and self._count % 8 == 0:  # a meeting video now and then
            channel.add_video(at, f"Council meeting {self._count}")
        elif event.kind == "comment" and videos:
            video = videos[int(event.pick ** 2 * len(videos))]
            threads = [t for t in video.threads if not channel.gone(t)]
            thread = threads[int(event.pick * 997) % len(threads)] if threads and self._count % 3 == 0 else None
            channel.add_comment(video, at, f"resident comment {self._count}", f"Resident {self._count % 9}", thread)
        elif event.kind == "edit" and comments:
            comment = comments[int(event.pick * len(comments))]
            channel.edit(comment, f"{comment.text.split(' [')[0]} [edited {at:%a %H:%M}]", at)
        elif event.kind == "delete_comment" and comments:
            comments[int(event.pick * len(comments))].deleted = True
        elif event.kind == "delete_post" and len(videos) > 3 and self._count % 3 == 0:
            videos[int(event.pick * len(videos))].deleted = True

    def set_faults(self, faults: list[Fault], timeout_seconds: float) -> None:
        active = {fault.kind for fault in faults}
        server = self.server
        server.status = 503 if "5xx" in active else None
        server.delay_seconds = timeout_seconds + 0.5 if "timeout" in active else 0.0
        server.truncate = "truncated" in active
        server.invalid_keys = {YT_KEY} if "token" in active else set()

    def truth(self) -> dict[str, str]:
        found = {v.id: v.title for v in self.channel.videos if not v.deleted}
        return found | {c.id: c.text for c in self.channel.live_comments()}

    def content_key(self, content: dict[str, Any], state: str = "visible") -> str:
        return str(content.get("title") or content.get("textOriginal") or "")
