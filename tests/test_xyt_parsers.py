"""The X and YouTube parsers on the recorded samples (tests/fixtures/x|youtube, each parsed as the
answer to the URL urls.json names), on lookups, and on payloads with wrong types."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pytest

from conftest import FIXTURES, Workspace
from connectors.base import CapturedResponse, Headers, VersionState
from connectors.x import parser as x_parser
from connectors.youtube import parser as yt_parser
from xyt_helpers import sample


@pytest.mark.parametrize("platform", ["x", "youtube"])
def test_every_sample_parses_without_error(platform: str) -> None:
    parse = {"x": x_parser.parse, "youtube": yt_parser.parse}[platform]
    urls = json.loads((FIXTURES / platform / "urls.json").read_text())
    assert urls and all((FIXTURES / platform / name).exists() for name in urls)
    for name in urls:
        status = 200 if not name.startswith(("observed_", "docs_429", "pyyoutube_error")) else 400
        for observation in parse(sample(platform, name, status)):
            assert observation.platform_id and observation.kind


def test_x_listings_replies_and_history() -> None:
    posts = x_parser.parse(sample("x", "tweepy_users_tweets_783214.json"))
    assert [(o.kind, o.state_only) for o in posts] == [("post", False), ("post", False)]
    assert posts[0].content["edit_history_tweet_ids"] == ["1577730467436138524"]
    metrics = x_parser.parse(sample("x", "pytwitter_users_tweets_public_metrics.json"))
    assert metrics[0].metrics == {"retweet_count": 10, "reply_count": 2, "like_count": 37, "quote_count": 1}
    assert "public_metrics" not in metrics[0].content
    replies = {o.platform_id: o for o in x_parser.parse(sample("x", "pytwitter_search_recent_includes_replies.json"))}
    reply = replies["1276035977375477760"]
    assert (reply.kind, reply.parent_id, reply.author) == ("reply", "1275653067283759104",
                                                         "Emily Waligoske 🏕 (@happycamper)")
    assert reply.content["author"]["username"] == "happycamper" and reply.url.startswith("https://x.com/happycamper/")
    assert replies["1275653067283759104"].parent_id == "1274086728471461889"
    looked = x_parser.parse(sample("x", "pytwitter_tweets_lookup_users_include.json"))
    assert [o.author for o in looked] == ["Twitter Dev (@TwitterDev)", "Twitter (@Twitter)"]
    edited = x_parser.parse(sample("x", "docs_edit_controls_example.json"))
    assert [(o.platform_id, o.content["version_id"], o.posted_at) for o in edited] == [("1234567890", "1234567891",
                                                                                         None)]
    assert edited[0].metrics["edit_edits_remaining"] == 3


def _lookup(url: str, body: object, lookup: str, status: int = 200) -> CapturedResponse:
    return CapturedResponse(url, status, Headers([]), json.dumps(body).encode(), datetime.now(UTC), lookup)


def test_x_lookups_delete_only_on_not_found() -> None:
    body = {"data": [{"id": "3", "text": "still here", "edit_history_tweet_ids": ["1", "3"]}],
            "errors": [{"value": "2", "title": "Not Found Error", "type": x_parser.NOT_FOUND},
                       {"value": "4", "title": "Authorization Error", "type": x_parser.NOT_AUTHORIZED},
                       {"value": "5", "title": "Internal", "type": "about:blank"}]}
    found = {o.platform_id: o for o in x_parser.parse(_lookup("https://api.x.com/2/tweets?ids=1,2,4,5", body,
                                                               "1,2,4,5"))}
    assert found["1"].state_only and found["1"].state is VersionState.VISIBLE
    assert found["2"].state is VersionState.DELETED
    assert found["4"].state is VersionState.UNAVAILABLE and found["4"].state_only
    assert "5" not in found  # an error that is not "not found" decides nothing
    assert x_parser.parse(_lookup("https://api.x.com/2/tweets?ids=2", {"title": "Unauthorized"}, "2", 401)) == []


def test_youtube_threads_replies_videos_and_lookups() -> None:
    threads = yt_parser.parse(sample("youtube", "pyyoutube_commentThreads_by_video_page1.json"))
    assert {o.kind for o in threads} == {"comment"} and all(o.parent_id == "F1UP7wRCPH8" for o in threads)
    assert threads[0].content["textOriginal"] == "Google.com" and threads[0].metrics == {"likes": 0, "replies": 0}
    replies = yt_parser.parse(sample("youtube", "pyyoutube_comments_by_parent_page1.json"))
    assert [(o.kind, o.parent_id) for o in replies] == [("reply", "Ugw5zYU6n9pmIgAZWvN4AaABAg")] * 2
    [video] = yt_parser.parse(sample("youtube", "pyyoutube_videos_list_single.json"))
    assert (video.kind, video.platform_id, video.state) == ("post", "D-lhorsDlUQ", VersionState.VISIBLE)
    assert video.media_urls[0].endswith("maxresdefault.jpg") and "Actions on Google" in video.text
    profiles = yt_parser.parse(sample("youtube", "pyyoutube_channels_list_contentDetails_uploads.json"))
    assert [p.content["uploads"] for p in profiles] == ["UUK8sQmJBp8GCxrOtXWBpyEA", "UU_x5XG1OV2P6uZZ5FSM9Ttw"]
    assert yt_parser.parse(sample("youtube", "pyyoutube_playlistItems_page1.json")) == []
    url = "https://www.googleapis.com/youtube/v3/videos?part=snippet,status&id=a,b"
    body = {"items": [{"id": "a", "status": {"privacyStatus": "private"}}]}
    found = {o.platform_id: o.state for o in yt_parser.parse(_lookup(url, body, "a,b"))}
    assert found == {"a": VersionState.UNAVAILABLE, "b": VersionState.DELETED}
    assert yt_parser.parse(_lookup(url, json.loads((FIXTURES / "youtube" / "observed_403_quotaExceeded.json")
                                                   .read_text()), "a,b", 403)) == []


def test_wrong_types_leave_out_one_object_not_the_page() -> None:
    page = json.loads((FIXTURES / "youtube" / "pyyoutube_commentThreads_by_video_page1.json").read_text())
    page["items"][0]["snippet"] = "oops"
    page["items"][1]["snippet"]["topLevelComment"]["snippet"]["likeCount"] = "many"
    response = CapturedResponse(sample("youtube", "pyyoutube_commentThreads_by_video_page1.json").url, 200,
                                Headers([]), json.dumps(page).encode(), datetime.now(UTC))
    assert len(yt_parser.parse(response)) == len(page["items"]) - 1
    tweets = json.loads((FIXTURES / "x" / "pytwitter_search_recent_includes_replies.json").read_text())
    tweets["data"][0]["id"] = 12
    tweets["data"][1]["created_at"] = 1590000000
    tweets["includes"]["users"] = "none"
    response = CapturedResponse(sample("x", "pytwitter_search_recent_includes_replies.json").url, 200, Headers([]),
                                json.dumps(tweets).encode(), datetime.now(UTC))
    assert len(x_parser.parse(response)) == 3


def test_check_config_explains_ids_and_credentials(workspace: Workspace) -> None:
    workspace.accounts.append('name = "city-x"\nplatform = "x"\nid = "cityofspringfield"')
    workspace.accounts.append('name = "city-yt"\nplatform = "youtube"\nid = "springfield"')
    result = workspace.cli("check-config")
    assert result.code == 2
    assert "numeric X user id" in result.err and "bearer_token_env: missing" in result.err
    assert "channel id" in result.err and "api_key_env: missing" in result.err


def _mutations(value: object, rng: random.Random) -> object:
    """One random damage to a JSON value: a type swapped, a field dropped or nulled, a huge string."""
    if isinstance(value, dict) and value:
        key = rng.choice(list(value))
        damaged = dict(value)
        choice = rng.randrange(5)
        if choice == 0:
            del damaged[key]
        elif choice == 1:
            damaged[key] = None
        elif choice == 2:
            damaged[key] = rng.choice([7, "x" * 5000, [], {}, True, 1.5])
        else:
            damaged[key] = _mutations(value[key], rng)
        return damaged
    if isinstance(value, list) and value:
        index = rng.randrange(len(value))
        return [*value[:index], _mutations(value[index], rng), *value[index + 1:]]
    return rng.choice([None, 0, "", [], {}, "\udcff" * 3, -1])


@pytest.mark.parametrize("platform", ["x", "youtube"])
def test_damaged_samples_never_crash_a_parser(platform: str) -> None:
    parse = {"x": x_parser.parse, "youtube": yt_parser.parse}[platform]
    urls = json.loads((FIXTURES / platform / "urls.json").read_text())
    rng = random.Random(13)
    cases = 0
    for name, url in urls.items():
        if not name.endswith(".json"):
            continue  # WebSub pushes are Atom, fuzzed by tests/test_fuzz.py
        original = json.loads((FIXTURES / platform / name).read_text())
        for _ in range(40):
            damaged = original
            for _ in range(rng.randrange(1, 4)):
                damaged = _mutations(damaged, rng)
            body = json.dumps(damaged, ensure_ascii=False).encode("utf-8", "surrogatepass")
            for lookup in (None, "1,2"):
                parse(CapturedResponse(url, 200, Headers([]), body, datetime.now(UTC), lookup))
                cases += 1
        parse(CapturedResponse(url, 200, Headers([]), b'{"data": [' * 5000, datetime.now(UTC)))
    assert cases >= 800
