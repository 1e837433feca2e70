"""Which threads a harvest re-listed, so that only their missing replies are looked up.

A reply missing from a complete listing is a suspect only if its thread was re-listed in the
same harvest (older threads are re-listed by the full sweep): otherwise its absence says
nothing. A missing reply's thread is found up its parent chain, through replies seen in this
harvest or other missing replies.

    >>> from connectors.base import ItemRef
    >>> seen = ListedThreads()
    >>> seen.listed("t1", ["r1", "r2"])
    >>> refs = [ItemRef("r9", "reply", None, None, "r8"), ItemRef("r8", "reply", None, None, "r1")]
    >>> [seen.covers(ref, refs) for ref in refs], seen.covers(ItemRef("x", "comment", None, None, "t2"), refs)
    ([True, True], False)
"""

from __future__ import annotations

from collections.abc import Iterable

from connectors.base import ItemRef


class ListedThreads:
    def __init__(self) -> None:
        self.roots: set[str] = set()
        self.thread_of: dict[str, str] = {}

    def listed(self, root: str, replies: Iterable[str] = ()) -> None:
        self.roots.add(root)
        self.thread_of.update((reply, root) for reply in replies)

    def covers(self, ref: ItemRef, suspects: list[ItemRef]) -> bool:
        """Whether this harvest re-listed the thread ``ref`` belongs to (a post: always)."""
        if ref.kind == "post":
            return True
        parents = {s.platform_id: s.parent_id for s in suspects}
        parent, seen = ref.parent_id, set()
        while parent is not None and parent not in self.roots and parent not in seen:
            seen.add(parent)
            if parent in self.thread_of:
                return True
            parent = parents.get(parent)
        return parent in self.roots
