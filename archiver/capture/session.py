"""The recording HTTP session: every platform exchange becomes WARC request + response records.

Connectors get pages only through ``RecordingSession.get``, so nothing reaches them that is
not also in a WARC. Nothing process-wide is patched and no proxy is involved: the session
reads the response as urllib3 received it (status line, header lines in order, the body with
its content encoding intact) and writes it before the connector sees it.

Two things differ from the wire, and both are said in the record: a chunked body is stored
as a single chunk (the framing is transport, the headers and entity bytes are kept exactly),
and a body that carried a secret is stored decoded with the secret replaced
(``WARC-Archiver-Redacted``).

Bodies are read within limits (``capture/body.py``): an API answer larger than
``body_max_bytes`` once decoded is archived as far as it was received, marked truncated, and
the exchange fails with ``ResponseTooLarge``; media are cut at the caller's ``max_bytes``.
"""

from __future__ import annotations

import hashlib
import io
import json
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urljoin, urlsplit

import requests
import urllib3
from warcio.statusandheaders import StatusAndHeaders

from archiver import __version__
from archiver.capture.body import (
    DEFAULT_BODY_MAX_BYTES,
    IN_MEMORY_BYTES,
    FramedPayload,
    ReceivedBody,
    read_body,
    redacted_copy,
)
from archiver.capture.redact import Redactions, Redactor
from archiver.capture.response import CapturedResponse, Headers
from archiver.capture.warc import RecordRef, RevisitTarget, WarcFileWriter, parse_warc_date, warc_date

REDACTED_HEADER = "WARC-Archiver-Redacted"
LOOKUP_HEADER = "WARC-Archiver-Lookup"  # the platform id of the item this exchange looked up
MAX_REDIRECTS = 5


class FetchFailed(Exception):
    """No response came back (timeout, refused, reset); the attempt is still in the WARC."""


class ResponseTooLarge(FetchFailed):
    """The answer passed ``body_max_bytes``: what was received is archived, marked truncated.
    Asking again would give the same, so it is not retried."""


def size_text(size: int) -> str:
    """A size for messages.

    >>> size_text(50_000_000), size_text(1_500), size_text(12)
    ('50 MB', '1.5 kB', '12 bytes')
    """
    for unit, factor in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size >= factor:
            return f"{size / factor:.4g} {unit}"
    return f"{size} bytes"


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
        body_max_bytes: int = DEFAULT_BODY_MAX_BYTES,
        spool_dir: Path | None = None,
    ):
        self._writer_for = writer_for
        self.body_max_bytes = body_max_bytes  # an API answer, once decoded
        self.spool_dir = spool_dir  # where large bodies wait on disk while they are archived
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

        ``max_bytes`` caps a media body (the record is then marked truncated and the exchange
        returned; a body larger than a few MB is not kept in ``response.body``); without it the
        body is an API answer, capped at ``body_max_bytes`` (``ResponseTooLarge`` past it). With
        ``revisit``, a payload already archived is written as a revisit record instead of a second copy.
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

    def post_form(self, url: str, form: dict[str, str]) -> tuple[Exchange, bytes]:
        """POST a form (an OAuth token refresh), archived like every exchange: known secrets in the
        request body and credentials named in the answer are masked in the record. Also returns the
        answer's body as received (decoded), which only the caller sees: it holds the new token."""
        prepared = self._http.prepare_request(requests.Request("POST", url, data=form))
        received: list[bytes] = []
        exchange = self._send(prepared, None, None, received=received)
        return exchange, received[0] if received else b""

    def read_file(self, url: str) -> Exchange:
        """Archive a local file (``file:///…``) as a WARC resource record and return it like a response.

        For feeds that reach the agency as files (a CMS export, a vendor hand-over); the
        record's target URI is the file URL and its date the time it was read.
        """
        path = Path(unquote(urlsplit(url).path))
        moment = datetime.now(UTC)
        try:
            with path.open("rb") as handle:
                data = handle.read(self.body_max_bytes + 1)
        except OSError as exc:
            raise FetchFailed(f"cannot read {path}: {exc.strerror}") from None
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if len(data) <= self.body_max_bytes:
            return self.record_resource(url, data, content_type, moment)
        exchange = self.record_resource(url, data[:self.body_max_bytes], content_type, moment,
                                        {"WARC-Truncated": "length"})
        raise ResponseTooLarge(f"{path}: the file is larger than {size_text(self.body_max_bytes)} "
                               f"([capture] body_max_bytes); its first {self.body_max_bytes} bytes are kept in "
                               f"{exchange.evidence.warc_name} marked truncated")

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
        lookup: str | None = None, received: list[bytes] | None = None,
    ) -> Exchange:
        moment = datetime.now(UTC)
        try:
            response = self._http.send(prepared, stream=True, timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            self._record_failure(prepared, moment, exc)
            raise FetchFailed(self._describe(prepared, exc)) from None
        limit = self.body_max_bytes if max_bytes is None else max_bytes
        try:
            body = read_body(lambda size: response.raw.read(size, decode_content=False) or b"",
                             encoding=Headers(_header_lines(response.raw)).get("content-encoding", ""),
                             limit=limit, keep=limit if max_bytes is None else min(limit, IN_MEMORY_BYTES),
                             redactor=self.redactor, folder=self.spool_dir)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            self._record_failure(prepared, moment, exc)
            raise FetchFailed(self._describe(prepared, exc)) from None
        finally:
            response.close()
        try:
            if received is not None and body.decoded is not None:  # as sent, decoded: for the caller alone
                received.append(body.decoded)
            exchange = self._record(prepared, response, body, moment, revisit, lookup)
        finally:
            body.close()
        if body.truncated and max_bytes is None:
            raise ResponseTooLarge(
                f"{exchange.response.url}: the response is larger than {size_text(limit)} once decoded "
                f"([capture] body_max_bytes); reading stopped after {body.size} bytes received, kept in "
                f"{exchange.evidence.warc_name} marked truncated")
        return exchange

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
        self, prepared: requests.PreparedRequest, response: requests.Response, body: ReceivedBody,
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
        truncated = body.truncated
        stored, stored_size, payload_sha256 = body.file, body.size, body.sha256
        decoded = body.decoded or b""
        hits = body.secrets
        if body.decoded is not None:
            decoded, hits = self.redactor.body(body.decoded)
            if hits:
                stored, stored_size = io.BytesIO(decoded), len(decoded)
                payload_sha256 = hashlib.sha256(decoded).hexdigest()
        elif hits:
            stored, stored_size, payload_sha256 = redacted_copy(body, received.get("content-encoding", ""),
                                                                self.redactor, self.spool_dir)
        if hits:
            response_redactions.note(f"body({hits})")
            header_lines = [
                (n, str(stored_size) if n.lower() == "content-length" else v)
                for n, v in header_lines if n.lower() != "content-encoding"
            ]
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
        original = revisit(payload_sha256) if revisit is not None and not truncated else None
        if original is not None:
            response_record = writer.make_revisit(target, original, http_headers, extra)
        else:
            stored.seek(0)
            payload: IO[bytes] = stored
            length = stored_size
            if chunked and not truncated:
                framed = FramedPayload(stored, stored_size)
                payload, length = framed, framed.length  # type: ignore[assignment]
            response_record = writer.make_record(target, "response", payload, http_headers=http_headers,
                                                 warc_headers=extra, length=length)
        request_record, _ = self._request_record(writer, prepared, target, moment, request_redactions)
        response_ref = writer.write(response_record)
        if stored is not body.file:
            stored.close()
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
