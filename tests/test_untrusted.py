"""Untrusted payload fields: the type asked for or a Malformed naming the field; one object's
problem stays that object's; whatever comes back can be hashed and stored."""

from __future__ import annotations

import doctest
import json
from datetime import UTC, datetime

import pytest

import connectors.untrusted as untrusted
from connectors.base import Observation
from connectors.untrusted import Fields, Malformed, clean, each, isolated


def test_accessors_give_the_type_asked_for_or_name_the_field() -> None:
    node = Fields({"id": 17841400000000001, "message": "Road closed", "n": 3, "hidden": True,
                   "at": "2021-07-09T19:09:52+0000", "naive": "2021-07-09T19:09:52", "from": {"name": 5},
                   "tags": ["a", {"b": None}], "likes": "12", "nothing": None})
    assert node.identifier() == "17841400000000001"
    assert node.text("message") == "Road closed" and node.text("missing") is None and node.text("nothing") is None
    assert node.integer("n") == 3 and node.flag("hidden") is True and node.flag("missing") is False
    assert node.timestamp("at") == datetime(2021, 7, 9, 19, 9, 52, tzinfo=UTC)
    assert node.timestamp("naive") == datetime(2021, 7, 9, 19, 9, 52, tzinfo=UTC)  # no offset: UTC
    assert node.count("likes") is None and node.count("n") == 3  # counters are lenient
    assert node.value("tags") == ["a", {"b": None}] and node.mapping("missing").raw == {}
    assert node.array("missing") == []
    for call, message in [
        (lambda: node.text("n"), "n: expected text, got a number"),
        (lambda: node.mapping("from").text("name"), "from.name: expected text, got a number"),
        (lambda: node.array("message"), "message: expected a list, got text"),
        (lambda: node.mapping("message"), "message: expected an object, got text"),
        (lambda: node.flag("n"), "n: expected true or false, got a number"),
        (lambda: node.integer("hidden"), "hidden: expected a whole number, got true/false"),
        (lambda: node.timestamp("message"), "message: expected a time (ISO 8601), got text"),
        (lambda: node.identifier("missing"), "missing: expected an identifier, got nothing"),
        (lambda: node.identifier("from"), "from: expected an identifier (text or a whole number), got an object"),
        (lambda: node.text("missing", required=True), "missing: expected text, got nothing"),
    ]:
        with pytest.raises(Malformed) as caught:
            call()
        assert str(caught.value) == message
    assert Fields({"t": 1_700_000_000_000}).timestamp("t", epoch="ms") == datetime(2023, 11, 14, 22, 13, 20,
                                                                                   tzinfo=UTC)
    with pytest.raises(Malformed):
        Fields({"t": "9999-12-31T23:59:59-2359"}).timestamp("t")  # beyond what UTC can hold


def test_whatever_comes_back_can_be_stored_and_hashed() -> None:
    nasty = json.loads('{"a": "nul\\u0000 and \\ud800 lone", "b": [NaN, Infinity, 1e400], "c": {"d": "\\udfff"}}')
    cleaned = clean(nasty)
    encoded = json.dumps(cleaned, ensure_ascii=False, allow_nan=False).encode("utf-8")
    assert b"\\u0000" not in encoded and "\ufffd" in cleaned["a"] and cleaned["b"] == ["nan", "inf", "inf"]
    deep: object = "leaf"
    for _ in range(200):
        deep = [deep]
    with pytest.raises(Malformed, match="at most 64 levels of nesting"):
        Fields({"deep": deep}).value("deep")
    assert Fields({"id": "x\x00y"}).identifier() == "x\ufffdy"
    with pytest.raises(Malformed):
        Fields({"id": "9" * 5000}).identifier()


def _post(node: Fields) -> list[Observation]:
    return [Observation(node.identifier(), "post", {"message": node.text("message")})]


def test_one_malformed_object_is_one_problem_observation() -> None:
    listing = [{"id": 1, "message": "fine"}, {"id": "2", "message": {"x": 1}}, "not an object",
               {"id": {"no": "id"}, "message": "lost"}, {"id": 5, "message": "also fine"}]
    found = each(_post, listing, kind="post", where="data")
    assert [(o.platform_id, o.problem) for o in found] == [
        ("1", None),
        ("2", "post 2 (data[1]): message: expected text, got an object"),
        ("", "post (data[2]): data[2]: expected an object, got text"),
        ("", "post (data[3]): id: expected an identifier (text or a whole number), got an object"),
        ("5", None),
    ]
    assert all(o.content == {} for o in found if o.problem)


def test_a_parser_defect_is_a_problem_live_and_raised_when_strict() -> None:
    def defective(node: Fields) -> list[Observation]:
        return [Observation(node.identifier(), "post", {}, text=" ".join([node.raw["message"]]))]

    [found] = isolated(defective, {"id": 9, "message": 4}, kind="post", where="data[0]")
    assert found.platform_id == "9" and found.problem is not None and "TypeError" in found.problem
    with untrusted.strict(), pytest.raises(TypeError):
        isolated(defective, {"id": 9, "message": 4}, kind="post")


def test_docstring_examples() -> None:
    result = doctest.testmod(untrusted)
    assert result.attempted > 0 and result.failed == 0
