"""Harvesting a large Bluesky account (1,000 posts, 10,000 replies) from the fake AppView.

Minimum calls for the page sizes (``limit`` at most 100): the handle's resolution, the profile,
one feed call per 100 posts, one thread call per post with replies (``depth`` 1000 brings the
whole tree). See bench/social.py for the method.

    python bench/bluesky.py [--posts 1000 --replies 10000]
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from social import BenchSpec, Served, main, pages, served_by

from connectors.bluesky.fakeappview import FakeBluesky


@contextmanager
def serve(posts: int, replies: int) -> Iterator[Served]:
    server = FakeBluesky.synthetic(posts=posts, replies=replies, seed=7)
    yield from served_by(server, server.truth)


def minimum(served: Served) -> int:
    server: FakeBluesky = served.truth.__self__  # type: ignore[attr-defined]
    threads = sum(1 for p in server.posts if server.threads[p.uri].replies)
    return 2 + pages(len(server.posts), 100) + threads


SPEC = BenchSpec("bluesky", "springfield.example.gov", serve, minimum, token=False)

if __name__ == "__main__":
    main(SPEC, __doc__)
