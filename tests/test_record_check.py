"""The record check's streaming reader: the same findings however the stored bytes arrive."""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders

from archiver.capture.warc import WarcFileWriter, sha256_label
from archiver.retention.record_check import MemberReader, RecordDigests


class Trickle(io.RawIOBase):
    """A stream that hands out at most ``step`` bytes per read, as a slow network would."""

    def __init__(self, data: bytes, step: int):
        super().__init__()
        self.data, self.step, self.position = data, step, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        block = self.data[self.position:self.position + min(self.step, len(buffer))]
        buffer[:len(block)] = block
        self.position += len(block)
        return len(block)


def a_warc(path: Path, wrong_payload_at: int | None = None, big: bool = True) -> list[tuple[int, str]]:
    """A WARC of HTTP responses (one of 3 MB), their requests and a resource; (offset, record id) of each."""
    refs = []
    with WarcFileWriter(path) as warc:
        for number, body in enumerate([b'{"data": [' + b'{"id": "1"},' * 3000 + b'{}]}',
                                       os.urandom(3 << 20) if big else b"\r\n" * 700, b"", b"<feed>\r\n\r\n</feed>"]):
            http = StatusAndHeaders("200 OK", [("Content-Type", "application/json")], protocol="HTTP/1.1")
            extra = {"WARC-Payload-Digest": sha256_label(b"not this")} if number == wrong_payload_at else {}
            record = warc.make_record(f"https://graph.example/{number}", "response", body, http_headers=http,
                                      warc_headers=extra)
            response = warc.write(record)
            request = warc.write(warc.make_record(f"https://graph.example/{number}", "request", b"",
                                                  http_headers=StatusAndHeaders("GET / HTTP/1.1", [],
                                                                                is_http_request=True)))
            refs += [(response.offset, response.record_id), (request.offset, request.record_id)]
        resource = warc.write_resource("urn:example:file", b"hello\r\n\r\nworld", "text/plain")
        refs.append((resource.offset, resource.record_id))
    return refs


def check(data: bytes, indexed: dict[int, str], step: int) -> tuple[list[tuple[int | None, str | None, str]], int]:
    problems: list[tuple[int | None, str | None, str]] = []
    records = RecordDigests(lambda *found: problems.append(found), indexed)
    reader = MemberReader(records, lambda *found: problems.append(found))
    reader.read(io.BufferedReader(Trickle(data, step), buffer_size=step))
    return problems + [(offset, record_id, "not found") for offset, record_id in records.not_found()], reader.size


@pytest.mark.parametrize("step", [1 << 20, 4099, 7])
def test_an_intact_warc_passes_however_its_bytes_arrive(tmp_path: Path, step: int) -> None:
    refs = a_warc(tmp_path / "a.warc.gz")
    data = (tmp_path / "a.warc.gz").read_bytes()
    if step == 7:  # byte by byte is slow: the first records only
        data = data[:refs[2][0]]
        refs = refs[:2]
    problems, size = check(data, dict(refs), step)
    assert problems == [] and size == len(data)


@pytest.mark.parametrize("step", [1 << 20, 4099])
def test_a_wrong_payload_digest_is_named_by_its_record(tmp_path: Path, step: int) -> None:
    refs = a_warc(tmp_path / "a.warc.gz", wrong_payload_at=1)  # the 3 MB response
    problems, _ = check((tmp_path / "a.warc.gz").read_bytes(), dict(refs), step)
    assert problems == [(refs[2][0], refs[2][1], "WARC-Payload-Digest does not match the record's payload")]


def test_a_record_the_index_expects_elsewhere_and_a_cut_object_are_named(tmp_path: Path) -> None:
    refs = a_warc(tmp_path / "a.warc.gz")
    data = (tmp_path / "a.warc.gz").read_bytes()
    moved = {refs[0][0]: refs[1][1], refs[1][0] + 1: refs[1][1]}  # a wrong id at one offset, an offset with none
    problems, _ = check(data, moved, 1 << 20)
    assert problems == [(refs[0][0], refs[1][1], "not found"), (refs[1][0] + 1, refs[1][1], "not found")]
    problems, _ = check(data[:refs[3][0] + 100], {}, 1 << 20)
    assert problems == [(refs[3][0], None, "the object ends in the middle of a record")]


@pytest.mark.parametrize("wrong", [None, 3])
def test_records_split_at_every_byte_are_read_alike(tmp_path: Path, wrong: int | None) -> None:
    a_warc(tmp_path / "a.warc.gz", wrong_payload_at=wrong, big=False)
    inflated = gzip.decompress((tmp_path / "a.warc.gz").read_bytes())
    for step in (1, 2, 3, 5, 4096):
        found: list[tuple[int | None, str | None, str]] = []
        records = RecordDigests(lambda *problem, into=found: into.append(problem), {})
        for start in range(0, len(inflated), step):
            records.feed(inflated[start:start + step])
        assert records.between_records
        assert [problem for _, _, problem in found] == \
            ([] if wrong is None else ["WARC-Payload-Digest does not match the record's payload"])
