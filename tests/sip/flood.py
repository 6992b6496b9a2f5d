"""A flood of SIP requests from one loopback address, bounded in count and time, counting the answers it got."""

from __future__ import annotations

import socket
import threading
import time
import uuid

from tests.sip.raw import new_branch, new_tag, sdp_offer

FLOODER = "127.0.0.3"


def flood_requests(port: int, edge: tuple[str, int], *, options: int, invites: int, number: str = "100") -> list[bytes]:
    """``invites`` INVITEs to the hotline (never to be ACKed) then ``options`` OPTIONS, from one address."""
    messages = []
    for i in range(invites + options):
        method, uri = ("INVITE", f"sip:{number}@{edge[0]}:{edge[1]}") if i < invites else \
            ("OPTIONS", f"sip:{edge[0]}:{edge[1]}")
        body = sdp_offer(30000 + i % 1000) if method == "INVITE" else ""
        messages.append((
            f"{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {FLOODER}:{port};branch={new_branch()};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:flood@{FLOODER}>;tag={new_tag()}\r\nTo: <{uri}>\r\n"
            f"Call-ID: {uuid.uuid4().hex}\r\nCSeq: 1 {method}\r\nContact: <sip:flood@{FLOODER}:{port}>\r\n"
            + ("Content-Type: application/sdp\r\n" if body else "")
            + f"Content-Length: {len(body)}\r\n\r\n{body}").encode())
    return messages


class Flood(threading.Thread):
    """Sends the flood over ``seconds`` from FLOODER (bounded in count and time), counting the answers."""

    def __init__(self, edge: tuple[str, int], *, options: int, invites: int, seconds: float) -> None:
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((FLOODER, 0))
        self.sock.settimeout(0.2)
        self.edge = edge
        self.messages = flood_requests(self.sock.getsockname()[1], edge, options=options, invites=invites)
        self.seconds = seconds
        self.sent = 0
        self.answers = 0

    def run(self) -> None:
        start = time.monotonic()
        batch = max(1, len(self.messages) // int(self.seconds * 50))
        for i in range(0, len(self.messages), batch):
            for message in self.messages[i:i + batch]:
                self.sock.sendto(message, self.edge)
                self.sent += 1
            time.sleep(max(0.0, start + (i + batch) / len(self.messages) * self.seconds - time.monotonic()))
        deadline = time.monotonic() + 1.0
        self.sock.setblocking(False)
        while time.monotonic() < deadline:  # answers still in flight: count them, bounded
            try:
                self.sock.recv(65535)
                self.answers += 1
            except BlockingIOError:
                time.sleep(0.05)
