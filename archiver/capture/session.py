"""The recording HTTP session: every platform exchange becomes WARC request + response records.

Connectors get pages only through ``RecordingSession.get``, so nothing reaches them that is
not also in a WARC. Nothing process-wide is patched and no proxy is involved: the session
reads the response as urllib3 received it (status line, header lines in order, the body with
its content encoding intact) and writes it before the connector sees it.

Two things differ from the wire, and both are said in the record: a chunked body is stored
as a single chunk (the framing is transport, the headers and entity bytes are kept exactly),
and a body that carried a secret is stored decoded with the secret replaced
(``WARC-Archiver-Redacted``).
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import requests
import urllib3
from warcio.statusandheaders import StatusAndHeaders

from archiver import __version__
from archiver.capture.encoding import decode_content, rechunk
from archiver.capture.redact import Redactions, Redactor
from archiver.capture.warc import RecordRef, RevisitTarget, WarcFileWriter, parse_warc_date, warc_date
from connectors.base import CapturedResponse, Headers

REDACTED_HEADER = "WARC-Archiver-Redacted"
LOOKUP_HEADER = "WARC-Archiver-Lookup"  # the platform id of the item this exchange looked up
MAX_REDIRECTS = 5


class FetchFailed(Exception):
    """No response came back (timeout, refused, reset); the attempt is still in the WARC."""


@dataclass(frozen=True)
class Evidence:
    """The WARC records that hold one exchange."""

    warc_name: str
    response: RecordRef
    request: RecordRef | None
    payload_sha256: str  # hex SHA-256 of the entity body as stored


@dataclass(frozen=True)
class Exchange:
    response: CapturedResponse
    evidence: Evidence
    truncated: bool = False


WriterSource = Callable[[datetime], WarcFileWriter]
# Given the SHA-256 of a payload, the earlier record holding the same bytes, if any.
RevisitLookup = Callable[[str], RevisitTarget | None]


def _status_line(raw: object) -> str:
    version = {9: "HTTP/0.9", 10: "HTTP/1.0", 11: "HTTP/1.1", 20: "HTTP/2"}.get(getattr(raw, "version", 11), "HTTP/1.1")
    return f"{version} {getattr(raw, 'status', 0)} {getattr(raw, 'reason', '') or ''}".rstrip()


def _header_lines(raw: object) -> list[tuple[str, str]]:
    original = getattr(raw, "_original_response", None)  # http.client's message keeps order and case
    if original is not None and getattr(original, "msg", None) is not None:
        return [(name, value) for name, value in original.msg.items()]
    return list(getattr(raw, "headers", {}).items())


class RecordingSession:
    """Fetches URLs and archives each exchange before returning it.

    ``writer_for(moment)`` gives the WARC file to write to (the spool rolls files by month
    and size). ``authorize`` adds credentials to each request; they are redacted from the
    record like every other secret. ``on_exchange`` hears of each exchange once it is written.
    """

    def __init__(
        self,
        writer_for: WriterSource,
        redactor: Redactor,
        *,
        user_agent: str,
        timeout: float,
        authorize: Callable[[requests.PreparedRequest], None] | None = None,
        on_exchange: Callable[[Exchange], None] | None = None,
    ):
        self._writer_for = writer_for
        self.redactor = redactor
        self.timeout = timeout
        self.authorize = authorize
        self.on_exchange = on_exchange  # told of every archived exchange, redirects and retries too
        self._http = requests.Session()
        self._http.headers.update({"User-Agent": f"{user_agent} archiver/{__version__}",
                                   "Accept-Encoding": "gzip, deflate"})
        self._http.trust_env = False  # never route through proxies from the environment
        self.exchanges = 0

    def close(self) -> None:
        self._http.close()

    def get(
        self, url: str, *, params: dict[str, str] | None = None, headers: dict[str, str] | None = None,
        max_bytes: int | None = None, revisit: RevisitLookup | None = None, lookup: str | None = None,
    ) -> Exchange:
        """GET ``url``, following redirects hop by hop so every hop is archived.

        ``max_bytes`` caps the body (the record is then marked truncated); with ``revisit``, a
        payload already archived is written as a revisit record instead of a second copy.
        ``lookup`` marks a direct lookup of one item (its platform id), in the record and for the parser.
        """
        request = requests.Request("GET", url, params=params, headers=headers)
        for _ in range(MAX_REDIRECTS + 1):
            prepared = self._http.prepare_request(request)
            if self.authorize is not None:
                self.authorize(prepared)
            exchange = self._send(prepared, max_bytes, revisit, lookup)
            location = exchange.response.headers.get("location")
            if exchange.response.status not in (301, 302, 303, 307, 308) or not location:
                return exchange
            target = urljoin(prepared.url or url, location)
            same_host = urlsplit(target).netloc == urlsplit(prepared.url or url).netloc
            request = requests.Request("GET", target, headers=headers if same_host else None)
        raise FetchFailed(f"more than {MAX_REDIRECTS} redirects starting at {self.redactor.url(url)[0]}")

    def read_file(self, url: str) -> Exchange:
        """Archive a local file (``file:///…``) as a WARC resource record and return it like a response.

        For feeds that reach the agency as files (a CMS export, a vendor hand-over); the
        record's target URI is the file URL and its date the time it was read.
        """
        path = Path(unquote(urlsplit(url).path))
        moment = datetime.now(UTC)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise FetchFailed(f"cannot read {path}: {exc.strerror}") from None
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return self.record_resource(url, data, content_type, moment)

    def record_resource(self, uri: str, data: bytes, content_type: str, moment: datetime | None = None,
                        headers: dict[str, str] | None = None) -> Exchange:
        """Archive bytes that did not come from a request of ours (a file, a webhook delivery, a
        record of what the archiver concluded) as a WARC resource record, returned like a response.
        Known secrets are masked like in every other record."""
        moment = moment or datetime.now(UTC)
        data, hits = self.redactor.body(data)
        extra = {"WARC-Date": warc_date(moment), **(headers or {})}
        if hits:
            extra[REDACTED_HEADER] = f"body({hits})"
        writer = self._writer_for(moment)
        ref = writer.write_resource(uri, data, content_type, extra)
        captured = CapturedResponse(uri, 200, Headers([("Content-Type", content_type)]), data,
                                    parse_warc_date(extra["WARC-Date"]))
        exchange = Exchange(captured, Evidence(writer.path.name.removesuffix(".open"), ref, None,
                                               hashlib.sha256(data).hexdigest()))
        if self.on_exchange is not None:
            self.on_exchange(exchange)
        return exchange

    # The exchange -------------------------------------------------------------------------
    def _send(
        self, prepared: requests.PreparedRequest, max_bytes: int | None, revisit: RevisitLookup | None,
        lookup: str | None = None,
    ) -> Exchange:
        moment = datetime.now(UTC)
        try:
            response = self._http.send(prepared, stream=True, timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            self._record_failure(prepared, moment, exc)
            raise FetchFailed(self._describe(prepared, exc)) from None
        try:
            body, truncated = self._read(response, max_bytes)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            self._record_failure(prepared, moment, exc)
            raise FetchFailed(self._describe(prepared, exc)) from None
        finally:
            response.close()
        return self._record(prepared, response, body, truncated, moment, revisit, lookup)

    def _read(self, response: requests.Response, max_bytes: int | None) -> tuple[bytes, bool]:
        raw = response.raw
        if max_bytes is None:
            return raw.read(decode_content=False) or b"", False
        chunks, size = [], 0
        while size <= max_bytes:
            block = raw.read(min(1 << 20, max_bytes + 1 - size), decode_content=False)
            if not block:
                return b"".join(chunks), False
            chunks.append(block)
            size += len(block)
        return b"".join(chunks)[:max_bytes], True

    def _describe(self, prepared: requests.PreparedRequest, exc: Exception) -> str:
        url = self.redactor.url(prepared.url or "")[0]
        reason = {
            requests.ConnectTimeout: "timed out connecting to",
            requests.ReadTimeout: "timed out waiting for the response from",
            requests.ConnectionError: "could not connect to",
        }
        for kind, text in reason.items():
            if isinstance(exc, kind):
                return f"{text} {url}"
        if isinstance(exc, urllib3.exceptions.ReadTimeoutError):
            return f"timed out reading the response from {url}"
        if isinstance(exc, urllib3.exceptions.HTTPError | OSError):
            return f"connection broke while reading the response from {url}"
        return f"request to {url} failed: {self.redactor.text(type(exc).__name__)}"

    def _request_record(
        self, writer: WarcFileWriter, prepared: requests.PreparedRequest, target: str, moment: datetime,
        redactions: Redactions,
    ) -> tuple[object, str]:
        parts = urlsplit(target)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        lines = list(prepared.headers.items())
        if not any(name.lower() == "host" for name, _ in lines):
            lines.insert(0, ("Host", urlsplit(prepared.url or "").netloc))
        lines = self.redactor.headers(lines, redactions)
        body = prepared.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        body, hits = self.redactor.body(body)
        if hits:
            redactions.note("body")
        http_headers = StatusAndHeaders(f"{prepared.method} {path} HTTP/1.1", lines, is_http_request=True)
        record = writer.make_record(target, "request", body, http_headers=http_headers,
                                    warc_headers={"WARC-Date": warc_date(moment)})
        return record, path

    def _record(
        self, prepared: requests.PreparedRequest, response: requests.Response, body: bytes, truncated: bool,
        moment: datetime, revisit: RevisitLookup | None, lookup: str | None = None,
    ) -> Exchange:
        target, uri_redacted = self.redactor.url(prepared.url or "")
        request_redactions, response_redactions = Redactions(), Redactions()
        if uri_redacted:
            request_redactions.note("uri")
            response_redactions.note("uri")
        header_lines = _header_lines(response.raw)
        received = Headers(header_lines)
        chunked = "chunked" in received.get("transfer-encoding", "").lower()
        encoding = received.get("content-encoding", "")
        decoded = body
        if encoding and not truncated:
            try:
                decoded = decode_content(body, encoding)
            except (OSError, zlib.error, EOFError):
                decoded = body  # kept as received; a parser will report it
        scrubbed, hits = self.redactor.body(decoded)
        stored = body
        if hits:
            response_redactions.note(f"body({hits})")
            stored = scrubbed
            header_lines = [
                (n, str(len(scrubbed)) if n.lower() == "content-length" else v)
                for n, v in header_lines if n.lower() != "content-encoding"
            ]
            decoded = scrubbed
        header_lines = self.redactor.headers(header_lines, response_redactions)
        http_headers = StatusAndHeaders(_status_line(response.raw), header_lines, protocol="")
        writer = self._writer_for(moment)
        extra = {"WARC-Date": warc_date(moment)}
        if truncated:
            extra["WARC-Truncated"] = "length"
        if response_redactions:
            extra[REDACTED_HEADER] = response_redactions.header_value()
        if lookup is not None:
            extra[LOOKUP_HEADER] = lookup
        payload_sha256 = hashlib.sha256(stored).hexdigest()
        original = revisit(payload_sha256) if revisit is not None and not truncated else None
        if original is not None:
            response_record = writer.make_revisit(target, original, http_headers, extra)
        else:
            payload = rechunk(stored) if chunked and not truncated else stored
            response_record = writer.make_record(target, "response", payload, http_headers=http_headers,
                                                 warc_headers=extra)
        request_record, _ = self._request_record(writer, prepared, target, moment, request_redactions)
        response_ref = writer.write(response_record)
        request_record.rec_headers.add_header("WARC-Concurrent-To", response_ref.record_id)
        if request_redactions:
            request_record.rec_headers.add_header(REDACTED_HEADER, request_redactions.header_value())
        request_ref = writer.write(request_record)
        self.exchanges += 1
        captured = CapturedResponse(
            url=target,
            status=response.status_code,
            headers=Headers(header_lines),
            body=decoded,
            captured_at=parse_warc_date(extra["WARC-Date"]),
            lookup=lookup,
        )
        evidence = Evidence(writer.path.name.removesuffix(".open"), response_ref, request_ref, payload_sha256)
        exchange = Exchange(captured, evidence, truncated)
        if self.on_exchange is not None:
            self.on_exchange(exchange)
        return exchange

    def _record_failure(self, prepared: requests.PreparedRequest, moment: datetime, exc: Exception) -> None:
        """A request that got no response is evidence too: the request and what went wrong."""
        writer = self._writer_for(moment)
        target, uri_redacted = self.redactor.url(prepared.url or "")
        redactions = Redactions()
        if uri_redacted:
            redactions.note("uri")
        record, _ = self._request_record(writer, prepared, target, moment, redactions)
        if redactions:
            record.rec_headers.add_header(REDACTED_HEADER, redactions.header_value())
        request_ref = writer.write(record)
        detail = json.dumps({"event": "fetch-failed", "url": target, "error": self._describe(prepared, exc)})
        writer.write_metadata(target, detail.encode(), {"WARC-Concurrent-To": request_ref.record_id,
                                                        "WARC-Date": warc_date(moment)})
