"""Platform connectors, one package per platform, found by the account's ``platform`` key.

The registry imports a connector only when it is first asked for, so that the core (which
the connectors themselves use) can import ``connectors.base`` without pulling every platform in.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib import import_module

from connectors.base import Connector

CONNECTORS = {
    "rss": "connectors.rss.client:RssConnector",
    "facebook": "connectors.facebook.client:FacebookConnector",
    "instagram": "connectors.instagram.client:InstagramConnector",
    "x": "connectors.x.client:XConnector",
    "youtube": "connectors.youtube.client:YouTubeConnector",
    "threads": "connectors.threads.client:ThreadsConnector",
    "mastodon": "connectors.mastodon.client:MastodonConnector",
    "bluesky": "connectors.bluesky.client:BlueskyConnector",
    "linkedin": "connectors.linkedin.client:LinkedInConnector",
}


class _Registry(Mapping[str, type[Connector]]):
    def __init__(self, paths: dict[str, str]):
        self._paths = paths
        self._loaded: dict[str, type[Connector]] = {}

    def __getitem__(self, platform: str) -> type[Connector]:
        if platform not in self._loaded:
            module, _, name = self._paths[platform].partition(":")
            self._loaded[platform] = getattr(import_module(module), name)
        return self._loaded[platform]

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


registry: Mapping[str, type[Connector]] = _Registry(CONNECTORS)

__all__ = ["Connector", "registry"]
