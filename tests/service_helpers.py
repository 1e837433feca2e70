"""Helpers for the service tests: an alert webhook receiver, a real SMTP server, a SeaweedFS that can be stopped.

Everything listens on 127.0.0.1 and is stopped by the test that started it.
"""

from __future__ import annotations

import datetime as dt
import email
import ipaddress
import json
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from connectors.fakehttp import LoopbackServer
from seaweed import PortTaken, SeaweedServer, _die_with_parent

SMTP_USER, SMTP_PASSWORD = "archiver-alerts", "smtp-pass-never-in-an-alert"


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


class AlertReceiver:
    """A webhook receiver (Slack, Teams or generic): records every JSON body posted to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if receiver.status == 200:
                    receiver.bodies.append(json.loads(body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = LoopbackServer(("127.0.0.1", 0), Handler)  # its own errors fail the test
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T000/B000/XXXX"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> AlertReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "archiver test mail server")])
    now = dt.datetime.now(dt.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
                   .not_valid_after(now + dt.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                               x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.raw: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.raw.append(envelope.content)
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MailServer:
    """aiosmtpd on 127.0.0.1 requiring STARTTLS, then AUTH with SMTP_USER / SMTP_PASSWORD."""

    def __init__(self, folder: Path):
        self.cert, key = self_signed(folder)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, key)
        self.inbox = _Inbox()
        self.logins: list[str] = []
        self.port = _free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, tls_context=context,
                                     require_starttls=True, auth_required=True, authenticator=self._authenticate)

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if isinstance(data, LoginPassword) and data.login.decode() == SMTP_USER \
                and data.password.decode() == SMTP_PASSWORD and session.ssl is not None:
            self.logins.append(mechanism)
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    @property
    def messages(self) -> list[Message]:
        return self.inbox.messages

    def config(self, user_env: str, password_env: str) -> str:
        return (f'smtp_host = "127.0.0.1"\nsmtp_port = {self.port}\nsmtp_user_env = "{user_env}"\n'
                f'smtp_password_env = "{password_env}"\nsmtp_ca_file = "{self.cert}"\n'
                'from = "archiver@records.example.gov"\nto = ["records-it@example.gov", "clerk@example.gov"]\n')

    def __enter__(self) -> MailServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


class StoppableSeaweed(SeaweedServer):
    """A SeaweedFS that can go down and come back on the same ports with the same data."""

    def command(self) -> list[str]:
        # A restarted master waits out the Raft election timeout (10 s by default) before it leads.
        return [*super().command(), "-master.electionTimeout=1s"]

    def halt(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def resume(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, cwd=self.folder, preexec_fn=_die_with_parent)
        client = self.client()
        wait_for(lambda: _answers(client), timeout=60, what="SeaweedFS to answer again")



def _answers(client: Any) -> bool:
    """The gateway answers and the volumes are back: the first object of every bucket can be read."""
    try:
        for bucket in client.list_buckets()["Buckets"]:
            first = client.list_objects_v2(Bucket=bucket["Name"], MaxKeys=1).get("Contents", [])
            if first:
                client.get_object(Bucket=bucket["Name"], Key=first[0]["Key"], Range="bytes=0-0")["Body"].read()
    except Exception:
        return False
    return True


@pytest.fixture(scope="session")
def stoppable_seaweed() -> Iterator[StoppableSeaweed]:
    """A SeaweedFS of its own (the shared one must never go down under other tests)."""
    for attempt in range(3):
        try:
            server = StoppableSeaweed().start()
            break
        except PortTaken:
            if attempt == 2:
                raise
    try:
        yield server
    finally:
        server.stop()
