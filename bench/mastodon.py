"""Harvesting a large Mastodon account (1,000 statuses, 10,000 replies) from the fake instance.

Minimum calls for the page sizes (``limit`` at most 40): the handle's lookup, one listing call
per 40 statuses (one more when the count is a multiple of 40: Mastodon links a next page after
every full one), one context call per status with replies (a token lifts the limit to 4,096
descendants), one history call per edited status or reply. See bench/social.py for the method.

    python bench/mastodon.py [--posts 1000 --replies 10000]
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from social import TOKEN, BenchSpec, Served, main, served_by

from connectors.mastodon.fakeinstance import FakeMastodon


@contextmanager
def serve(posts: int, replies: int) -> Iterator[Served]:
    server = FakeMastodon.synthetic(statuses=posts, replies=replies, seed=7)
    server.tokens = {TOKEN}
    yield from served_by(server, server.truth)


def minimum(served: Served) -> int:
    server: FakeMastodon = served.truth.__self__  # type: ignore[attr-defined]
    edited = sum(1 for s in server.by_id.values() if len(s.revisions) > 1)
    threads = sum(1 for s in server.statuses if any(r.in_reply_to == s.id for r in server.replies[s.id]))
    return 1 + len(server.statuses) // 40 + 1 + threads + edited


SPEC = BenchSpec("mastodon", "@cityofspringfield@mastodon.example", serve, minimum)

if __name__ == "__main__":
    main(SPEC, __doc__)
