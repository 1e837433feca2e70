"""The runnable examples in the docstrings of the Threads, Mastodon, Bluesky and LinkedIn modules
and their shared pieces (paginators, rate limits, listed threads, URL helpers)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ("connectors.ratelimit", "connectors.paging", "connectors.listed", "connectors.mastodon.paging",
           "connectors.mastodon.parser", "connectors.mastodon.client", "connectors.bluesky.paging",
           "connectors.bluesky.parser", "connectors.linkedin.paging", "connectors.linkedin.parser",
           "connectors.linkedin.client")


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
