"""Platform connectors, one package per platform, found by the account's ``platform`` key."""

from __future__ import annotations

from connectors.base import Connector
from connectors.rss import RssConnector

registry: dict[str, type[Connector]] = {
    connector.platform: connector for connector in (RssConnector,)
}

__all__ = ["Connector", "registry"]
