"""A raw SIP/RTP peer for adapter tests: a UDP socket speaking SIP by hand, and an RTP socket.

The peer builds exactly the messages a test needs (an INVITE with a chosen SDP, a re-INVITE that holds,
a CANCEL in the first second, an unsupported method, garbage) and records everything it receives, so a
test can assert on what the hotline worker answered and on the RTP it sent. Everything is on 127.0.0.1.
"""

from __future__ import annotations

import audioop
import contextlib
import queue
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

HOST = "127.0.0.1"

_COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length",
            "c": "content-type", "k": "supported", "s": "subject"}


def new_branch() -> str:
    return "z9hG4bK" + uuid.uuid4().hex[:20]


def new_tag() -> str:
    return uuid.uuid4().hex[:10]


@dataclass
class SipMessage:
    """One SIP message as received: start line, headers in order, body, and where it came from."""

    start: str
    headers: list[tuple[str, str]]
    body: bytes
    source: tuple[str, int] = (HOST, 0)
    received_at: float = 0.0

    @property
    def is_response(self) -> bool:
        return self.start.startswith("SIP/2.0 ")

    @property
    def status(self) -> int:
        return int(self.start.split()[1]) if self.is_response else 0

    @property
    def method(self) -> str:
        return self.cseq[1] if self.is_response else self.start.split()[0]

    @property
    def uri(self) -> str:
        return "" if self.is_response else self.start.split()[1]

    def all(self, name: str) -> list[str]:
        name = name.lower()
        values: list[str] = []
        for key, value in self.headers:
            key = key.lower()
            if _COMPACT.get(key, key) == name:
                # Record-Route, Route and Via may carry several comma-separated values on one line.
                if name in ("via", "record-route", "route"):
                    values.extend(v.strip() for v in _split_commas(value))
                else:
                    values.append(value)
        return values

    def header(self, name: str) -> str:
        values = self.all(name)
        return values[0] if values else ""

    @property
    def call_id(self) -> str:
        return self.header("call-id")

    @property
    def cseq(self) -> tuple[int, str]:
        number, method = self.header("cseq").split()
        return int(number), method

    @property
    def to_tag(self) -> str:
        return _param(self.header("to"), "tag")

    @property
    def from_tag(self) -> str:
        return _param(self.header("from"), "tag")

    @property
    def contact_uri(self) -> str:
        return _uri_of(self.header("contact"))

    def sdp(self) -> Sdp:
        return parse_sdp(self.body.decode())

    def __str__(self) -> str:
        return self.start


def _split_commas(value: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in value:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p for p in parts if p.strip()]


def _param(value: str, name: str) -> str:
    tail = value.split(">", 1)[1] if ">" in value else value
    for part in tail.split(";")[1:]:
        key, _, val = part.partition("=")
        if key.strip().lower() == name:
            return val.strip()
    return ""


def _uri_of(value: str) -> str:
    if "<" in value:
        return value.split("<", 1)[1].split(">", 1)[0]
    return value.split(";", 1)[0].strip()


def parse_sip(data: bytes, source: tuple[str, int] = (HOST, 0)) -> SipMessage:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:
            key, value = headers[-1]
            headers[-1] = (key, value + " " + line.strip())
            continue
        key, _, value = line.partition(":")
        headers.append((key.strip(), value.strip()))
    return SipMessage(lines[0], headers, body, source, time.monotonic())


# --- SDP ---------------------------------------------------------------------------------------------

RTPMAP = {0: "PCMU/8000", 8: "PCMA/8000", 101: "telephone-event/8000", 96: "H264/90000", 97: "VP8/90000"}


@dataclass
class Media:
    kind: str
    port: int
    proto: str
    formats: list[str]
    attributes: list[str] = field(default_factory=list)

    @property
    def direction(self) -> str:
        for attr in self.attributes:
            if attr in ("sendrecv", "sendonly", "recvonly", "inactive"):
                return attr
        return "sendrecv"


@dataclass
class Sdp:
    address: str
    media: list[Media]
    session_attributes: list[str]

    def audio(self) -> Media:
        return next(m for m in self.media if m.kind == "audio")

    @property
    def direction(self) -> str:
        media_dir = [a for a in self.audio().attributes if a in ("sendrecv", "sendonly", "recvonly", "inactive")]
        if media_dir:
            return media_dir[0]
        session_dir = [a for a in self.session_attributes if a in ("sendrecv", "sendonly", "recvonly", "inactive")]
        return session_dir[0] if session_dir else "sendrecv"


def parse_sdp(text: str) -> Sdp:
    address = ""
    media: list[Media] = []
    session_attrs: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.startswith("c=") and not media:
            address = line.split()[-1]
        elif line.startswith("m="):
            kind, port, proto, *formats = line[2:].split()
            media.append(Media(kind, int(port.split("/")[0]), proto, formats))
        elif line.startswith("a="):
            (media[-1].attributes if media else session_attrs).append(line[2:])
    return Sdp(address, media, session_attrs)


def sdp_offer(rtp_port: int, *, payloads: Iterable[int] = (0, 8, 101), direction: str = "sendrecv",
              video_port: int | None = None, video_first: bool = False, version: int = 1,
              session_id: int | None = None) -> str:
    """An SDP offer from 127.0.0.1: audio at ``rtp_port`` (and optionally a video stream)."""
    sid = session_id if session_id is not None else int(time.time())
    payloads = list(payloads)
    audio = [f"m=audio {rtp_port} RTP/AVP {' '.join(map(str, payloads))}"]
    for pt in payloads:
        audio.append(f"a=rtpmap:{pt} {RTPMAP[pt]}")
        if pt == 101:
            audio.append("a=fmtp:101 0-16")
    audio += ["a=ptime:20", f"a={direction}"]
    video: list[str] = []
    if video_port is not None:
        video = [f"m=video {video_port} RTP/AVP 96 97", f"a=rtpmap:96 {RTPMAP[96]}", f"a=rtpmap:97 {RTPMAP[97]}",
                 "a=fmtp:96 profile-level-id=42e01f", f"a={direction}"]
    lines = ["v=0", f"o=rawpeer {sid} {version} IN IP4 {HOST}", "s=raw peer", f"c=IN IP4 {HOST}", "t=0 0",
             *(video + audio if video_first else audio + video)]
    return "\r\n".join(lines) + "\r\n"


# --- SIP peer ----------------------------------------------------------------------------------------


class SipPeer:
    """A UDP SIP endpoint on 127.0.0.1 that sends hand-made messages and keeps what it receives.

    Requests that arrive (a BYE from the worker, say) are answered 200 automatically unless
    ``auto_answer`` is False (INVITE and CANCEL are always left to the test); every message stays in
    ``received`` for the test to inspect.
    """

    def __init__(self, user: str = "5550101", *, auto_answer: bool = True, host: str = HOST) -> None:
        self.user = user
        self.host = host  # any 127.0.0.0/8 address: a second "machine" on loopback
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.port = int(self.sock.getsockname()[1])
        self.auto_answer = auto_answer
        self.received: list[SipMessage] = []
        self._inbox: queue.Queue[SipMessage] = queue.Queue()
        self._pending: list[SipMessage] = []
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"sip-peer-{self.port}", daemon=True)
        self._thread.start()

    @property
    def contact(self) -> str:
        return f"<sip:{self.user}@{self.host}:{self.port}>"

    def via(self, branch: str | None = None) -> str:
        return f"SIP/2.0/UDP {self.host}:{self.port};branch={branch or new_branch()};rport"

    def _run(self) -> None:
        while not self._closed:
            try:
                data, source = self.sock.recvfrom(65535)
            except OSError:
                return
            if not data.strip(b"\r\n\x00 "):
                continue
            try:
                message = parse_sip(data, source)
            except Exception:  # a test peer ignores what it cannot read
                continue
            self.received.append(message)
            if self.auto_answer and not message.is_response and message.method not in ("ACK", "INVITE", "CANCEL"):
                with contextlib.suppress(OSError):
                    self.send(response_to(message, 200, "OK", contact=self.contact), source)
            self._inbox.put(message)

    def send(self, data: str | bytes, dest: tuple[str, int]) -> None:
        self.sock.sendto(data.encode() if isinstance(data, str) else data, dest)

    def wait(self, predicate: Callable[[SipMessage], bool], timeout: float = 5.0) -> SipMessage:
        """The first received message (not yet taken) that matches ``predicate``."""
        deadline = time.monotonic() + timeout
        while True:
            for message in self._pending:
                if predicate(message):
                    self._pending.remove(message)
                    return message
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = [str(m) for m in self.received]
                raise TimeoutError(f"no matching SIP message within {timeout} s; received {seen}")
            try:
                self._pending.append(self._inbox.get(timeout=remaining))
            except queue.Empty:
                continue

    def response(self, call_id: str, method: str, *, final: bool = True, timeout: float = 5.0) -> SipMessage:
        return self.wait(lambda m: m.is_response and m.call_id == call_id and m.method == method
                         and (m.status >= 200 or not final), timeout)

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self.sock.close()


def response_to(request: SipMessage, status: int, reason: str, *, contact: str | None = None,
                to_tag: str | None = None, body: str = "", record_route: bool = False) -> str:
    """A response to ``request``; ``record_route`` copies its Record-Route (as a UAS does for a dialog)."""
    lines = [f"SIP/2.0 {status} {reason}"]
    for value in request.all("via"):
        lines.append(f"Via: {value}")
    if record_route:
        lines += [f"Record-Route: {value}" for value in request.all("record-route")]
    lines.append(f"From: {request.header('from')}")
    to = request.header("to")
    if not request.to_tag:
        to += f";tag={to_tag or new_tag()}"
    lines += [f"To: {to}", f"Call-ID: {request.call_id}", f"CSeq: {request.header('cseq')}"]
    if contact:
        lines.append(f"Contact: {contact}")
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body.encode())}")
    return "\r\n".join(lines) + "\r\n\r\n" + body


def request(peer: SipPeer, method: str, uri: str, *, call_id: str | None = None, cseq: int = 1,
            from_tag: str | None = None, to: str | None = None, body: str = "", branch: str | None = None,
            extra: Iterable[str] = (), content_type: str = "application/sdp") -> str:
    """An out-of-dialog request from ``peer``."""
    lines = [f"{method} {uri} SIP/2.0", f"Via: {peer.via(branch)}", "Max-Forwards: 70",
             f"From: <sip:{peer.user}@{peer.host}>;tag={from_tag or new_tag()}", f"To: {to or '<' + uri + '>'}",
             f"Call-ID: {call_id or uuid.uuid4().hex}", f"CSeq: {cseq} {method}", f"Contact: {peer.contact}",
             *extra]
    if body:
        lines.append(f"Content-Type: {content_type}")
    lines.append(f"Content-Length: {len(body.encode())}")
    return "\r\n".join(lines) + "\r\n\r\n" + body


def register(peer: SipPeer, registrar: tuple[str, int], *, contact_port: int | None = None,
             expires: int = 300) -> SipMessage:
    """REGISTER ``peer.user`` at ``registrar`` with a Contact on ``contact_port`` (default: the peer's own
    port, or another process's, such as a sipp UAS); returns the final response."""
    call_id = uuid.uuid4().hex
    uri = f"sip:{registrar[0]}:{registrar[1]}"
    contact = f"<sip:{peer.user}@{HOST}:{contact_port or peer.port}>"
    peer.send(request(peer, "REGISTER", uri, call_id=call_id, to=f"<sip:{peer.user}@{registrar[0]}>",
                      extra=[f"Expires: {expires}"]).replace(f"Contact: {peer.contact}", f"Contact: {contact}"),
              registrar)
    return peer.response(call_id, "REGISTER")


class OutboundCall:
    """A call the raw peer places (through Kamailio or straight to a worker), with its dialog state."""

    def __init__(self, peer: SipPeer, uri: str, next_hop: tuple[str, int]) -> None:
        self.peer = peer
        self.uri = uri
        self.next_hop = next_hop
        self.call_id = uuid.uuid4().hex + "@rawpeer"
        self.from_tag = new_tag()
        self.cseq = 0
        self.invite_branch = ""
        self.invite_text = ""
        self.to_header = f"<{uri}>"
        self.remote_target = uri
        self.route_set: list[str] = []
        self.answer: SipMessage | None = None

    # -- the INVITE transaction ------------------------------------------------------------
    def send_invite(self, sdp: str) -> None:
        self.cseq += 1
        self.invite_branch = new_branch()
        self.invite_text = request(self.peer, "INVITE", self.uri, call_id=self.call_id, cseq=self.cseq,
                                   from_tag=self.from_tag, body=sdp, branch=self.invite_branch)
        self.peer.send(self.invite_text, self.next_hop)

    def provisional(self, status: int = 180, timeout: float = 5.0) -> SipMessage:
        return self.peer.wait(lambda m: m.is_response and m.call_id == self.call_id and m.method == "INVITE"
                              and m.status == status, timeout)

    def final(self, timeout: float = 10.0) -> SipMessage:
        response = self.peer.response(self.call_id, "INVITE", timeout=timeout)
        if 200 <= response.status < 300:
            self._establish(response)
            self.ack(response)
        else:
            self.ack_failure(response)
        return response

    def invite(self, sdp: str, timeout: float = 10.0) -> SipMessage:
        self.send_invite(sdp)
        return self.final(timeout)

    def accept(self, response: SipMessage) -> None:
        """Take a 2xx to our INVITE: set up the dialog from it and ACK it."""
        self._establish(response)
        self.ack(response)

    def _establish(self, response: SipMessage) -> None:
        if self.answer is None:
            self.route_set = list(reversed(response.all("record-route")))
            self.to_header = response.header("to")
        self.remote_target = response.contact_uri or self.remote_target
        self.answer = response

    def _route_lines(self) -> list[str]:
        return [f"Route: {r}" for r in self.route_set]

    def _dialog_hop(self) -> tuple[str, int]:
        uri = _uri_of(self.route_set[0]) if self.route_set else self.remote_target
        hostport = uri.split("@")[-1].split(";")[0].removeprefix("sip:")
        host, _, port = hostport.partition(":")
        return host, int(port or 5060)

    def ack(self, response: SipMessage) -> None:
        lines = [f"ACK {self.remote_target} SIP/2.0", f"Via: {self.peer.via()}", "Max-Forwards: 70",
                 *self._route_lines(), f"From: <sip:{self.peer.user}@{self.peer.host}>;tag={self.from_tag}",
                 f"To: {response.header('to')}", f"Call-ID: {self.call_id}", f"CSeq: {response.cseq[0]} ACK",
                 "Content-Length: 0"]
        self.peer.send("\r\n".join(lines) + "\r\n\r\n", self._dialog_hop())

    def ack_failure(self, response: SipMessage) -> None:
        lines = [f"ACK {self.uri} SIP/2.0", f"Via: {self.peer.via(self.invite_branch)}", "Max-Forwards: 70",
                 f"From: <sip:{self.peer.user}@{self.peer.host}>;tag={self.from_tag}", f"To: {response.header('to')}",
                 f"Call-ID: {self.call_id}", f"CSeq: {response.cseq[0]} ACK", "Content-Length: 0"]
        self.peer.send("\r\n".join(lines) + "\r\n\r\n", self.next_hop)

    def cancel(self) -> None:
        lines = [f"CANCEL {self.uri} SIP/2.0", f"Via: {self.peer.via(self.invite_branch)}", "Max-Forwards: 70",
                 f"From: <sip:{self.peer.user}@{self.peer.host}>;tag={self.from_tag}", f"To: <{self.uri}>",
                 f"Call-ID: {self.call_id}", f"CSeq: {self.cseq} CANCEL", "Content-Length: 0"]
        self.peer.send("\r\n".join(lines) + "\r\n\r\n", self.next_hop)

    # -- in-dialog requests ----------------------------------------------------------------
    def in_dialog(self, method: str, *, body: str = "", content_type: str = "application/sdp",
                  extra: Iterable[str] = ()) -> str:
        self.cseq += 1
        lines = [f"{method} {self.remote_target} SIP/2.0", f"Via: {self.peer.via()}", "Max-Forwards: 70",
                 *self._route_lines(), f"From: <sip:{self.peer.user}@{self.peer.host}>;tag={self.from_tag}",
                 f"To: {self.to_header}", f"Call-ID: {self.call_id}", f"CSeq: {self.cseq} {method}",
                 f"Contact: {self.peer.contact}", *extra]
        if body:
            lines.append(f"Content-Type: {content_type}")
        lines.append(f"Content-Length: {len(body.encode())}")
        text = "\r\n".join(lines) + "\r\n\r\n" + body
        self.peer.send(text, self._dialog_hop())
        return method

    def request(self, method: str, *, body: str = "", content_type: str = "application/sdp",
                extra: Iterable[str] = (), timeout: float = 5.0) -> SipMessage:
        """Send an in-dialog request and return its final response (ACKing a re-INVITE's 2xx)."""
        self.in_dialog(method, body=body, content_type=content_type, extra=extra)
        cseq = self.cseq
        response = self.peer.wait(lambda m: m.is_response and m.call_id == self.call_id
                                  and m.cseq == (cseq, method) and m.status >= 200, timeout)
        if method == "INVITE" and 200 <= response.status < 300:
            self._establish(response)
            self.ack(response)
        return response

    def reinvite(self, sdp: str, timeout: float = 5.0) -> SipMessage:
        return self.request("INVITE", body=sdp, timeout=timeout)

    def bye(self, timeout: float = 5.0) -> SipMessage:
        return self.request("BYE", timeout=timeout)


# --- RTP ---------------------------------------------------------------------------------------------


@dataclass
class RtpPacket:
    payload_type: int
    marker: bool
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    source: tuple[str, int]
    arrived: float


def rtp_bytes(payload_type: int, payload: bytes, *, sequence: int, timestamp: int, ssrc: int,
              marker: bool = False) -> bytes:
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | payload_type, sequence & 0xFFFF,
                       timestamp & 0xFFFFFFFF, ssrc) + payload


def parse_rtp(data: bytes, source: tuple[str, int]) -> RtpPacket:
    _vpxcc, mpt, seq, ts, ssrc = struct.unpack("!BBHII", data[:12])
    return RtpPacket(mpt & 0x7F, bool(mpt & 0x80), seq, ts, ssrc, data[12:], source, time.monotonic())


def telephone_event(event: int, *, end: bool, duration: int, volume: int = 10) -> bytes:
    return struct.pack("!BBH", event, (0x80 if end else 0) | volume, duration)


class RtpPeer:
    """An RTP socket on 127.0.0.1 that records every packet it receives, with its arrival time."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.port = int(self.sock.getsockname()[1])
        self.packets: list[RtpPacket] = []
        self._arrived = threading.Condition()
        self._closed = False
        self.sequence = 1000
        self.timestamp = 160_000
        self.ssrc = 0x12345678
        self._thread = threading.Thread(target=self._run, name=f"rtp-peer-{self.port}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._closed:
            try:
                data, source = self.sock.recvfrom(4096)
            except OSError:
                return
            if len(data) < 12:
                continue
            with self._arrived:
                self.packets.append(parse_rtp(data, source))
                self._arrived.notify_all()

    def since(self, t: float) -> list[RtpPacket]:
        with self._arrived:
            return [p for p in self.packets if p.arrived >= t]

    def wait_packets(self, count: int, *, after: float = 0.0, timeout: float = 5.0) -> list[RtpPacket]:
        """Block until ``count`` packets have arrived after time ``after``; returns them (TimeoutError if not)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                got = [p for p in self.packets if p.arrived >= after]
                if len(got) >= count:
                    return got
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"only {len(got)} of {count} RTP packets within {timeout} s")
                self._arrived.wait(remaining)

    def send(self, dest: tuple[str, int], payload_type: int, payload: bytes, *, marker: bool = False,
             timestamp: int | None = None, advance: int = 160) -> None:
        self.sequence += 1
        ts = self.timestamp if timestamp is None else timestamp
        self.sock.sendto(rtp_bytes(payload_type, payload, sequence=self.sequence, timestamp=ts, ssrc=self.ssrc,
                                   marker=marker), dest)
        if timestamp is None:
            self.timestamp += advance

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self.sock.close()


def decode(payloads: Iterable[bytes], payload_type: int) -> bytes:
    """16-bit PCM of concatenated G.711 payloads (the exact decode)."""
    data = b"".join(payloads)
    return audioop.ulaw2lin(data, 2) if payload_type == 0 else audioop.alaw2lin(data, 2)
