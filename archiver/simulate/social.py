"""Simulated Threads, Mastodon, Bluesky and LinkedIn accounts for the demo and the completeness
benchmark: each applies the scenario's events to its fake platform, switches the faults on and
off, and says what exists right now (the ground truth) in the same words the index keeps."""

from __future__ import annotations

import re
from abc import abstractmethod
from datetime import datetime, timedelta
from typing import Any

from archiver.simulate.platforms import SimulatedPlatform
from archiver.simulate.scenario import Event, Fault

SOCIAL_TOKEN_ENV = "ARCHIVER_DEMO_SOCIAL_TOKEN"
SOCIAL_TOKEN = "demo-social-token-4b19d0"  # a throwaway credential for the local fakes only
_TAG = re.compile(r"<[^>]+>")


class SocialAccount(SimulatedPlatform):
    """What the four share: a fake with ``status``/``delay_seconds``/``truncate``/``expired``, a
    post with a thread under it, and content keyed by its text (plus "|hidden")."""

    kinds: tuple[str, ...] = ("post", "comment", "edit", "delete_comment", "delete_post")
    platform = ""
    text_key = "text"

    def __init__(self, account: str, history: int):
        self.account, self.history, self._count = account, history, 0
        self.server: Any = None

    @abstractmethod
    def base_url(self) -> str: ...

    @abstractmethod
    def account_id(self) -> str: ...

    @abstractmethod
    def _post(self, at: datetime, text: str) -> None: ...

    @abstractmethod
    def _comment(self, pick: float, at: datetime, text: str) -> None: ...

    @abstractmethod
    def _edit(self, pick: float, at: datetime) -> None: ...

    @abstractmethod
    def _delete(self, pick: float, post: bool) -> None: ...

    def _hide(self, pick: float, hidden: bool) -> None:
        pass

    def _permission(self, lost: bool) -> None:
        if lost:
            self.server.status = 403

    def _token(self, expired: bool) -> None:
        (self.server.expired.add if expired else self.server.expired.discard)(SOCIAL_TOKEN)

    def start(self, begin: datetime) -> None:
        for back in range(self.history, 0, -1):
            self._post(begin - timedelta(hours=13 * back), f"{self.platform} notice {self.history - back}")
            for index in range(back % 4):
                self._comment(0.99, begin - timedelta(hours=13 * back - index - 1), f"early reply {back}.{index}")
        self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def account_toml(self) -> str:
        token = f'token_env = "{SOCIAL_TOKEN_ENV}"\n' if self.environment() else ""
        return (f'[[accounts]]\nname = "{self.account}"\nplatform = "{self.platform}"\nid = "{self.account_id()}"\n'
                f'schedule = "1h"\nbase_url = "{self.base_url()}"\n{token}throttle_backoff_seconds = 0.05\n')

    def environment(self) -> dict[str, str]:
        return {SOCIAL_TOKEN_ENV: SOCIAL_TOKEN}

    def apply(self, event: Event, at: datetime) -> None:
        self._count += 1
        if event.kind == "post":
            self._post(at, f"{self.platform} notice {self._count}")
        elif event.kind == "comment":
            self._comment(event.pick, at, f"resident reply {self._count}")
        elif event.kind == "edit":
            self._edit(event.pick, at)
        elif event.kind in ("hide", "unhide"):
            self._hide(event.pick, event.kind == "hide")
        elif event.kind in ("delete_comment", "delete_post"):
            self._delete(event.pick, event.kind == "delete_post")

    def set_faults(self, faults: list[Fault], timeout_seconds: float) -> None:
        active = {fault.kind for fault in faults}
        self.server.status = 503 if "5xx" in active else None
        self.server.delay_seconds = timeout_seconds + 0.5 if "timeout" in active else 0.0
        self.server.truncate = "truncated" in active
        self._token("token" in active)
        self._permission("permission" in active)

    def content_key(self, content: dict[str, Any], state: str = "visible") -> str:
        text = _TAG.sub("", str(content.get(self.text_key, "")))
        return text + ("|hidden" if state == "hidden" else "")


def _pick(items: list[Any], pick: float) -> Any:
    return items[min(int(pick * len(items)), len(items) - 1)]


class ThreadsAccount(SocialAccount):
    kinds = ("post", "comment", "edit", "hide", "unhide", "delete_comment", "delete_post")
    platform = "threads"

    def __init__(self, account: str = "city-threads", seed: int = 0, history: int = 6):
        from connectors.graph.fakeserver import FakeGraphServer
        from connectors.threads.fakeaccount import FakeThreads

        super().__init__(account, history)
        self.model = FakeThreads(user_id=str(26000000000000000 + seed))
        self.server = FakeGraphServer(self.model, tokens={SOCIAL_TOKEN}, version="v1.0")

    def base_url(self) -> str:
        return str(self.server.base_url)

    def account_id(self) -> str:
        return self.model.user_id

    def _post(self, at: datetime, text: str) -> None:
        self.model.add_thread(at, text)

    def _comment(self, pick: float, at: datetime, text: str) -> None:
        thread = _pick(self.model.threads, pick ** 2)
        parent = _pick(thread.replies, pick) if thread.replies and int(pick * 1000) % 3 == 0 else None
        self.model.add_reply(thread, at, text, f"resident{self._count % 40}", parent)

    def _edit(self, pick: float, at: datetime) -> None:
        replies = list(self.model.reply_by_id.values())
        if replies:
            reply = _pick(replies, pick)
            self.model.edit_reply(reply.id, f"{reply.text.split(' [')[0]} [edited {at:%a %H:%M}]")

    def _hide(self, pick: float, hidden: bool) -> None:
        wanted = [r for r in self.model.reply_by_id.values() if r.top_level and r.hidden != hidden]
        if wanted:
            _pick(wanted, pick).hidden = hidden

    def _delete(self, pick: float, post: bool) -> None:
        if post and self.model.threads:
            self.model.delete_thread(_pick(self.model.threads, pick).id)
        elif not post and self.model.reply_by_id:
            self.model.delete_reply(_pick(list(self.model.reply_by_id.values()), pick).id)

    def _permission(self, lost: bool) -> None:
        (self.model.permissions.discard if lost else self.model.permissions.add)("threads_read_replies")

    def _token(self, expired: bool) -> None:
        if expired:
            self.server.expired[SOCIAL_TOKEN] = 463
        else:
            self.server.expired.pop(SOCIAL_TOKEN, None)

    def truth(self) -> dict[str, str]:
        found = {t.id: t.text for t in self.model.threads}
        return found | {r.id: r.text + ("|hidden" if self.model.hidden_under(r) else "")
                        for r in self.model.reply_by_id.values()}


class MastodonAccount(SocialAccount):
    # A deleted status leaves its replies on their servers, outside any listing of the account:
    # the simulated city deletes replies, not its own statuses, so the truth stays observable.
    kinds = ("post", "comment", "edit", "delete_comment")
    platform = "mastodon"
    text_key = "content"

    def __init__(self, account: str = "city-mastodon", seed: int = 0, history: int = 6):
        from connectors.mastodon.fakeinstance import FakeMastodon

        super().__init__(account, history)
        self.server = FakeMastodon()
        self.server.tokens = {SOCIAL_TOKEN}

    def base_url(self) -> str:
        return str(self.server.base_url)

    def account_id(self) -> str:
        return f"@{self.server.username}@{self.server.domain}"

    def _post(self, at: datetime, text: str) -> None:
        self.server.post(at, text)

    def _comment(self, pick: float, at: datetime, text: str) -> None:
        root = _pick(self.server.statuses, pick ** 2)
        thread = self.server.replies[root.id]
        parent = _pick(thread, pick) if thread and int(pick * 1000) % 3 == 0 else None
        self.server.reply(root, at, text, f"resident{self._count % 40}@town.social", parent)

    def _edit(self, pick: float, at: datetime) -> None:
        status = _pick(list(self.server.by_id.values()), pick)
        self.server.edit(status.id, f"{_TAG.sub('', status.text).split(' [')[0]} [edited {at:%a %H:%M}]", at)

    def _delete(self, pick: float, post: bool) -> None:
        pool = self.server.statuses if post else [r for t in self.server.replies.values() for r in t
                                                  if r.id in self.server.by_id]
        if pool:
            self.server.delete(_pick(pool, pick).id)

    def truth(self) -> dict[str, str]:
        return {s.id: _TAG.sub("", s.text) for s in self.server.by_id.values()}


class BlueskyAccount(SocialAccount):
    kinds = ("post", "comment", "edit", "hide", "unhide", "delete_comment")  # (see MastodonAccount)
    platform = "bluesky"

    def __init__(self, account: str = "city-bluesky", seed: int = 0, history: int = 6):
        from connectors.bluesky.fakeappview import FakeBluesky

        super().__init__(account, history)
        self.server = FakeBluesky()

    def base_url(self) -> str:
        return str(self.server.base_url)

    def account_id(self) -> str:
        return str(self.server.handle)

    def environment(self) -> dict[str, str]:
        return {}  # the public AppView needs no credential (the token fault has nothing to expire)

    def _post(self, at: datetime, text: str) -> None:
        self.server.post(at, text)

    def _replies(self) -> list[Any]:
        return [r for t in self.server.threads.values() for r in t.replies]

    def _comment(self, pick: float, at: datetime, text: str) -> None:
        root = _pick(self.server.posts, pick ** 2)
        thread = self.server.threads[root.uri].replies
        parent = _pick(thread, pick) if thread and int(pick * 1000) % 3 == 0 else None
        self.server.reply(root, at, text, f"resident{self._count % 40}.bsky.social", parent)

    def _edit(self, pick: float, at: datetime) -> None:
        if replies := self._replies():
            reply = _pick(replies, pick)
            self.server.update(reply.uri, f"{reply.text.split(' [')[0]} [edited {at:%a %H:%M}]")

    def _hide(self, pick: float, hidden: bool) -> None:
        wanted = [r for r in self._replies() if (r.uri in self.server.threads[r.root].hidden) != hidden]
        if wanted:
            self.server.hide(_pick(wanted, pick).uri, hidden)

    def _delete(self, pick: float, post: bool) -> None:
        pool = self.server.posts if post else self._replies()
        if pool:
            self.server.delete(_pick(pool, pick).uri)

    def truth(self) -> dict[str, str]:
        truth = self.server.truth().items()
        return {uri: text.replace("|True", "|hidden").replace("|False", "") for uri, text in truth}


class LinkedInPage(SocialAccount):
    platform = "linkedin"
    text_key = "commentary"

    def __init__(self, account: str = "city-linkedin", seed: int = 0, history: int = 6):
        from connectors.linkedin.fakeapi import FakeLinkedIn

        super().__init__(account, history)
        self.server = FakeLinkedIn()
        self.server.tokens = {SOCIAL_TOKEN}

    def base_url(self) -> str:
        return str(self.server.base_url)

    def account_id(self) -> str:
        return self.server.organization.rsplit(":", 1)[1]

    def _post(self, at: datetime, text: str) -> None:
        self.server.post(at, text)

    def _comment(self, pick: float, at: datetime, text: str) -> None:
        post = _pick(self.server.posts, pick ** 2)
        parent = _pick(post.comments, pick) if post.comments and int(pick * 1000) % 3 == 0 else None
        self.server.comment(post, at, text, f"urn:li:person:m{self._count % 40:05d}", parent)

    def _edit(self, pick: float, at: datetime) -> None:
        post = _pick(self.server.posts, pick)
        post.text, post.edited = f"{post.text.split(' [')[0]} [edited {at:%a %H:%M}]", at

    def _delete(self, pick: float, post: bool) -> None:
        if post:
            self.server.delete_post(_pick(self.server.posts, pick).urn)
        elif self.server.comment_by_urn:
            self.server.delete_comment(_pick(list(self.server.comment_by_urn.values()), pick).urn)

    def _permission(self, lost: bool) -> None:
        self.server.approved = not lost

    def content_key(self, content: dict[str, Any], state: str = "visible") -> str:
        return str(content.get("commentary", content.get("message", "")))

    def truth(self) -> dict[str, str]:
        return {p.urn: p.text for p in self.server.posts} | {c.urn: c.text for c in self.server.comment_by_urn.values()}


SOCIAL_ACCOUNTS = (ThreadsAccount, MastodonAccount, BlueskyAccount, LinkedInPage)
