"""SIP over TLS at the edge: an agent's phone registers over TLS (digest inside it) and is rung over the same
connection. RTP is not encrypted (the README says so): TLS protects the signalling and the credentials' exchange."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
import uuid
from pathlib import Path

import pytest

from telephony.kamailio import Tls
from telephony.leg import DialFailed
from telephony.pyvoip import SipWorker
from tests.peers import free_port
from tests.sip.digest import authorization
from tests.sip.edge import REALM, WORKER_PASSWORD, add_agent, secured_edge
from tests.sip.harness import running_worker
from tests.sip.raw import SipMessage, new_branch, new_tag, parse_sip, response_to

pytestmark = pytest.mark.integration


def self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "edge.pem", directory / "edge.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True, timeout=60)
    return cert, key


class TlsPhone:
    """A phone speaking SIP over one TLS connection to the edge (the certificate is checked against ``cert``)."""

    def __init__(self, edge: tuple[str, int], cert: Path, user: str) -> None:
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False
        self.sock = context.wrap_socket(socket.create_connection(edge, timeout=5))
        self.local = self.sock.getsockname()
        self.user = user
        self.buffer = b""

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode())

    def receive(self) -> SipMessage:
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(65535)
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith((b"content-length:", b"l:"))), 0)
        while len(rest) < length:
            rest += self.sock.recv(65535)
        self.buffer = rest[length:]
        return parse_sip(head + b"\r\n\r\n" + rest[:length])

    def register(self, password: str | None, cseq: int, call_id: str, challenge: str = "") -> SipMessage:
        host, port = self.local
        uri = f"sip:{REALM}"
        lines = [f"REGISTER {uri} SIP/2.0", f"Via: SIP/2.0/TLS {host}:{port};branch={new_branch()};rport",
                 "Max-Forwards: 70", f"From: <sip:{self.user}@{REALM}>;tag={new_tag()}",
                 f"To: <sip:{self.user}@{REALM}>", f"Call-ID: {call_id}", f"CSeq: {cseq} REGISTER",
                 f"Contact: <sip:{self.user}@{host}:{port};transport=tls>", "Expires: 300"]
        if password is not None:
            lines.append(authorization(challenge, method="REGISTER", uri=uri, user=self.user, password=password))
        self.send("\r\n".join([*lines, "Content-Length: 0"]) + "\r\n\r\n")
        return self.receive()

    def close(self) -> None:
        self.sock.close()


def test_an_agent_registers_over_tls_and_is_rung_over_it(tmp_path: Path, migrated_database_url: str) -> None:
    cert, key = self_signed(tmp_path)
    add_agent(migrated_database_url, "1001", "alice-sip-password-1")
    tls_port, worker_port = free_port(socket.SOCK_STREAM), free_port()
    with secured_edge(tmp_path, migrated_database_url, [worker_port], tls=Tls(tls_port, cert, key)) as kamailio, \
            running_worker(kamailio, worker_port, password=WORKER_PASSWORD) as worker:
        phone = TlsPhone(("127.0.0.1", tls_port), cert, "1001")
        try:
            call_id = uuid.uuid4().hex
            challenge = phone.register(None, 1, call_id)
            assert challenge.status == 401
            done = phone.register("alice-sip-password-1", 2, call_id, challenge.header("www-authenticate"))
            assert done.status == 200, done
            with pytest.raises(DialFailed, match="486"):
                dial_and_refuse(worker.worker, phone)
        finally:
            phone.close()


def dial_and_refuse(worker: SipWorker, phone: TlsPhone) -> None:
    """The worker dials 1001; the INVITE arrives over the phone's TLS connection, which answers 486."""

    def refuse() -> None:
        invite = phone.receive()
        assert invite.method == "INVITE", invite
        phone.send(response_to(invite, 486, "Busy Here"))

    thread = threading.Thread(target=refuse, daemon=True)
    thread.start()
    try:
        worker.dial("1001")
    finally:
        thread.join(5)
