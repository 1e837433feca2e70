"""Secrets are replaced wherever they occur and in whatever encoding they take."""

from __future__ import annotations

import json
from urllib.parse import quote

from archiver.capture.redact import MARKER, Redactions, Redactor

SECRET = "EAAB/x+y=z9token"


def test_known_secret_in_every_encoding() -> None:
    redactor = Redactor([SECRET])
    for form in (SECRET, quote(SECRET, safe=""), json.dumps(SECRET)[1:-1].replace("/", "\\/")):
        body, hits = redactor.body(f'{{"next": "https://x/?a=1&tok={form}"}}'.encode())
        assert hits == 1 and SECRET.encode() not in body and form.encode() not in body


def test_credential_parameters_from_other_sources() -> None:
    redactor = Redactor()
    body, hits = redactor.body(b'{"next":"https://graph.facebook.com/v26.0/1/feed?access_token=OTHERTOKEN&after=Q"}')
    assert hits == 1 and b"OTHERTOKEN" not in body and b"after=Q" in body
    # A city's own link with a harmless "key=" parameter is content, not a credential.
    body, hits = redactor.body(b'<a href="https://example.gov/map?key=zoning">map</a>')
    assert hits == 0


def test_urls_headers_and_log_text() -> None:
    redactor = Redactor([SECRET])
    url, changed = redactor.url(f"https://user:pw@api.example/v1/feed?api_key={quote(SECRET)}&page=2")
    assert changed and SECRET not in url and "pw" not in url and f"api_key={MARKER}" in url and "page=2" in url
    notes = Redactions()
    headers = redactor.headers([("Authorization", "Bearer abc"), ("X-Custom", f"v={SECRET}"), ("Accept", "*/*")],
                               notes)
    assert headers == [("Authorization", f"Bearer {MARKER}"), ("X-Custom", f"v={MARKER}"), ("Accept", "*/*")]
    assert notes.header_value() == "header:Authorization; header:X-Custom"
    assert SECRET not in redactor.text(f"could not connect to https://x/?token={SECRET}")


def test_credentials_in_json_token_answers_are_masked() -> None:
    """An OAuth token endpoint answers with fresh credentials nobody knew before: masked by name."""
    from archiver.capture.redact import Redactor

    body = b'{\n  "access_token": "ya29.a0AfB_fresh", "expires_in": 3599,\n  "refresh_token" : "1//0g-new",' \
           b' "token_type": "Bearer", "scope": "https://www.googleapis.com/auth/youtube.force-ssl"}'
    cleaned, hits = Redactor().body(body)
    assert hits == 2 and b"ya29" not in cleaned and b"1//0g" not in cleaned
    assert b'"access_token": "REDACTED"' in cleaned and b'"token_type": "Bearer"' in cleaned


def test_credential_parameters_in_any_case_and_separator() -> None:
    """The quick check that skips most pages must not skip these: the parameter names match in
    any letter case, after ``?``, ``&``, ``&amp;``, ``;`` or ``\\u0026``."""
    redactor = Redactor()
    page = (b'<a href="https://x/?ACCESS_TOKEN=AAA1">a</a> <a href="https://x/?a=1&amp;Id_Token=BBB2">b</a> '
            b'{"u": "https://x/?a=1\\u0026X-Amz-Signature=CCC3"} https://x/p;Client_Secret=DDD4')
    body, hits = redactor.body(page)
    assert hits == 4 and not any(secret in body for secret in (b"AAA1", b"BBB2", b"CCC3", b"DDD4"))
    body, hits = redactor.body(b"<p>access token: the page explains how to get one</p>")
    assert hits == 0 and body == b"<p>access token: the page explains how to get one</p>"
