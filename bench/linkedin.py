"""Harvesting a large LinkedIn page (1,000 posts, 10,000 comments and replies) from the fake
Community Management API.

Minimum calls for the page sizes (``count`` at most 100): one posts call per 100 posts, for each
such page one socialMetadata batch and (with images) one images batch, one comments call per 100
comments of each post with comments, one per 100 replies of each comment with replies. See
bench/social.py for the method.

    python bench/linkedin.py [--posts 1000 --replies 10000]
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from social import TOKEN, BenchSpec, Served, main, pages, served_by

from connectors.linkedin.fakeapi import FakeLinkedIn


@contextmanager
def serve(posts: int, replies: int) -> Iterator[Served]:
    server = FakeLinkedIn.synthetic(posts=posts, comments=replies, seed=7)
    server.tokens = {TOKEN}
    yield from served_by(server, server.truth, extra=0)


def minimum(served: Served) -> int:
    server: FakeLinkedIn = served.truth.__self__  # type: ignore[attr-defined]
    chunks = [server.posts[i:i + 100] for i in range(0, len(server.posts), 100)]
    calls = pages(len(server.posts), 100) + len(chunks) + sum(1 for c in chunks if any(p.images for p in c))
    calls += sum(pages(len(p.comments), 100) for p in server.posts if p.comments)
    return calls + sum(pages(len(c.replies), 100) for p in server.posts for c in p.comments if c.replies)


SPEC = BenchSpec("linkedin", "5515715", serve, minimum, options="page_size = 100\n")

if __name__ == "__main__":
    main(SPEC, __doc__)
