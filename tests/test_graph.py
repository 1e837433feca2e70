"""The Graph API pieces on the recorded payloads: errors classified by code, throttling waits as
the headers say, and the Facebook parser on real feed, comment and webhook shapes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from conftest import FIXTURES
from connectors.base import CapturedResponse, HarvestError, Headers, VersionState
from connectors.facebook.parser import parse
from connectors.graph.errors import GraphError
from connectors.graph.objects import WEBHOOK_PREFIX
from connectors.graph.throttle import Throttle, Usage

GRAPH = "https://graph.facebook.com/v26.0"


def _response(name: str, url: str, status: int = 200, lookup: str | None = None) -> CapturedResponse:
    body = (FIXTURES / "facebook" / name).read_bytes()
    return CapturedResponse(url, status, Headers([("Content-Type", "application/json")]), body, datetime.now(UTC),
                            lookup=lookup)


@pytest.mark.parametrize(("name", "kind", "says"), [
    ("error_190_463_token_expired.json", "token", "the token has expired"),
    ("error_190_460_session_invalid.json", "token", "invalidated"),
    ("error_4_application_request_limit.json", "quota", "request limit"),
    ("pyfacebook_error_100_permission.json", "permission", "lacks pages_read_engagement"),
    ("pyfacebook_error_100_appsecret_proof.json", "platform", "app secret proof"),
])
def test_errors_are_classified_by_code(name: str, kind: str, says: str) -> None:
    error = GraphError.of(_response(name, f"{GRAPH}/1/feed", 400))
    assert error is not None and error.kind == kind
    assert says in error.describe("/1/feed")


def test_throttling_waits_as_the_headers_say_then_gives_up() -> None:
    slept: list[float] = []
    told: list[tuple[str, datetime]] = []
    throttle = Throttle(slowdown_at=75, pace_seconds=4, backoff_seconds=10, max_wait_seconds=800,
                        on_wait=lambda why, until: told.append((why, until)), sleep=slept.append)
    error = GraphError(80001, None, "(#80001) There have been too many calls to this Page account.")
    headers = {"X-Business-Use-Case-Usage": json.dumps({"1": [{"type": "pages", "call_count": 100,
                                                              "estimated_time_to_regain_access": 7}]})}
    throttle.wait_out(error, headers, "/1/feed")
    assert slept == [420.0] and "80001" in told[0][0]
    assert told[0][1] - datetime.now(UTC) > timedelta(seconds=400)  # until when
    throttle.wait_out(error, {}, "/1/feed")  # no estimate: exponential backoff
    assert slept[-1] == 20.0
    with pytest.raises(HarvestError) as stopped:
        throttle.wait_out(error, headers, "/1/feed")  # 420 more would pass the 800 s allowed
    assert stopped.value.cause == "quota"
    throttle.observe({"X-App-Usage": '{"call_count":95,"total_cputime":10,"total_time":40}'})
    throttle.pace()
    assert slept[-1] == pytest.approx(4 * 20 / 25)
    assert Usage.of({"X-App-Usage": "not json"}).percent == 0


def test_feed_comments_and_time_pages_parse() -> None:
    feed = parse(_response("pyfacebook_page_feed_p1_attachments.json", f"{GRAPH}/19292868552/feed?fields=id"))
    first = feed[0]
    assert first.kind == "post" and first.metrics["reactions"] == 125 and first.metrics["shares"] == 10
    assert "oe=" not in first.content["full_picture"] and any("oe=" in u for u in first.media_urls)
    assert "updated_time" not in first.content  # it moves with every comment: a metric
    comments = parse(_response("pyfacebook_post_comments_p1_stream.json",
                               f"{GRAPH}/19292868552_10158407654328553/comments?filter=stream"))
    reply = next(o for o in comments if o.platform_id == "10158407654328553_10158409983033553")
    assert reply.kind == "reply" and reply.parent_id == "10158407654328553_10158407903973553"
    assert "derived from permalink_url" in reply.content["id_source"]
    top = next(o for o in comments if o.platform_id == "10158407654328553_10158407835073553")
    assert top.kind == "comment" and top.parent_id == "19292868552_10158407654328553"
    timed = parse(_response("pyfacebook_posts_timepaging_p1.json", f"{GRAPH}/4/posts?fields=id"))
    assert [o.kind for o in timed] == ["post"] * 5


def test_webhook_deliveries_and_lookups_parse() -> None:
    removed = parse(_response("webhook_feed_post_remove.json", WEBHOOK_PREFIX + "x"))
    assert [(o.platform_id, o.state) for o in removed] == [("110322572167401_122141710964024251",
                                                           VersionState.DELETED)]
    entry = json.loads((FIXTURES / "facebook" / "webhook_feed_comment_hide_entry.json").read_text())
    hidden = parse(CapturedResponse(WEBHOOK_PREFIX + "y", 200, Headers([]), json.dumps(
        {"object": "page", "entry": [entry]}).encode(), datetime.now(UTC)))
    assert [(o.platform_id, o.state, o.state_only) for o in hidden] == [
        ("331881159596299_1735528193537632", VersionState.HIDDEN, True)]
    added = parse(_response("webhook_feed_comment_add.json", WEBHOOK_PREFIX + "z"))
    assert added == []  # an added comment is re-fetched, not guessed from the event
    gone = CapturedResponse(f"{GRAPH}/1_2?fields=id,parent{{id}}", 400, Headers([]), json.dumps(
        {"error": {"message": "Unsupported get request.", "type": "GraphMethodException", "code": 100,
                   "error_subcode": 33}}).encode(), datetime.now(UTC), lookup="1_2")
    assert [(o.kind, o.state) for o in parse(gone)] == [("comment", VersionState.DELETED)]
    denied = parse(_response("pyfacebook_error_100_permission.json", f"{GRAPH}/1_2?fields=id", 400, lookup="1_2"))
    assert denied == []  # a permission error says nothing about the item
