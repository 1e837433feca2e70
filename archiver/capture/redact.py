"""Keeping secrets out of records (invariant 2).

Access tokens, app secrets, API keys, cookies and signatures are replaced by a fixed marker in
request and response records, in target URIs and in anything exported. Two nets catch them:
the exact values the archiver itself holds (from the environment), wherever they occur and in
whatever encoding, and well-known parameter and header names whose value is a credential
whoever issued it (a Graph API ``paging.next`` URL carries the access token, for example).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

MARKER = "REDACTED"

# Names whose value is a credential in the URLs the archiver sends.
SECRET_PARAMS = frozenset(
    {
        "access_token", "appsecret_proof", "client_secret", "api_key", "apikey", "key", "token",
        "refresh_token", "id_token", "password", "signature", "sig", "x-amz-signature",
        "x-amz-credential", "x-amz-security-token", "hub.verify_token",
    }
)
# The subset that is unambiguous inside page content too (a city's own link may use "key=").
_BODY_PARAMS = (
    "access_token", "appsecret_proof", "client_secret", "refresh_token", "id_token",
    "x-amz-signature", "x-amz-credential", "x-amz-security-token",
)
_BODY_NEEDLES = tuple(f"{name}=".encode() for name in _BODY_PARAMS)  # what _PARAM_IN_TEXT needs to match
SECRET_HEADERS = frozenset(
    {
        "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key",
        "x-goog-api-key", "x-amz-security-token", "x-hub-signature", "x-hub-signature-256",
    }
)
# Credentials by name in JSON (an OAuth token endpoint's answer holds fresh ones nobody knew before).
_JSON_CREDENTIAL = re.compile(rb'("(?:access_token|refresh_token|id_token|client_secret)"\s*:\s*")([^"\\]+)(")')
_PARAM_IN_TEXT = re.compile(
    r"(?i)((?:[?&;]|\\u0026|&amp;)(?:" + "|".join(re.escape(p) for p in _BODY_PARAMS) + r")=)"
    r"([^&\"'\s<>\\]+)"
)
# The same, over bytes (the whitespace set spelled out, as str patterns see it in latin-1 text).
_PARAM_IN_BYTES = re.compile(
    rb"(?i)((?:[?&;]|\\u0026|&amp;)(?:" + b"|".join(re.escape(p.encode()) for p in _BODY_PARAMS) + rb")=)"
    rb"([^&\"'\s\x1c-\x1f\x85\xa0<>\\]+)"
)
_VALUE_END = re.compile(rb"[&\"'\s\x1c-\x1f\x85\xa0<>\\]")
_PARAM_HINTS = (b"token=", b"_proof=", b"_secret=", b"-signature=", b"-credential=")


@dataclass
class Redactions:
    """What was removed from one record, for the record's own header."""

    places: list[str] = field(default_factory=list)

    def note(self, place: str) -> None:
        if place not in self.places:
            self.places.append(place)

    def __bool__(self) -> bool:
        return bool(self.places)

    def header_value(self) -> str:
        return "; ".join(self.places)


def _variants(secret: str) -> set[str]:
    """The forms a secret takes inside URLs, form bodies and JSON strings."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
    forms.add(json.dumps(secret)[1:-1].replace("/", "\\/"))
    return {form for form in forms if form}


class Redactor:
    """Replaces secrets by ``MARKER``.

    >>> r = Redactor(["s3cr3t-T0KEN"])
    >>> r.url("https://graph.example/v26.0/1/feed?after=A&access_token=s3cr3t-T0KEN")[0]
    'https://graph.example/v26.0/1/feed?after=A&access_token=REDACTED'
    >>> r.body(b'{"next":"https://x/?a=1&access_token=s3cr3t-T0KEN"}')[0]
    b'{"next":"https://x/?a=1&access_token=REDACTED"}'
    """

    def __init__(self, secrets: Iterable[str] = ()):
        values = {s for s in secrets if s and len(s) >= 4}
        self._needles = sorted(
            {form.encode() for value in values for form in _variants(value)}, key=len, reverse=True
        )

    def add_secret(self, secret: str) -> None:
        if secret and len(secret) >= 4:
            needles = {form.encode() for form in _variants(secret)} | set(self._needles)
            self._needles = sorted(needles, key=len, reverse=True)

    def _known(self, data: bytes) -> tuple[bytes, int]:
        count = 0
        for needle in self._needles:
            if needle in data:
                count += data.count(needle)
                data = data.replace(needle, MARKER.encode())
        return data, count

    def url(self, url: str) -> tuple[str, bool]:
        """The URL with secret query values replaced; True if anything changed."""
        parts = urlsplit(url)
        changed = False
        if parts.query:
            pairs = parse_qsl(parts.query, keep_blank_values=True)
            cleaned = []
            for name, value in pairs:
                if name.lower() in SECRET_PARAMS and value and value != MARKER:
                    value, changed = MARKER, True
                cleaned.append((name, value))
            if changed:
                parts = parts._replace(query=urlencode(cleaned, safe=":/,"))
        if parts.username or parts.password:
            parts = parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else ""))
            changed = True
        result = urlunsplit(parts)
        scrubbed, count = self._known(result.encode())
        return scrubbed.decode(), changed or count > 0

    def headers(self, headers: list[tuple[str, str]], redactions: Redactions) -> list[tuple[str, str]]:
        cleaned = []
        for name, value in headers:
            if name.lower() in SECRET_HEADERS and value:
                scheme = value.split(" ", 1)[0] if name.lower() == "authorization" and " " in value else ""
                value = f"{scheme} {MARKER}".strip()
                redactions.note(f"header:{name}")
            else:
                scrubbed, count = self._known(value.encode("latin-1", "replace"))
                if count:
                    value = scrubbed.decode("latin-1")
                    redactions.note(f"header:{name}")
            cleaned.append((name, value))
        return cleaned

    def body(self, data: bytes) -> tuple[bytes, int]:
        """The body with known secrets and credential-named URL parameters replaced."""
        data, count = self._known(data)
        if b'_token"' in data or b'client_secret"' in data:
            masked = 0

            def mask(match: re.Match[bytes]) -> bytes:
                nonlocal masked
                if match.group(2) == MARKER.encode():
                    return match.group(0)
                masked += 1
                return match.group(1) + MARKER.encode() + match.group(3)

            data = _JSON_CREDENTIAL.sub(mask, data)
            count += masked
        if b"=" not in data:
            return data, count
        lowered = data.lower()  # the pattern ignores case; in latin-1 only A-Z fold onto its names
        if not any(name in lowered for name in _BODY_NEEDLES):  # a tenth of the pattern's time on a page
            return data, count
        hits = 0

        def swap(match: re.Match[str]) -> str:
            nonlocal hits
            if match.group(2) == MARKER:
                return match.group(0)
            hits += 1
            return match.group(1) + MARKER

        text = _PARAM_IN_TEXT.sub(swap, data.decode("latin-1"))
        return (text.encode("latin-1") if hits else data), count + hits

    def text(self, text: str) -> str:
        """For log lines and exports: every known secret and credential parameter masked."""
        data, _ = self.body(text.encode("utf-8", "surrogateescape"))
        return data.decode("utf-8", "surrogateescape")


class StreamRedactor:
    """``Redactor.body`` over a body too large to hold, a window at a time; what ``feed`` returns is final.

    A window keeps back enough bytes that no secret or credential parameter can straddle the cut
    unseen; a credential value still running at the end of a window is dropped up to its end in
    the next one. ``hits`` counts what was replaced, so a scan that throws the output away tells
    whether a body needs redacting at all.

    >>> stream = StreamRedactor(Redactor(["s3cr3t-T0KEN"]))
    >>> parts = [stream.feed(b"x" * 5000 + b"&access_token=ab"), stream.feed(b"cd&n=1 s3cr3t"),
    ...          stream.feed(b"-T0KEN end"), stream.finish()]
    >>> b"".join(parts)[4990:], stream.hits
    (b'xxxxxxxxxx&access_token=REDACTED&n=1 REDACTED end', 2)
    """

    def __init__(self, redactor: Redactor):
        self._needles = redactor._needles
        self._hold = max([64, *(len(n) for n in self._needles)])  # longer than any needle or parameter name
        self._pending = b""
        self._skipping = False  # inside a credential value that ran past the last window
        self.hits = 0

    def feed(self, data: bytes) -> bytes:
        self._pending += data
        return self._drain(final=False)

    def finish(self) -> bytes:
        return self._drain(final=True)

    def _drain(self, final: bool) -> bytes:
        buffer, self._pending = self._pending, b""
        if self._skipping:
            end = _VALUE_END.search(buffer)
            if end is None:
                return b""
            buffer, self._skipping = buffer[end.start():], False
        cut = len(buffer) if final else len(buffer) - self._hold
        if cut <= 0:
            self._pending = buffer
            return b""
        out, position = [], 0
        for start, end, replacement in self._matches(buffer):
            if start >= cut:
                break
            if start < position:
                continue
            out += [buffer[position:start], replacement]
            self.hits += 1
            position = end
            if end == len(buffer) and replacement != MARKER.encode() and not final:
                self._skipping = True  # the value goes on in the next window
                return b"".join(out)
        out.append(buffer[position:max(position, cut)])
        self._pending = buffer[max(position, cut):]
        return b"".join(out)

    def _matches(self, buffer: bytes) -> list[tuple[int, int, bytes]]:
        found = []
        for needle in self._needles:
            start = buffer.find(needle)
            while start >= 0:
                found.append((start, start + len(needle), MARKER.encode()))
                start = buffer.find(needle, start + len(needle))
        lowered = buffer.lower()
        if any(hint in lowered for hint in _PARAM_HINTS):
            found += [(m.start(), m.end(), m.group(1) + MARKER.encode())
                      for m in _PARAM_IN_BYTES.finditer(buffer) if m.group(2) != MARKER.encode()]
        return sorted(found, key=lambda match: (match[0], -match[1]))


class RedactingLogFilter(logging.Filter):
    """Masks secrets in every log line, ours and libraries' alike (urllib3 logs request URLs)."""

    def __init__(self) -> None:
        super().__init__()
        self.redactor = Redactor()

    def add_secrets(self, secrets: Iterable[str]) -> None:
        for secret in secrets:
            self.redactor.add_secret(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.redactor.text(message)
        if record.args or cleaned != message:
            record.msg, record.args = cleaned, None
        return True
