"""Storage in S3 or an S3-compatible store (SeaweedFS, MinIO, Ceph): ``s3://bucket/optional/prefix``.

Every upload carries its SHA-256 (``ChecksumSHA256``; per part for multipart uploads), so the
store itself refuses bytes that changed on the way, and the hex digest is kept in the object's
metadata so a re-upload is recognised without reading the object back. With S3 Object Lock the
store refuses to delete an object before its retain-until date or while a legal hold is on; we
never use governance bypass. Locked buckets are versioned, where a plain DELETE only hides an
object behind a delete marker, so ``delete`` removes every version: that is what disposition
means. Credentials come only from the environment; no message raised here ever contains one.

A store can hang (frozen, or a network that swallows packets): every request is bounded by
``[storage] timeout_seconds`` (and three attempts), a whole upload by ``upload_timeout_seconds``,
and after a stop request (``stop_when``) by a short grace, so a hung store never holds a
harvest or the daemon; the sealed WARC waits in the spool for the next attempt.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, cast

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    FlexibleChecksumError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from archiver.credentials import credential, where
from storage.base import (
    CHUNK,
    DeleteMarker,
    ObjectConflict,
    ObjectInfo,
    ObjectLocked,
    Patience,
    Storage,
    StorageError,
    StorageUnavailable,
    StoredObject,
)

if TYPE_CHECKING:
    from archiver.config import Config

MULTIPART_THRESHOLD = 4 * 1024**3  # S3 refuses a single PUT over 5 GB
PART_SIZE = 64 * 1024**2  # S3 wants parts of at least 5 MiB, and at most 10,000 of them
_MISSING = ("404", "NoSuchKey", "NotFound")
_DENIED = ("403", "AccessDenied", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled")
_BAD_DIGEST = ("BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch", "InvalidChecksum")
UPLOAD_TIMEOUT_SECONDS = 300.0  # [storage] upload_timeout_seconds: one upload, all attempts included
_NO_LOCK = ("ObjectLockConfigurationNotFoundError", "NoSuchObjectLockConfiguration", "NotImplemented")


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


class _Slice:
    """A seekable window on an open file: one multipart part streams from disk and can be re-sent."""

    def __init__(self, handle: IO[bytes], start: int, size: int):
        self.handle, self.start, self.size, self.position = handle, start, size, 0

    def read(self, amount: int | None = -1) -> bytes:
        left = self.size - self.position
        self.handle.seek(self.start + self.position)
        block = self.handle.read(left if amount is None or amount < 0 else min(amount, left))
        self.position += len(block)
        return block

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = max(0, min(self.size, (0, self.position, self.size)[whence] + offset))
        return self.position

    def tell(self) -> int:
        return self.position


class _Body(io.RawIOBase):
    """An object's body for ``io.BufferedReader`` (so readline is cheap); a failed read is a StorageError."""

    def __init__(self, body: Any, failed: Any, patience: Patience, what: str):
        super().__init__()
        self.body, self.failed, self.patience, self.what = body, failed, patience, what

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:  # at the end, boto3 compares the bytes with the stored checksum
            block = self.patience.within(lambda: self.body.read(len(buffer)), self.what)
        except BotoCoreError as exc:
            raise self.failed(exc) from None
        buffer[: len(block)] = block
        return len(block)

    def close(self) -> None:
        self.body.close()
        super().close()


class S3Storage(Storage):
    """Objects under ``prefix`` in ``bucket``; the keys given and returned are relative to the prefix."""

    def __init__(self, bucket: str, prefix: str = "", *, client: Any, lock_mode: str | None = None,
                 multipart_threshold: int = MULTIPART_THRESHOLD, part_size: int = PART_SIZE, page_size: int = 1000,
                 upload_timeout: float = UPLOAD_TIMEOUT_SECONDS, hashing_client: Any = None):
        self.bucket, self.client, self.page_size = bucket, client, page_size
        self.hashing_client = hashing_client or client  # see open_to_hash
        self.patience, self.upload_timeout = Patience(), upload_timeout
        self._see_hidden = False  # see with_hidden_versions
        self._hidden: dict[str, str] = {}
        self._visible: set[str] = set()  # keys the hidden view listed in plain sight
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.url, self.endpoint = f"s3://{bucket}/{self.prefix}", str(client.meta.endpoint_url)
        # A mode named in the config means records must be immutable: a bucket without Object Lock is an error.
        self.lock_required, self.lock_mode = lock_mode is not None, lock_mode or "GOVERNANCE"
        self.multipart_threshold = min(multipart_threshold, 5 * 1000**3)
        self.part_size = max(part_size, 5 * 1024**2)
        self._lock: bool | None = None

    @classmethod
    def from_config(cls, config: Config, **options: Any) -> S3Storage:
        """From ``[storage]``; ``options`` go to the constructor (e.g. ``multipart_threshold``)."""
        section = config.storage
        bucket, _, prefix = config.storage_url.removeprefix("s3://").partition("/")
        names = (section.access_key_id_env, section.secret_access_key_env)
        credentials: dict[str, str] = {}
        if any(names):  # otherwise boto3's default chain: instance roles, ~/.aws, AWS_* variables
            if not all(names):
                raise StorageUnavailable("[storage] names only one of access_key_id_env and secret_access_key_env; "
                                         "name both, or neither to use boto3's default credentials")
            values = [credential(str(name)) for name in names]
            if unset := [name for name, value in zip(names, values, strict=True) if not value]:
                raise StorageUnavailable(where(str(unset[0]), " (named in [storage])"))
            credentials = {"aws_access_key_id": str(values[0]), "aws_secret_access_key": str(values[1])}
        settings = BotoConfig(
            s3={"addressing_style": "path"} if section.endpoint_url else None,  # S3-compatible stores want paths
            retries={"mode": "standard", "max_attempts": 3}, connect_timeout=min(10.0, section.timeout_seconds),
            read_timeout=section.timeout_seconds,
            request_checksum_calculation="when_required")  # we send our own SHA-256 instead of boto3's CRC
        session = boto3.session.Session()
        client = session.client("s3", endpoint_url=section.endpoint_url, region_name=section.region,
                                config=settings, **credentials)
        # For fixity, which hashes every byte itself: boto3 need not hash them again.
        hashing = session.client("s3", endpoint_url=section.endpoint_url, region_name=section.region,
                                 config=settings.merge(BotoConfig(response_checksum_validation="when_required")),
                                 **credentials)
        return cls(bucket, prefix, client=client, lock_mode=section.object_lock_mode,
                   upload_timeout=section.upload_timeout_seconds, hashing_client=hashing, **options)

    # Names and errors ---------------------------------------------------------------------------
    def _name(self, key: str) -> str:
        # S3 keys are flat, but SeaweedFS and others map them onto folders: '..' could leave the prefix.
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise StorageError(f"refusing object key {key!r}: keys are relative paths without '..'")
        return self.prefix + key

    def _error(self, error: Exception, key: str | None = None) -> StorageError:
        """One line for the operator, from error codes and names only: never a credential."""
        where = f"s3://{self.bucket}/{self.prefix}{key or ''}"
        if isinstance(error, FlexibleChecksumError):
            return StorageError(f"{where}: the bytes read back do not match the checksum stored with them")
        if isinstance(error, NoCredentialsError | PartialCredentialsError):
            return StorageUnavailable(f"no S3 credentials for {where}: name the environment variables holding them "
                                      "in [storage] access_key_id_env and secret_access_key_env")
        if not isinstance(error, ClientError):
            problem = "cannot reach" if isinstance(error, BotoConnectionError) else "failed request to"
            return StorageUnavailable(f"{problem} the S3 endpoint {self.endpoint} for {where} ({type(error).__name__})")
        code = _code(error)
        if code == "NoSuchBucket" or (code in _MISSING and key is None):
            return StorageUnavailable(f"bucket {self.bucket} does not exist at {self.endpoint}; create it "
                                      "(with Object Lock enabled, so that records are immutable)")
        if code in _DENIED:
            return StorageUnavailable(f"{self.endpoint} denied access to {where} ({code}); check the credentials "
                                      "and the bucket policy")
        if code in _MISSING:
            return StorageError(f"{key} is not in storage {self.url}")
        if code in _BAD_DIGEST:
            return StorageError(f"the store refused {where}: the bytes it received do not match their SHA-256")
        message = " ".join(str(error.response.get("Error", {}).get("Message", "")).split())[:160]
        return StorageError(f"{where}: {code or 'error'} from {self.endpoint}: {message}")

    def _call(self, operation: str, **params: Any) -> Any:
        """One S3 request (``client.<operation>``), abandoned if a stop request finds it hanging."""
        method = getattr(self.client, operation)
        where = f"{operation} s3://{self.bucket}/{params.get('Key') or self.prefix}"
        return self.patience.within(lambda: method(**params), where)

    def _pages(self, operation: str, **params: Any) -> Iterator[dict[str, Any]]:
        """The pages of a listing, each request abandoned like ``_call``'s."""
        pages = iter(self.client.get_paginator(operation).paginate(**params))
        while (page := self.patience.within(lambda: next(pages, None), f"{operation} {self.url}")) is not None:
            yield page

    @contextlib.contextmanager
    def _mapped(self, key: str | None = None) -> Iterator[None]:
        """Turn botocore's exceptions into the storage errors the rest of the archiver handles."""
        try:
            yield
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, key) from None

    # The Storage interface ----------------------------------------------------------------------
    def check(self) -> None:
        with self._mapped():
            self._call("head_bucket", Bucket=self.bucket)
        if self.lock_required and not self.object_lock_enabled:
            raise StorageUnavailable(f"bucket {self.bucket} has no Object Lock, but [storage] object_lock_mode is "
                                     "set; create a bucket with Object Lock enabled")

    @property
    def object_lock_enabled(self) -> bool:
        """Whether the bucket has Object Lock (asked once: it cannot be turned off)."""
        if self._lock is None:
            with self._mapped():
                try:
                    answer = self._call("get_object_lock_configuration", Bucket=self.bucket)
                except ClientError as exc:
                    if _code(exc) not in _NO_LOCK:
                        raise
                    answer = {}
                self._lock = answer.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"
        return self._lock

    def _head(self, key: str, version: str | None = None) -> dict[str, Any] | None:
        with self._mapped(key):
            try:
                options = {"VersionId": version} if version else {}
                answer = self._call("head_object", Bucket=self.bucket, Key=self._name(key), **options)
                return cast(dict[str, Any], answer)
            except ClientError as exc:
                if _code(exc) not in _MISSING:
                    raise
                return None

    def _existing(self, key: str, head: dict[str, Any], sha256: str) -> StoredObject:
        """The object already stored: the same bytes (an idempotent put) or a conflict."""
        stored = head.get("Metadata", {}).get("sha256") or self.sha256(key)  # not written by us: read it back
        if stored != sha256:
            raise ObjectConflict(f"{key} already exists in {self.url} with different bytes; not overwritten")
        until = head.get("ObjectLockRetainUntilDate")
        return StoredObject(key, int(head["ContentLength"]), sha256, until and until.astimezone(UTC),
                            head.get("VersionId"))

    def put(self, key: str, path: Path, sha256: str, *, retain_until: datetime | None = None) -> StoredObject:
        """Store ``path``; the whole upload (every request and attempt) ends within ``upload_timeout``."""
        return self.patience.within(lambda: self._put(key, path, sha256, retain_until),
                                    f"upload of s3://{self.bucket}/{self._name(key)}", self.upload_timeout)

    def _put(self, key: str, path: Path, sha256: str, retain_until: datetime | None) -> StoredObject:
        if head := self._head(key):
            return self._existing(key, head, sha256)
        size = path.stat().st_size
        # If-None-Match: a concurrent writer cannot slip in between the check above and the upload.
        target: dict[str, Any] = {"Bucket": self.bucket, "Key": self._name(key), "IfNoneMatch": "*"}
        settings: dict[str, Any] = {"Metadata": {"sha256": sha256}}
        if retain_until is not None and self.object_lock_enabled:
            settings |= {"ObjectLockMode": self.lock_mode, "ObjectLockRetainUntilDate": retain_until}
        with self._mapped(key):
            try:
                if size > self.multipart_threshold:
                    answer = self._put_parts(key, path, size, sha256, target, settings)
                else:
                    with path.open("rb") as body:
                        answer = self.client.put_object(Body=body, ChecksumSHA256=_b64(bytes.fromhex(sha256)),
                                                        **target, **settings)
            except ClientError as exc:
                if _code(exc) in ("PreconditionFailed", "ConditionalRequestConflict") and (head := self._head(key)):
                    return self._existing(key, head, sha256)
                raise
        locked = retain_until if "ObjectLockMode" in settings else None
        return StoredObject(key, size, sha256, locked, answer.get("VersionId"))

    def _put_parts(self, key: str, path: Path, size: int, sha256: str, target: dict[str, Any],
                   settings: dict[str, Any]) -> dict[str, Any]:
        """A multipart upload, each part with its SHA-256, once the whole file's digest is checked here."""
        part_size = max(self.part_size, -(-size // 10_000))
        whole, digests = hashlib.sha256(), []
        with path.open("rb") as source:
            for start in range(0, size, part_size):
                part, left = hashlib.sha256(), min(part_size, size - start)
                while left and (block := source.read(min(CHUNK, left))):
                    part.update(block)
                    whole.update(block)
                    left -= len(block)
                digests.append(_b64(part.digest()))
        if whole.hexdigest() != sha256:
            raise StorageError(f"refusing to store {key}: the file's SHA-256 is not {sha256}")
        where = {"Bucket": self.bucket, "Key": target["Key"]}
        upload = self.client.create_multipart_upload(**where, ChecksumAlgorithm="SHA256", **settings)
        try:
            parts = []
            with path.open("rb") as source:
                for number, checksum in enumerate(digests, start=1):
                    start = (number - 1) * part_size
                    answer = self.client.upload_part(
                        **where, UploadId=upload["UploadId"], PartNumber=number, ChecksumAlgorithm="SHA256",
                        ChecksumSHA256=checksum, Body=_Slice(source, start, min(part_size, size - start)))
                    parts.append({"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": checksum})
            return cast(dict[str, Any], self.client.complete_multipart_upload(
                **target, UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}))
        except BaseException:
            with contextlib.suppress(ClientError, BotoCoreError):  # stored parts would be kept (and billed)
                self.client.abort_multipart_upload(**where, UploadId=upload["UploadId"])
            raise

    def open(self, key: str) -> BinaryIO:
        """The object's bytes, streamed; at the end boto3 checks them against the stored SHA-256 (single PUTs)."""
        return self._open(key, self.client)

    def open_to_hash(self, key: str) -> BinaryIO:
        """The object's bytes, streamed, without boto3's own SHA-256 of them: the reader computes it."""
        return self._open(key, self.hashing_client)

    def _open(self, key: str, client: Any) -> BinaryIO:
        version = self._hidden_version(key) if self._see_hidden else None
        params = {"Bucket": self.bucket, "Key": self._name(key), **({"VersionId": version} if version else {})}
        with self._mapped(key):
            body = self.patience.within(lambda: client.get_object(**params),
                                        f"get_object s3://{self.bucket}/{params['Key']}")["Body"]
        return io.BufferedReader(_Body(body, lambda exc: self._error(exc, key), self.patience,
                                       f"reading s3://{self.bucket}/{self._name(key)}"), buffer_size=CHUNK)

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        def ranged() -> bytes:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._name(key),
                                            Range=f"bytes={offset}-{offset + length - 1}")
            with answer["Body"] as body:
                return cast(bytes, body.read())

        with self._mapped(key):
            return self.patience.within(ranged, f"reading s3://{self.bucket}/{self._name(key)}")

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        if self._see_hidden:
            yield from self._list_with_hidden(prefix)
            return
        pages = self._pages("list_objects_v2", Bucket=self.bucket, Prefix=self.prefix + prefix,
                            PaginationConfig={"PageSize": self.page_size})
        with self._mapped():
            for page in pages:  # S3 lists in key (UTF-8 byte) order
                for entry in page.get("Contents", []):
                    if not entry["Key"].endswith("/"):  # folder placeholders are not objects
                        yield ObjectInfo(entry["Key"][len(self.prefix):], int(entry["Size"]))

    # Objects behind delete markers ------------------------------------------------------------
    def with_hidden_versions(self) -> S3Storage:
        view = copy.copy(self)
        view._see_hidden, view._hidden, view._visible = True, {}, set()
        return view

    def hidden_versions(self) -> dict[str, str]:
        return dict(self._hidden)

    def _history(self, prefix: str) -> dict[str, tuple[bool, tuple[datetime, str, int] | None]]:
        """Per key under ``prefix``: (whether its latest entry is a delete marker, its newest real
        version as (time, version id, size) or None)."""
        found: dict[str, tuple[bool, tuple[datetime, str, int] | None]] = {}
        with self._mapped():
            for page in self._pages("list_object_versions", Bucket=self.bucket, Prefix=prefix):
                for marker in page.get("DeleteMarkers", []):
                    marked, newest = found.get(marker["Key"], (False, None))
                    found[marker["Key"]] = (marked or bool(marker.get("IsLatest")), newest)
                for version in page.get("Versions", []):
                    marked, newest = found.get(version["Key"], (False, None))
                    if newest is None or version["LastModified"] > newest[0]:
                        newest = (version["LastModified"], str(version["VersionId"]), int(version["Size"]))
                    found[version["Key"]] = (marked, newest)
        return found

    def _list_with_hidden(self, prefix: str) -> Iterator[ObjectInfo]:
        for name, (marked, newest) in sorted(self._history(self.prefix + prefix).items()):
            if newest is None or name.endswith("/"):
                continue  # only markers left: truly gone; or a folder placeholder
            key = name[len(self.prefix):]
            if marked:
                self._hidden[key] = newest[1]
            else:
                self._visible.add(key)
            yield ObjectInfo(key, newest[2])

    def _hidden_version(self, key: str) -> str | None:
        if key not in self._hidden and key not in self._visible and self._head(key) is None:
            marked, newest = self._history(self._name(key)).get(self._name(key), (False, None))
            if marked and newest is not None:
                self._hidden[key] = newest[1]
        return self._hidden.get(key)

    def delete_marker(self, key: str) -> DeleteMarker | None:
        marked, newest = self._history(self._name(key)).get(self._name(key), (False, None))
        return DeleteMarker(newest is not None) if marked else None

    def stat(self, key: str) -> ObjectInfo | None:
        head = self._head(key)
        return ObjectInfo(key, int(head["ContentLength"])) if head else None

    def _versions(self, key: str) -> tuple[list[str], list[str]]:
        """The version ids of the object versions, and of the delete markers, under exactly ``key``."""
        name, versions, markers = self._name(key), [], []
        with self._mapped(key):
            for page in self._pages("list_object_versions", Bucket=self.bucket, Prefix=name):
                versions += [v["VersionId"] for v in page.get("Versions", []) if v["Key"] == name]
                markers += [m["VersionId"] for m in page.get("DeleteMarkers", []) if m["Key"] == name]
        return versions, markers

    def _lock_reason(self, key: str, version: str) -> str | None:
        """Why the store will refuse to delete this version, or None."""
        head = self._head(key, version) or {}
        if head.get("ObjectLockLegalHoldStatus") == "ON":
            return "a legal hold is on"
        until, mode = head.get("ObjectLockRetainUntilDate"), head.get("ObjectLockMode", "Object Lock")
        if until and until > datetime.now(UTC):
            return f"{mode} retention until {until.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        return None

    def delete(self, key: str) -> None:
        """Remove every version; if one is under retention or legal hold, refuse before removing any."""
        versions, markers = self._versions(key)
        for version in versions if self.object_lock_enabled else []:
            if reason := self._lock_reason(key, version):
                raise ObjectLocked(f"{key} cannot be deleted from {self.url}: {reason}")
        with self._mapped(key):
            for version in [*versions, *markers] or [""]:  # none listed: a plain DELETE, a no-op if absent
                try:
                    options = {"VersionId": version} if version else {}
                    self._call("delete_object", Bucket=self.bucket, Key=self._name(key), **options)
                except ClientError as exc:  # locked since we looked: the store refuses, as it should
                    if version and _code(exc) in _DENIED and (reason := self._lock_reason(key, version)):
                        raise ObjectLocked(f"{key} cannot be deleted from {self.url}: {reason}") from None
                    raise

    def set_legal_hold(self, key: str, on: bool) -> bool:
        """Turn the legal hold on every version of the object on or off; False without Object Lock."""
        if not self.object_lock_enabled:
            return False
        versions, _ = self._versions(key)
        if not versions:
            raise StorageError(f"{key} is not in storage {self.url}")
        with self._mapped(key):
            for version in versions:
                self._call("put_object_legal_hold", Bucket=self.bucket, Key=self._name(key), VersionId=version,
                           LegalHold={"Status": "ON" if on else "OFF"})
        return True

    def lock_reason(self, key: str) -> str | None:
        """Why the store would refuse to delete ``key`` now, or None."""
        if not self.object_lock_enabled:
            return None
        versions, _ = self._versions(key)
        return next((reason for version in versions if (reason := self._lock_reason(key, version))), None)

    def set_retention(self, key: str, until: datetime) -> bool:
        """Lock every version of the object until ``until``; False without Object Lock."""
        if not self.object_lock_enabled:
            return False
        versions, _ = self._versions(key)
        with self._mapped(key):
            for version in versions:
                self._call("put_object_retention", Bucket=self.bucket, Key=self._name(key), VersionId=version,
                           Retention={"Mode": self.lock_mode or "GOVERNANCE", "RetainUntilDate": until})
        return True
