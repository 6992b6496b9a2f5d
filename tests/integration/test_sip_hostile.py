"""Hostile SIP and RTP against a hotline worker, straight to its own port and through the Kamailio edge; the
worker's thread health and its OPTIONS probe.

One Kamailio and one worker serve every parametrized case (module fixture). After each hostile message the
worker must have answered it as RFC 3261 says (400 when the request carries what a response needs, the
method's own answer when it is merely odd, nothing for a response or a request without Via, From, To,
Call-ID or CSeq), logged each malformed one exactly once (``sip.malformed``), and a real call through the
edge must still complete: INVITE, 200, ACK, the worker's audio, BYE.
"""

from __future__ import annotations

import audioop
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from structlog.testing import capture_logs

from telephony.kamailio import Kamailio
from telephony.probe import options_probe
from tests.peers import free_port
from tests.sip.harness import (
    HOST,
    HOTLINE,
    INJECTED,
    WorkerUnderTest,
    edge,
    kill_rtp_receive_thread,
    kill_sip_receive_thread,
    running_worker,
    tone_frames,
    wait_until,
)
from tests.sip.raw import (
    OutboundCall,
    RtpPeer,
    SipMessage,
    SipPeer,
    new_tag,
    parse_sip,
    request,
    sdp_offer,
)

pytestmark = pytest.mark.integration


def short_tone() -> Iterator[bytes]:
    return tone_frames(seconds=3.0)


@dataclass
class Hostile:
    kamailio: Kamailio
    worker: WorkerUnderTest
    sip_port: int
    attacker: SipPeer  # sends the hostile messages and keeps what comes back
    caller: SipPeer  # places the real calls
    rtp: RtpPeer

    @property
    def edge_address(self) -> tuple[str, int]:
        return HOST, self.kamailio.config.port

    @property
    def worker_address(self) -> tuple[str, int]:
        return HOST, self.sip_port

    def call_completes(self) -> None:
        """A real call through the edge: answered with 200, the worker's audio arrives, BYE answered 200."""
        call = OutboundCall(self.caller, f"sip:{HOTLINE}@{HOST}:{self.kamailio.config.port}", self.edge_address)
        ok = call.invite(sdp_offer(self.rtp.port), timeout=5)
        assert ok.status == 200, ok
        self.rtp.wait_packets(5, after=time.monotonic(), timeout=3)
        assert call.bye().status == 200


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    sip_port = free_port()
    with edge(tmp_path_factory.mktemp("hostile") / "edge", [sip_port]) as kamailio, \
            running_worker(kamailio, sip_port, frames=short_tone) as worker:
        setup = Hostile(kamailio, worker, sip_port, SipPeer("5550666"), SipPeer("5550101"), RtpPeer())
        try:
            yield setup
        finally:
            setup.attacker.close()
            setup.caller.close()
            setup.rtp.close()


# --- the hostile messages ---------------------------------------------------------------------------

Build = Callable[[SipPeer, str], bytes]


def without(header: str, method: str = "INVITE") -> Build:
    def build(peer: SipPeer, uri: str) -> bytes:
        body = sdp_offer(40000) if method == "INVITE" else ""
        lines = request(peer, method, uri, body=body).split("\r\n")
        return "\r\n".join(line for line in lines if not line.lower().startswith(header.lower() + ":")).encode()
    return build


def options(peer: SipPeer, uri: str) -> str:
    return request(peer, "OPTIONS", uri)


def replaced(old: str, new: str, method: str = "OPTIONS", body: str = "") -> Build:
    def build(peer: SipPeer, uri: str) -> bytes:
        text = request(peer, method, uri, body=body)
        assert old in text, (old, text)
        return text.replace(old, new, 1).encode("utf-8", "surrogateescape")
    return build


def invite_with_sdp(sdp: str) -> Build:
    return lambda peer, uri: request(peer, "INVITE", uri, body=sdp).encode()


def response(status: str, *, method: str = "INVITE") -> Build:
    def build(peer: SipPeer, uri: str) -> bytes:
        return (f"SIP/2.0 {status}\r\nVia: {peer.via()}\r\nFrom: <{uri}>;tag={new_tag()}\r\n"
                f"To: <sip:{peer.user}@{HOST}>;tag={new_tag()}\r\nCall-ID: {uuid.uuid4().hex}\r\n"
                f"CSeq: 1 {method}\r\nContact: <sip:{peer.user}@127.0.0.2:5999>\r\nContent-Length: 0\r\n\r\n").encode()
    return build


def oversized(peer: SipPeer, uri: str) -> bytes:
    text = request(peer, "OPTIONS", uri)
    return text.replace("Content-Length: 0", "X-Padding: " + "x" * 20000 + "\r\nContent-Length: 0").encode()


def noise(_peer: SipPeer, _uri: str) -> bytes:
    return bytes(random.Random(12).randrange(256) for _ in range(1400))


def unterminated(peer: SipPeer, uri: str) -> bytes:
    return request(peer, "OPTIONS", uri).rstrip("\r\n").encode()


def sdp(replace: dict[str, str]) -> str:
    """The raw peer's SDP offer with ``replace``'s keys replaced by its values."""
    text = sdp_offer(40000)
    for old, new in replace.items():
        assert old in text, (old, text)
        text = text.replace(old, new)
    return text


HUGE_FORMATS = " ".join(str(n % 128) for n in range(2048))


@dataclass(frozen=True)
class Case:
    build: Build
    reply: int | None  # the worker's final answer when the message is sent straight to it; None: nothing
    malformed: bool  # the worker logs it as sip.malformed (once)


CASES: dict[str, Case] = {
    # a request missing each required header in turn
    "invite-without-via": Case(without("Via"), None, True),
    "invite-without-from": Case(without("From"), None, True),
    "invite-without-to": Case(without("To"), None, True),
    "invite-without-call-id": Case(without("Call-ID"), None, True),
    "invite-without-cseq": Case(without("CSeq"), None, True),
    "options-without-from": Case(without("From", "OPTIONS"), None, True),
    "options-without-to": Case(without("To", "OPTIONS"), None, True),
    "options-without-cseq": Case(without("CSeq", "OPTIONS"), None, True),
    "bye-without-from": Case(without("From", "BYE"), None, True),
    "options-without-max-forwards": Case(without("Max-Forwards", "OPTIONS"), 200, False),  # a UAS needs none
    # framing and encoding
    "unterminated-headers": Case(unterminated, 400, True),
    "binary-noise": Case(noise, None, True),
    "oversized-datagram": Case(oversized, 400, True),  # 20 kB: rfcvoip reads 8 kB, so its headers never end
    "invalid-utf8": Case(replaced("From: <", "From: \udcff\udcfe <"), 400, True),
    "request-uri-not-sip": Case(replaced(f"OPTIONS sip:{HOTLINE}@", "OPTIONS http://"), 400, True),
    "garbage-via": Case(replaced("Via: SIP/2.0/UDP", "Via: nonsense"), 400, True),
    # methods and responses that match nothing
    "unknown-method": Case(lambda p, u: request(p, "FROBNICATE", u).encode(), 501, False),
    "stray-200": Case(response("200 OK"), None, False),  # not even ACKed
    "stray-180": Case(response("180 Ringing"), None, False),
    "stray-481": Case(response("481 Call/Transaction Does Not Exist"), None, False),
    "stray-200-to-options": Case(response("200 OK", method="OPTIONS"), None, False),
    "bye-for-unknown-call": Case(lambda p, u: request(p, "BYE", u).encode(), 481, False),
    "cancel-for-unknown-call": Case(lambda p, u: request(p, "CANCEL", u).encode(), 481, False),
    "ack-for-unknown-call": Case(lambda p, u: request(p, "ACK", u).encode(), None, False),
    "reinvite-for-unknown-call": Case(lambda p, u: request(p, "INVITE", u, to=f"<{u}>;tag=gone",
                                                           body=sdp_offer(40000)).encode(), 481, False),
    # numbers that are not
    "cseq-not-a-number": Case(replaced("CSeq: 1 OPTIONS", "CSeq: one OPTIONS"), 400, True),
    "cseq-negative": Case(replaced("CSeq: 1 OPTIONS", "CSeq: -1 OPTIONS"), 400, True),
    "cseq-too-large": Case(replaced("CSeq: 1 OPTIONS", "CSeq: 99999999999 OPTIONS"), 400, True),
    "cseq-other-method": Case(replaced("CSeq: 1 OPTIONS", "CSeq: 1 BYE"), 400, True),
    "content-length-not-a-number": Case(replaced("Content-Length: 0", "Content-Length: zero"), 400, True),
    "content-length-negative": Case(replaced("Content-Length: 0", "Content-Length: -5"), 400, True),
    "content-length-beyond-body": Case(replaced("Content-Length: 0", "Content-Length: 300", method="BYE"),
                                       400, True),
    # odd SDP
    "sdp-without-c": Case(invite_with_sdp(sdp({"c=IN IP4 127.0.0.1\r\n": ""})), 488, True),
    "sdp-without-m": Case(invite_with_sdp("v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=x\r\nc=IN IP4 127.0.0.1\r\n"
                                          "t=0 0\r\n"), 488, False),
    "sdp-port-not-a-number": Case(invite_with_sdp(sdp({"m=audio 40000": "m=audio forty"})), 400, True),
    "sdp-host-name": Case(invite_with_sdp(sdp({"c=IN IP4 127.0.0.1": "c=IN IP4 rtp.example.org"})), 488, True),
    "sdp-garbage-rtpmap": Case(invite_with_sdp(sdp({"RTP/AVP 0 8 101": "RTP/AVP 96",
                                                     "a=rtpmap:0 PCMU/8000": "a=rtpmap:96 \x7f~garbage~/x/y"})),
                               488, False),
    "sdp-huge-format-list": Case(invite_with_sdp(sdp({"RTP/AVP 0 8 101": "RTP/AVP 96 " + HUGE_FORMATS})), 200,
                                 False),
}


def replies_to(setup: Hostile, data: bytes) -> list[SipMessage]:
    """Send ``data`` to the worker, then an OPTIONS from the same socket: the worker reads its socket in
    order and answers in order, so once the OPTIONS is answered, any answer to ``data`` has arrived too.
    Returns what came back for ``data``."""
    attacker = setup.attacker
    seen = len(attacker.received)
    attacker.send(data, setup.worker_address)
    sync = uuid.uuid4().hex
    attacker.send(request(attacker, "OPTIONS", f"sip:{HOST}:{setup.sip_port}", call_id=sync), setup.worker_address)
    attacker.response(sync, "OPTIONS", timeout=3)
    return [m for m in attacker.received[seen:] if m.call_id != sync]


def end_answered_invite(setup: Hostile, data: bytes, answer: SipMessage, next_hop: tuple[str, int]) -> None:
    """ACK and BYE a call the worker answered (an odd but acceptable INVITE): no half-open call is left."""
    sent = parse_sip(data)
    call = OutboundCall(setup.attacker, sent.uri, next_hop)
    call.call_id, call.from_tag, call.cseq = sent.call_id, sent.from_tag, sent.cseq[0]
    call.accept(answer)
    assert call.bye().status == 200, data[:80]


@pytest.mark.parametrize("name", list(CASES))
def test_worker_answers_a_hostile_message_and_takes_the_next_call(hostile: Hostile, name: str) -> None:
    case = CASES[name]
    data = case.build(hostile.attacker, f"sip:{HOTLINE}@{HOST}:{hostile.sip_port}")
    with capture_logs() as logs:
        replies = replies_to(hostile, data)
        if case.reply == 200 and data.startswith(b"INVITE"):  # answered by the call flow, in its own thread
            replies.append(hostile.attacker.response(parse_sip(data).call_id, "INVITE", timeout=3))
    finals = {m.status for m in replies if m.is_response and m.status >= 200}
    assert finals == ({case.reply} if case.reply else set()), [str(m) for m in replies]
    assert not [m for m in replies if not m.is_response], "the worker sent a request (an ACK to a stray?)"
    malformed = [e for e in logs if e["event"] == "sip.malformed"]
    assert len(malformed) == (1 if case.malformed else 0), malformed
    if malformed:
        assert malformed[0]["source"] == f"{HOST}:{hostile.attacker.port}" and malformed[0]["reason"]
        assert malformed[0]["answered"] == (case.reply if case.reply in (400, 488) else None)
    if case.reply == 200 and data.startswith(b"INVITE"):
        end_answered_invite(hostile, data, replies[-1], hostile.worker_address)
    worker = hostile.worker.worker
    assert worker.alive and worker.failure is None, worker.status()
    hostile.call_completes()


@pytest.mark.parametrize("name", list(CASES))
def test_edge_passes_no_hostile_message_that_harms_the_worker(hostile: Hostile, name: str) -> None:
    case = CASES[name]
    data = case.build(hostile.attacker, f"sip:{HOTLINE}@{HOST}:{hostile.kamailio.config.port}")
    hostile.attacker.send(data, hostile.edge_address)
    if case.reply == 200 and data.startswith(b"INVITE"):  # passed on and answered: end the call it made
        answer = hostile.attacker.response(parse_sip(data).call_id, "INVITE", timeout=3)
        end_answered_invite(hostile, data, answer, hostile.edge_address)
    assert hostile.kamailio.running()
    hostile.call_completes()
    worker = hostile.worker.worker
    assert worker.alive and worker.failure is None, worker.status()


# --- RTP -------------------------------------------------------------------------------------------

VALID = bytes([0x80, 0x00, 0, 1, 0, 0, 0, 160, 1, 2, 3, 4]) + b"\xff" * 160  # PCMU, 20 ms of silence


def not_rtp() -> list[bytes]:
    """Datagrams that are not RTP anyone could read."""
    return [
        b"", b"\x80", b"\x80\x00\x00",  # shorter than a header
        bytes([0x40]) + VALID[1:],  # version 1
        bytes([0x00]) + VALID[1:],  # version 0
        bytes([0x8F]) + VALID[1:12],  # 15 CSRCs announced, none there
        bytes([0x90]) + VALID[1:12] + b"\x00",  # an extension announced, cut short
        bytes([0xA0]) + VALID[1:12] + b"\x00" * 4 + b"\xff",  # padding longer than the payload
        bytes([0x80, 77]) + VALID[2:],  # a payload type nobody offered
    ] * 5


def odd_rtp() -> list[bytes]:
    """Well-formed RTP headers with odd contents, and random noise (some of it looks like RTP)."""
    rng = random.Random(5)
    return [
        bytes([0x80, 101]) + VALID[2:12] + b"\x01",  # a telephone-event of one byte
        bytes([0x80, 101]) + VALID[2:12] + b"\xff\xff\xff\xff",  # event 255
        VALID[:12] + b"\x00" * 8000,  # a huge payload
        VALID[:8] + b"\x99\x99\x99\x99" + b"\x00" * 3,  # another source, 3 samples
        *(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400))) for _ in range(300)),
    ]


def send_paced(packets: list[bytes], target: tuple[str, int]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for packet in packets:
            sock.sendto(packet, target)
            time.sleep(0.002)  # paced like a sender, so the kernel drops none


def test_malformed_rtp_does_not_stop_the_calls_media(hostile: Hostile) -> None:
    """Short, wrong-version, truncated, unknown and random packets sent to a call's RTP port are dropped: no
    thread of the worker dies, the worker keeps sending its audio, reads the caller's next real frames, and
    does not take what is not RTP for media (its media-idle clock keeps running)."""
    call = OutboundCall(hostile.caller, f"sip:{HOTLINE}@{HOST}:{hostile.kamailio.config.port}", hostile.edge_address)
    ok = call.invite(sdp_offer(hostile.rtp.port))
    assert ok.status == 200
    leg = hostile.worker.next_call()
    while leg.call_id != ok.call_id:
        leg = hostile.worker.next_call()
    target = (ok.sdp().address, ok.sdp().audio().port)
    started = time.monotonic()
    send_paced(not_rtp(), target)
    idle = leg.media_idle()
    assert idle is not None and idle >= time.monotonic() - started - 0.05, "noise was taken for media"
    send_paced(odd_rtp(), target)
    hostile.rtp.wait_packets(10, after=time.monotonic(), timeout=3)  # the worker still sends its audio
    expected = audioop.ulaw2lin(b"\x2a" * 160, 2)  # PCMU: one steady sample value
    heard = threading.Event()

    def read() -> None:
        for _ in range(250):
            if leg.read_frame() == expected:
                heard.set()
                return

    threading.Thread(target=read, daemon=True).start()
    for _ in range(150):
        hostile.rtp.send(target, 0, b"\x2a" * 160)
        if heard.wait(0.02):
            break
    assert heard.is_set(), "the caller's frames after the noise were not read"
    idle = leg.media_idle()
    assert idle is not None and idle < 1.0
    assert call.bye().status == 200
    worker = hostile.worker.worker
    assert worker.alive and worker.failure is None, worker.status()


# --- thread deaths and the probe ---------------------------------------------------------------------

def test_probe_passes_for_a_live_worker_and_its_edge(hostile: Hostile) -> None:
    result = hostile.worker.worker.probe(1.0)
    assert result and result.status == 200, result.detail
    assert options_probe(*hostile.edge_address, timeout=1.0)


def fake_ua(answer: Callable[[SipMessage, SipPeer], object]) -> SipPeer:
    """A UDP endpoint that calls ``answer`` for every request it gets (and answers nothing by itself)."""
    peer = SipPeer("fake", auto_answer=False)

    def run() -> None:
        try:
            while True:
                answer(peer.wait(lambda m: not m.is_response, timeout=5), peer)
        except (TimeoutError, OSError):
            return

    threading.Thread(target=run, daemon=True).start()
    return peer


def respond(message: SipMessage, *, status: str = "200 OK", call_id: str | None = None, branch: str | None = None,
            cseq: str | None = None) -> str:
    via = message.header("via")
    if branch is not None:
        via = via.replace(via.split("branch=")[1].split(";")[0], branch)
    return (f"SIP/2.0 {status}\r\nVia: {via}\r\nFrom: {message.header('from')}\r\n"
            f"To: {message.header('to')};tag=x\r\nCall-ID: {call_id or message.call_id}\r\n"
            f"CSeq: {cseq or message.header('cseq')}\r\nContent-Length: 0\r\n\r\n")


@pytest.mark.parametrize(("what", "reply", "ok"), [
    ("the matching 200", lambda m: respond(m), True),
    ("the matching 100, then nothing", lambda m: respond(m, status="100 Trying"), False),
    ("another Call-ID", lambda m: respond(m, call_id="other@x"), False),
    ("another branch", lambda m: respond(m, branch="z9hG4bKother"), False),
    ("another CSeq number", lambda m: respond(m, cseq="999999999 OPTIONS"), False),
    ("another CSeq method", lambda m: respond(m, cseq=m.header("cseq").replace("OPTIONS", "INVITE")), False),
    ("garbage", lambda _m: "\x00garbage\r\n\r\n", False),
    ("a refusal", lambda m: respond(m, status="503 Service Unavailable"), False),
])
def test_probe_accepts_only_its_own_transactions_answer(what: str, reply: Callable[[SipMessage], str],
                                                         ok: bool) -> None:
    fake = fake_ua(lambda m, peer: peer.send(reply(m), m.source))
    try:
        result = options_probe(HOST, fake.port, timeout=0.6)
    finally:
        fake.close()
    assert bool(result) is ok, (what, result.detail)


def test_probe_ignores_an_answer_from_another_address() -> None:
    """The matching 200, but sent from another socket: not the probed address, so not its answer."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
        other.bind((HOST, 0))
        fake = fake_ua(lambda m, _peer: other.sendto(respond(m).encode(), m.source))
        try:
            result = options_probe(HOST, fake.port, timeout=0.6)
        finally:
            fake.close()
    assert not result, result.detail


def test_probe_of_a_closed_port_fails_at_once() -> None:
    port = free_port()
    started = time.monotonic()
    result = options_probe(HOST, port, timeout=2.0)
    assert not result and time.monotonic() - started < 0.5, result.detail


@pytest.fixture
def second_worker(hostile: Hostile) -> Iterator[WorkerUnderTest]:
    """A worker of its own (registered to the shared edge), for tests that break it."""
    with running_worker(hostile.kamailio, free_port(), name="hotline-2", frames=short_tone) as worker:
        yield worker


def test_a_dead_receive_thread_is_seen_and_fails_the_probe(second_worker: WorkerUnderTest) -> None:
    """rfcvoip's SIP receive thread died in silence (the worker deaf, /health content). Its death is logged
    with its traceback, the worker is marked failed with a sentence, and the OPTIONS probe fails."""
    worker = second_worker.worker
    assert worker.alive and worker.failure is None and worker.probe(1.0)
    with capture_logs() as logs:
        kill_sip_receive_thread(worker)
    assert worker.failure == f"Its SIP receive thread died: RuntimeError: {INJECTED}."
    assert not worker.alive and worker.registered
    assert worker.status()["up"] is False and worker.status()["failure"] == worker.failure
    died = [e for e in logs if e["event"] == "worker.thread_died"]
    assert len(died) == 1 and died[0]["worker"] == "hotline-2" and died[0]["thread"] == "SIP Receive"
    assert isinstance(died[0]["exc_info"], RuntimeError)
    result = worker.probe(0.6)
    assert not result and result.status is None, result.detail


def test_a_dead_rtp_thread_marks_its_worker_failed(hostile: Hostile, second_worker: WorkerUnderTest) -> None:
    worker = second_worker.worker
    call = OutboundCall(hostile.caller, f"sip:{HOTLINE}@{HOST}:{worker.sip_port}", (HOST, worker.sip_port))
    assert call.invite(sdp_offer(hostile.rtp.port)).status == 200
    leg = second_worker.next_call()
    with capture_logs() as logs:
        kill_rtp_receive_thread(leg)
        wait_until(lambda: worker.failure is not None, 2, "the RTP thread's death to be seen")
    assert worker.failure == f"Its RTP receive thread died: RuntimeError: {INJECTED}."
    assert not worker.alive
    died = [e for e in logs if e["event"] == "worker.thread_died"]
    assert died and died[0]["thread"] == "RTP Receiver" and died[0]["worker"] == "hotline-2"
    assert call.bye().status == 200


def test_a_dead_media_reader_marks_its_worker_failed(hostile: Hostile, second_worker: WorkerUnderTest) -> None:
    """media.LegReader's thread ending with an exception (here: reading the leg raises) reports it through
    the leg: logged, and the worker carrying the leg is marked failed."""
    from telephony.media import LegReader

    worker = second_worker.worker
    call = OutboundCall(hostile.caller, f"sip:{HOTLINE}@{HOST}:{worker.sip_port}", (HOST, worker.sip_port))
    assert call.invite(sdp_offer(hostile.rtp.port)).status == 200
    leg = second_worker.next_call()

    def broken_read() -> bytes | None:
        raise ValueError("a broken codec")

    leg.read_frame = broken_read  # type: ignore[method-assign]
    reader = LegReader(leg, "caller")
    reader.start()
    assert reader.ended.wait(2)
    assert worker.failure == "Its media reader thread (caller) died: ValueError: a broken codec."
    assert call.bye().status == 200

