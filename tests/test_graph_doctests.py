"""The runnable examples in the Graph modules' docstrings (paginators, usage headers, URLs)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ("connectors.graph.paging", "connectors.graph.objects", "connectors.graph.throttle",
           "connectors.graph.client", "connectors.graph.fakeserver", "archiver.webhooks.meta")


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
