"""RSS 2.0 and Atom feeds: agency news, blogs, YouTube channel feeds."""

from connectors.rss.client import RssConnector

__all__ = ["RssConnector"]
