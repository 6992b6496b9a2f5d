"""Calls into a hotline worker through Kamailio from a raw SIP/RTP peer (tests/sip/raw.py) and from sipp:
hold and un-hold, video offers, CANCEL, DTMF, codecs, lossless reads, route set, 2xx retransmission,
unsupported methods, malformed SIP. Each test names the rfcvoip defect it guards (telephony/pyvoip.py)."""

from __future__ import annotations

import audioop
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from telephony.kamailio import Kamailio, sip_ping
from telephony.leg import DialFailed, LegState
from telephony.media import LegReader
from telephony.pyvoip import RfcvoipLeg, SipWorker
from tests.peers import free_port
from tests.sip.harness import (
    HOST,
    HOTLINE,
    WorkerUnderTest,
    edge,
    rtp_block,
    running_worker,
    tone_frames,
    wait_until,
)
from tests.sip.raw import (
    OutboundCall,
    RtpPeer,
    SipMessage,
    SipPeer,
    decode,
    request,
    sdp_offer,
    telephone_event,
)
from tests.sip.sipp import Sipp

pytestmark = pytest.mark.integration


class Edge:
    """Kamailio with one registered worker behind it, and a raw caller with an RTP socket."""

    def __init__(self, kamailio: Kamailio, worker: WorkerUnderTest, sip_port: int) -> None:
        self.kamailio = kamailio
        self.worker = worker
        self.sip_port = sip_port
        self.peer = SipPeer()
        self.rtp = RtpPeer()

    @property
    def address(self) -> tuple[str, int]:
        return HOST, self.kamailio.config.port

    def call(self) -> OutboundCall:
        """A new call from the raw peer to the hotline number, through Kamailio."""
        return OutboundCall(self.peer, f"sip:{HOTLINE}@{HOST}:{self.kamailio.config.port}", self.address)

    def close(self) -> None:
        self.peer.close()
        self.rtp.close()


@contextmanager
def edge_with(tmp_path: Path, on_call: Callable[[SipWorker, RfcvoipLeg], None] | None = None,
              ) -> Iterator[Edge]:
    sip_port = free_port()
    with edge(tmp_path / "edge", [sip_port]) as kamailio, \
            running_worker(kamailio, sip_port, on_call=on_call) as worker:
        setup = Edge(kamailio, worker, sip_port)
        try:
            yield setup
        finally:
            setup.close()


@pytest.fixture
def hotline(tmp_path: Path) -> Iterator[Edge]:
    """The worker answers every call and plays a 1 kHz tone."""
    with edge_with(tmp_path) as setup:
        yield setup


def answered(setup: Edge, sdp: str | None = None) -> tuple[OutboundCall, SipMessage]:
    call = setup.call()
    ok = call.invite(sdp or sdp_offer(setup.rtp.port))
    assert ok.status == 200, ok
    return call, ok


def audio_target(ok: SipMessage) -> tuple[str, int]:
    return ok.sdp().address, ok.sdp().audio().port


# --- hold and un-hold ------------------------------------------------------------------------------

def test_unhold_resumes_audio(hotline: Edge) -> None:
    """rfcvoip answered the un-hold re-INVITE recvonly again and never sent audio after a hold."""
    call, _ok = answered(hotline)
    hotline.rtp.wait_packets(10, after=time.monotonic())
    held = call.reinvite(sdp_offer(hotline.rtp.port, direction="sendonly", version=2))
    assert held.status == 200 and held.sdp().direction == "recvonly"
    quiet_from = time.monotonic() + 0.1  # packets already in flight may still land
    with pytest.raises(TimeoutError):
        hotline.rtp.wait_packets(1, after=quiet_from, timeout=1.0)  # on hold: the worker sends nothing
    resumed = call.reinvite(sdp_offer(hotline.rtp.port, direction="sendrecv", version=3))
    assert resumed.status == 200 and resumed.sdp().direction == "sendrecv"
    back = hotline.rtp.wait_packets(25, after=time.monotonic(), timeout=2.0)  # 50 packets/s again
    assert all(p.payload_type == 0 for p in back)
    assert call.bye().status == 200


# --- video offers ----------------------------------------------------------------------------------

@pytest.mark.parametrize("video_first", [False, True])
def test_video_offer_is_answered_with_video_refused(hotline: Edge, video_first: bool) -> None:
    """rfcvoip refused an audio+video offer with 488; RFC 3264 refuses just the stream (port 0)."""
    video = RtpPeer()
    try:
        call, ok = answered(hotline, sdp_offer(hotline.rtp.port, video_port=video.port, video_first=video_first))
        media = ok.sdp().media
        assert [m.kind for m in media] == (["video", "audio"] if video_first else ["audio", "video"])
        (refused,) = [m for m in media if m.kind == "video"]
        assert refused.port == 0 and refused.formats and refused.proto == "RTP/AVP"
        assert ok.sdp().audio().port > 0
        hotline.rtp.wait_packets(10, after=time.monotonic())  # the audio stream runs
        assert call.bye().status == 200
        assert video.packets == []
    finally:
        video.close()


# --- CANCEL ----------------------------------------------------------------------------------------

def test_cancel_in_the_first_second_reaches_the_callback(tmp_path: Path) -> None:
    """rfcvoip ran the call callback after 1 s and skipped calls cancelled by then: an abandoned call
    would go unrecorded. The callback now runs at once, and CANCEL still gets 200 + 487 (guard)."""
    seen: queue.Queue[RfcvoipLeg] = queue.Queue()
    with edge_with(tmp_path, on_call=lambda _w, leg: seen.put(leg)) as setup:
        call = setup.call()
        call.send_invite(sdp_offer(setup.rtp.port))
        call.provisional(180)
        call.cancel()
        assert call.final().status == 487
        assert setup.peer.wait(lambda m: m.is_response and m.method == "CANCEL").status == 200
        leg = seen.get(timeout=2)  # the callback saw the abandoned call
        assert leg.call_id == call.call_id
        wait_until(lambda: leg.state is LegState.ENDED, 2, "the cancelled leg ending")


def test_cancel_racing_the_answer_never_answers_a_cancelled_call(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A CANCEL handled between rfcvoip's check that the call rings and its 200 OK let a 200 go out after
    the 487, with the leg left 'answered' and nobody on it. The race is made certain here by holding the
    worker's 487 for 0.3 s while the call flow answers."""
    cancelling = threading.Event()
    outcome: queue.Queue[str] = queue.Queue()
    legs: queue.Queue[RfcvoipLeg] = queue.Queue()

    def on_call(_worker: SipWorker, leg: RfcvoipLeg) -> None:
        legs.put(leg)
        cancelling.wait(5)  # the worker is in the middle of handling the CANCEL
        try:
            leg.answer()
        except DialFailed:
            outcome.put("refused")
        else:
            outcome.put("answered")

    with edge_with(tmp_path, on_call=on_call) as setup:
        sip = setup.worker.worker._phone.sip
        send_response = sip.send_response

        def slow_487(req, response: str, send=send_response) -> None:
            if response.startswith("SIP/2.0 487"):
                cancelling.set()
                time.sleep(0.3)  # widen the window in which the answer can slip in
            send(req, response)

        monkeypatch.setattr(sip, "send_response", slow_487)
        call = setup.call()
        call.send_invite(sdp_offer(setup.rtp.port))
        call.provisional(180)
        call.cancel()
        assert call.final().status == 487
        assert outcome.get(timeout=5) == "refused"
        with pytest.raises(TimeoutError):  # no 200 OK after the 487
            setup.peer.wait(lambda m: m.is_response and m.method == "INVITE" and m.status == 200, 1.0)
        assert legs.get(timeout=1).state is LegState.ENDED


# --- which INVITEs a worker takes ------------------------------------------------------------------

def test_hotline_number_is_accepted_and_other_users_are_not(hotline: Edge) -> None:
    """rfcvoip refused INVITEs that did not name the worker's own account, such as the hotline number."""
    worker = (HOST, hotline.sip_port)
    to_hotline = OutboundCall(hotline.peer, f"sip:{HOTLINE}@{HOST}:{hotline.sip_port}", worker)
    assert to_hotline.invite(sdp_offer(hotline.rtp.port)).status == 200
    assert to_hotline.bye().status == 200
    elsewhere = OutboundCall(hotline.peer, f"sip:someone-else@{HOST}:{hotline.sip_port}", worker)
    assert elsewhere.invite(sdp_offer(hotline.rtp.port)).status == 404


def test_worker_takes_a_call_right_after_registering(tmp_path: Path) -> None:
    """rfcvoip started reading SIP 1 s after registering: a call in that second waited (Kamailio
    retransmitted at it). Rings within a fraction of that now."""
    sip_port = free_port()
    with edge(tmp_path / "edge", [sip_port]) as kamailio, running_worker(kamailio, sip_port):
        peer, rtp = SipPeer(), RtpPeer()
        try:
            call = OutboundCall(peer, f"sip:{HOTLINE}@{HOST}:{kamailio.config.port}", (HOST, kamailio.config.port))
            sent = time.monotonic()
            call.send_invite(sdp_offer(rtp.port))
            ringing = call.provisional(180)
            assert ringing.received_at - sent < 0.4
            assert call.final().status == 200
            call.bye()
        finally:
            peer.close()
            rtp.close()


# --- audio -----------------------------------------------------------------------------------------

def test_every_inbound_frame_is_read_exactly(tmp_path: Path) -> None:
    """rfcvoip's non-blocking reads skipped packets; the leg is read by blocking 20 ms reads in one thread
    (media.LegReader): every frame the caller sent arrives, exactly decoded to 16-bit."""
    frames: list[bytes] = []
    got_all = threading.Event()
    count = 150
    payloads = [bytes(random.Random(i).randrange(256) for _ in range(160)) for i in range(count)]
    expected = decode(payloads, 0)
    readers: list[LegReader] = []

    def on_call(_worker: SipWorker, leg: RfcvoipLeg) -> None:
        leg.answer()
        reader = LegReader(leg, "caller")

        def sink(frame: bytes) -> None:
            frames.append(frame)
            if expected in b"".join(frames):
                got_all.set()

        reader.add_sink(sink)
        readers.append(reader)
        reader.start()

    with edge_with(tmp_path, on_call=on_call) as setup:
        call, ok = answered(setup)
        target = audio_target(ok)
        next_at = time.monotonic()
        for payload in payloads:  # paced like a phone: one packet per 20 ms
            setup.rtp.send(target, 0, payload)
            next_at += 0.02
            time.sleep(max(0.0, next_at - time.monotonic()))
        assert got_all.wait(3), "some frames never reached the reader"
        assert call.bye().status == 200
        assert readers[0].ended.wait(2)
    stream = b"".join(frames)
    assert expected in stream
    assert len(stream) >= len(expected)


def test_pcma_caller_hears_the_exact_tone(hotline: Edge) -> None:
    """pyVoIP sent PCMA as mu-law (noise); rfcvoip encodes it right (guard): the tone decodes exactly."""
    call, ok = answered(hotline, sdp_offer(hotline.rtp.port, payloads=(8, 101)))
    assert ok.sdp().audio().formats[0] == "8"
    packets = hotline.rtp.wait_packets(100, after=time.monotonic(), timeout=4)
    assert {p.payload_type for p in packets} == {8}
    heard = decode([p.payload for p in packets], 8)
    tone = b"".join(frame for _, frame in zip(range(100), tone_frames(), strict=False))
    sent = audioop.alaw2lin(audioop.lin2alaw(tone, 2), 2)  # the tone after an exact A-law round trip
    start = heard.find(sent[:640])
    assert start >= 0, "the A-law stream does not carry the worker's tone"
    run = heard[start:]
    assert run == sent[:len(run)] and len(run) >= 50 * 320
    assert call.bye().status == 200


# --- DTMF ------------------------------------------------------------------------------------------

def send_event(rtp: RtpPeer, target: tuple[str, int], event: int, *, marker: bool) -> int:
    """One RFC 4733 event as a phone sends it: 3 packets while the key is down, then 3 identical end packets,
    all with the event's start timestamp (returned)."""
    timestamp = rtp.timestamp
    for i in range(3):
        rtp.send(target, 101, telephone_event(event, end=False, duration=160 * (i + 1)),
                 marker=marker and i == 0, timestamp=timestamp)
    for _ in range(3):
        rtp.send(target, 101, telephone_event(event, end=True, duration=640), timestamp=timestamp)
    rtp.timestamp += 800
    return timestamp


def collect_digits(leg: RfcvoipLeg, count: int, timeout: float) -> str:
    """The leg's digits once ``count`` have arrived (or all that came within ``timeout``)."""
    digits = ""
    deadline = time.monotonic() + timeout
    while len(digits) < count and time.monotonic() < deadline:
        digits += leg.digits()
        time.sleep(0.02)
    return digits + leg.digits()


def test_dtmf_without_marker_bit_and_hook_flash(tmp_path: Path) -> None:
    """rfcvoip reported a digit only when its first packet had the marker bit. Now: one digit per event
    (by its RTP timestamp), end packets repeated 3 times never repeat it, event 16 (flash) is ignored and
    the receiver goes on."""
    legs: queue.Queue[RfcvoipLeg] = queue.Queue()

    def on_call(_worker: SipWorker, leg: RfcvoipLeg) -> None:
        leg.answer()
        legs.put(leg)

    with edge_with(tmp_path, on_call=on_call) as setup:
        call, ok = answered(setup)
        leg = legs.get(timeout=2)
        target = audio_target(ok)
        send_event(setup.rtp, target, 1, marker=False)
        send_event(setup.rtp, target, 1, marker=False)  # the same key again: a new event, a second digit
        five = send_event(setup.rtp, target, 5, marker=True)
        send_event(setup.rtp, target, 16, marker=True)  # hook flash: not a digit
        nine = send_event(setup.rtp, target, 9, marker=False)
        for event, timestamp in ((9, nine), (5, five)):  # late duplicates of end packets add no digit
            setup.rtp.send(target, 101, telephone_event(event, end=True, duration=640), timestamp=timestamp)
        assert collect_digits(leg, 4, timeout=3) == "1159"
        assert leg.state is LegState.ANSWERED
        setup.rtp.wait_packets(10, after=time.monotonic())  # audio still flows after the flash
        assert call.bye().status == 200
        assert leg.digits() == ""


def test_dtmf_from_sipp_pcaps(tmp_path: Path) -> None:
    """sipp keys 1, 2, 1 from its RFC 2833 captures (marker bit set; the same capture replayed twice)."""
    legs: queue.Queue[RfcvoipLeg] = queue.Queue()

    def on_call(_worker: SipWorker, leg: RfcvoipLeg) -> None:
        leg.answer()
        legs.put(leg)

    with edge_with(tmp_path, on_call=on_call) as setup:
        sipp = Sipp("uac_dtmf.xml", tmp_path, free_port(), remote=setup.address, service=HOTLINE).start()
        assert sipp.wait(20) == 0, sipp.log()
        assert legs.get(timeout=1).digits() == "121"


# --- SIP methods and robustness --------------------------------------------------------------------

def test_options_is_answered(hotline: Edge) -> None:
    """Kamailio's dispatcher probes workers with OPTIONS; an unanswered probe takes a worker out (guard)."""
    assert sip_ping(HOST, hotline.sip_port)
    call_id = "options-probe"
    hotline.peer.send(request(hotline.peer, "OPTIONS", f"sip:{HOST}:{hotline.sip_port}", call_id=call_id),
                      (HOST, hotline.sip_port))
    ok = hotline.peer.response(call_id, "OPTIONS")
    assert ok.status == 200 and "INVITE" in ok.header("allow")


@pytest.mark.parametrize("method", ["REFER", "INFO", "UPDATE", "MESSAGE", "PRACK", "FROBNICATE"])
def test_unsupported_methods_get_501(hotline: Edge, method: str) -> None:
    """pyVoIP dropped these silently (the peer retransmits for 32 s, then gives up on the dialog); rfcvoip
    answers 501 in and out of a dialog (guard), and the call goes on."""
    call, _ok = answered(hotline)
    extra = [f"Refer-To: <sip:1001@{HOST}>"] if method == "REFER" else []
    in_dialog = call.request(method, body="hello", content_type="text/plain", extra=extra)
    assert in_dialog.status == 501, in_dialog
    hotline.rtp.wait_packets(10, after=time.monotonic())  # the call is unharmed
    assert call.bye().status == 200
    call_id = f"out-of-dialog-{method}"
    hotline.peer.send(request(hotline.peer, method, f"sip:{HOTLINE}@{HOST}:{hotline.sip_port}", call_id=call_id,
                              extra=extra), (HOST, hotline.sip_port))
    assert hotline.peer.response(call_id, method).status == 501


def malformed(peer: SipPeer, port: int) -> list[bytes]:
    valid = request(peer, "INVITE", f"sip:{HOTLINE}@{HOST}:{port}", body=sdp_offer(40000)).encode()
    return [
        bytes(random.Random(7).randrange(256) for _ in range(1200)),  # noise
        b"\x00" * 64,
        valid[: len(valid) // 3],  # cut off in the headers
        valid.replace(b"Content-Length: ", b"Content-Length: 9"),  # claims more body than there is
        valid.replace(b"CSeq: 1 INVITE", b"CSeq: one INVITE"),
        valid.replace(b"Call-ID: ", b"X-Call: "),  # no Call-ID
        valid.replace(b"Via: SIP/2.0/UDP", b"Via: SIP/9.9/UDP"),
        valid.replace(b"m=audio 40000 RTP/AVP", b"m=audio notaport RTP/AVP"),
        valid.replace(b"SIP/2.0\r\n", b"SIP/2.0\r\nX-Junk: " + b"\xff\xfe" * 20 + b"\r\n", 1),
        b"SIP/2.0 200 OK\r\n\r\n",  # a response to nothing, without headers
        b"INVITE sip:" + b"9" * 6000 + b"@" + HOST.encode() + b" SIP/2.0\r\n\r\n",
        b"\r\n\r\n",
    ]


def test_malformed_sip_is_survived_by_kamailio_and_the_worker(hotline: Edge) -> None:
    """Garbage, truncated and inconsistent messages sent to Kamailio and straight to the worker: neither
    crashes, and the next call is answered with audio (guard)."""
    for target in (hotline.address, (HOST, hotline.sip_port)):
        for data in malformed(hotline.peer, target[1]):
            hotline.peer.send(data, target)
    assert hotline.kamailio.running()
    assert sip_ping(HOST, hotline.sip_port) and sip_ping(*hotline.address)
    call, _ok = answered(hotline)
    hotline.rtp.wait_packets(10, after=time.monotonic())
    assert call.bye().status == 200


# --- dialog plumbing -------------------------------------------------------------------------------

def test_answer_carries_the_record_route_and_the_dialog_uses_it(tmp_path: Path) -> None:
    """rfcvoip left Record-Route out of its 180 and 200, so the caller's ACK, re-INVITE and BYE went straight
    to the worker around Kamailio. With it, the caller's dialog runs through Kamailio, and the worker's own
    BYE does too."""
    legs: queue.Queue[RfcvoipLeg] = queue.Queue()

    def on_call(_worker: SipWorker, leg: RfcvoipLeg) -> None:
        leg.answer()
        legs.put(leg)

    with edge_with(tmp_path, on_call=on_call) as setup:
        call = setup.call()
        call.send_invite(sdp_offer(setup.rtp.port))
        ringing = call.provisional(180)
        ok = call.final()
        kamailio_rr = f"<sip:{HOST}:{setup.kamailio.config.port};lr"
        for response in (ringing, ok):
            (route,) = response.all("record-route")
            assert route.startswith(kamailio_rr), route
        assert call.route_set and call.route_set[0].startswith(kamailio_rr)
        hold = call.reinvite(sdp_offer(setup.rtp.port, direction="sendonly", version=2))
        assert hold.status == 200 and hold.source == setup.address  # answered through Kamailio
        legs.get(timeout=2).hangup()  # the worker ends the call
        bye = setup.peer.wait(lambda m: not m.is_response and m.method == "BYE")
        assert bye.source == setup.address and bye.call_id == call.call_id


def test_answer_is_retransmitted_until_acked(hotline: Edge, monkeypatch: pytest.MonkeyPatch) -> None:
    """rfcvoip sent its 200 OK once: a lost 200 left the caller ringing and the worker talking to nobody.
    It is resent (T1, doubling) until the ACK comes; with no ACK at all the call is ended with a BYE."""
    call = hotline.call()
    call.send_invite(sdp_offer(hotline.rtp.port))

    def ok_for(cseq: int) -> Callable[[SipMessage], bool]:
        return lambda m: m.is_response and m.call_id == call.call_id and m.cseq == (cseq, "INVITE") \
            and m.status == 200

    first = hotline.peer.wait(ok_for(1))
    second = hotline.peer.wait(ok_for(1), 2)  # not ACKed: here it comes again after T1
    third = hotline.peer.wait(ok_for(1), 2)  # ... and again after 2*T1
    assert 0.35 < second.received_at - first.received_at < 0.9
    assert 0.8 < third.received_at - second.received_at < 1.5
    call.accept(third)
    with pytest.raises(TimeoutError):
        hotline.peer.wait(ok_for(1), 2.5)  # ACKed: no more
    assert call.bye().status == 200

    # A caller that never ACKs: the worker gives up after ack_timeout (32 s; 2 s here) and hangs up.
    monkeypatch.setattr(hotline.worker.worker._phone.sip, "ack_timeout", 2.0)
    silent = hotline.call()
    silent.send_invite(sdp_offer(hotline.rtp.port))
    hotline.peer.wait(lambda m: m.is_response and m.call_id == silent.call_id and m.status == 200)
    bye = hotline.peer.wait(lambda m: not m.is_response and m.method == "BYE" and m.call_id == silent.call_id, 5)
    assert bye.call_id == silent.call_id


def test_an_answered_call_is_confirmed_by_the_callers_ack(tmp_path: Path) -> None:
    """``Leg.wait_confirmed``: an inbound leg is confirmed once the caller's ACK to our 200 has come; an INVITE
    never ACKed (a spoofed or half-open call, which must not count as a caller) is not, within the timeout;
    a leg that ends first is not, at once; an outbound leg is confirmed once answered."""
    legs: queue.Queue[RfcvoipLeg] = queue.Queue()

    def on_call(_worker: SipWorker, leg: RfcvoipLeg) -> None:
        leg.answer()
        legs.put(leg)

    def answered_by_worker(call: OutboundCall) -> tuple[RfcvoipLeg, SipMessage]:
        call.send_invite(sdp_offer(setup.rtp.port))
        leg = legs.get(timeout=5)
        ok = setup.peer.wait(lambda m: m.is_response and m.call_id == call.call_id and m.status == 200)
        return leg, ok

    with edge_with(tmp_path, on_call=on_call) as setup:
        acked = setup.call()
        leg, ok = answered_by_worker(acked)
        acked.accept(ok)
        assert leg.wait_confirmed(3)
        assert acked.bye().status == 200

        silent = setup.call()
        leg, ok = answered_by_worker(silent)
        started = time.monotonic()
        assert not leg.wait_confirmed(0.8)
        assert time.monotonic() - started >= 0.8
        silent.accept(ok)  # late, but it comes: now the call is confirmed
        assert leg.wait_confirmed(3)
        assert silent.bye().status == 200

        dropped = setup.call()
        leg, _ok = answered_by_worker(dropped)
        leg.hangup()
        started = time.monotonic()
        assert not leg.wait_confirmed(5)
        assert time.monotonic() - started < 0.5, "the ended leg was waited for"

        phone = SipWorker(name="5550110", password="x", registrar=setup.address, host=HOST, sip_port=free_port(),
                          rtp_ports=rtp_block(), hotline_number="5550110", on_call=lambda _w, leg: leg.hangup())
        phone.start()
        try:
            assert phone.wait_registered(10)
            outbound = phone.dial(HOTLINE)
            assert outbound.wait_confirmed(5)
            outbound.hangup()
        finally:
            phone.stop()


def test_rfcvoip_prints_nothing_on_a_call(hotline: Edge, capfd: pytest.CaptureFixture[str]) -> None:
    """rfcvoip printed its diagnostics to stdout, in the middle of the service's JSON log lines; they go to
    structlog (debug level) now."""
    capfd.readouterr()
    with capture_logs() as logs:
        call, _ok = answered(hotline)
        hotline.rtp.wait_packets(5, after=time.monotonic())
        assert call.bye().status == 200
    out = capfd.readouterr().out
    assert "[rfcvoip" not in out, out[:500]
    assert any(entry["event"] == "rfcvoip" and entry["log_level"] == "debug" for entry in logs)


def test_a_worker_leg_sends_digits_the_other_worker_reads(tmp_path: Path) -> None:
    """``RfcvoipLeg.send_digits`` (the demo's callers answering the menu): RFC 2833 events from one rfcvoip
    phone through Kamailio are read as digits by the worker's leg."""
    legs: queue.Queue[RfcvoipLeg] = queue.Queue()

    def on_call(_worker: SipWorker, leg: RfcvoipLeg) -> None:
        leg.answer()
        legs.put(leg)

    with edge_with(tmp_path, on_call=on_call) as setup:
        phone = SipWorker(name="5550109", password="x", registrar=setup.address, host=HOST, sip_port=free_port(),
                          rtp_ports=rtp_block(), hotline_number="5550109", on_call=lambda _w, leg: leg.hangup())
        phone.start()
        try:
            assert phone.wait_registered(10)
            caller = phone.dial(HOTLINE)
            assert caller.wait_answered(5)
            answered = legs.get(timeout=5)
            assert caller.send_digits("31")
            assert collect_digits(answered, 2, 5) == "31"
            caller.hangup()
        finally:
            phone.stop()
