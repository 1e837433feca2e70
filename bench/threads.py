"""Harvesting a large Threads account (1,000 threads, 10,000 replies) from the fake Threads API.

Minimum calls for the page sizes (``limit`` at most 100): the profile, one listing call per 100
threads, one conversation call per 100 replies of each thread with replies, and one insights
call per own thread (the counts come from nowhere else). See bench/social.py for the method.

    python bench/threads.py [--posts 1000 --replies 10000]
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from social import TOKEN, BenchSpec, Served, main, pages, served_by

from connectors.graph.fakeserver import FakeGraphServer
from connectors.threads.fakeaccount import FakeThreads


@contextmanager
def serve(posts: int, replies: int) -> Iterator[Served]:
    account = FakeThreads.synthetic(threads=posts, replies=replies, seed=7)
    yield from served_by(FakeGraphServer(account, tokens={TOKEN}, version="v1.0"), account.truth)


def minimum(served: Served) -> int:
    account: FakeThreads = served.truth.__self__  # type: ignore[attr-defined]
    own = [t for t in account.threads if t.media_type != "REPOST_FACADE"]
    return 1 + pages(len(account.threads), 100) + sum(pages(len(t.replies), 100) for t in own if t.replies) + len(own)


SPEC = BenchSpec("threads", FakeThreads().user_id, serve, minimum)

if __name__ == "__main__":
    main(SPEC, __doc__)
