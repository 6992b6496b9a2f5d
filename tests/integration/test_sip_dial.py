"""The worker dialling an agent through Kamailio: every way an agent's phone can fail to answer ends the
attempt quickly, and a ring timeout really cancels the agent's phone. Peers: baresip, sipp, raw SIP.

rfcvoip's ``call()`` waits up to 30 s holding the SIP lock for a provisional answer, never retransmits the
INVITE and offers no way to cancel meanwhile; the adapter's ``dial`` does neither.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from telephony.leg import DialFailed, LegState
from telephony.media import LegReader, Player
from telephony.pyvoip import RfcvoipLeg, SipWorker
from tests.audio import read_wav, rms, tone_ratio, window
from tests.peers import Baresip, free_port
from tests.sip.harness import (
    HOST,
    HOTLINE,
    WorkerUnderTest,
    edge,
    rtp_block,
    running_worker,
    tone_frames,
    tone_wav,
    wait_until,
)
from tests.sip.raw import RtpPeer, SipPeer, decode, register, response_to, sdp_offer
from tests.sip.sipp import Sipp

pytestmark = pytest.mark.integration


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[tuple[str, int], WorkerUnderTest]]:
    sip_port = free_port()
    with edge(tmp_path / "edge", [sip_port]) as kamailio, running_worker(kamailio, sip_port) as worker:
        yield (HOST, kamailio.config.port), worker


def sipp_agent(tmp_path: Path, registrar: tuple[str, int], scenario: str, user: str = "1003",
               timeout_s: int = 30) -> Sipp:
    """A sipp UAS playing ``scenario``, registered at Kamailio as ``user``."""
    port = free_port()
    peer = SipPeer(user)
    try:
        assert register(peer, registrar, contact_port=port).status == 200
    finally:
        peer.close()
    return Sipp(scenario, tmp_path, port, timeout_s=timeout_s).start()


def baresip_agent(tmp_path: Path, registrar: tuple[str, int], user: str, **kwargs: object) -> Baresip:
    phone = Baresip(tmp_path, user=user, registrar=registrar, speak=tone_wav(tmp_path / f"{user}.wav"),
                    **kwargs)  # type: ignore[arg-type]
    phone.start()
    phone.wait_registered()
    return phone


def test_busy_agent_ends_the_attempt_at_once(tmp_path: Path, setup) -> None:
    registrar, worker = setup
    agent = baresip_agent(tmp_path, registrar, "1001")
    try:
        started = time.monotonic()
        leg = worker.worker.dial("1001")
        assert leg.state is LegState.RINGING and time.monotonic() - started < 1.0
        agent.wait_event("CALL_INCOMING", 5)
        agent.hangup()  # baresip rejects the ringing call: 486 Busy Here
        rejected = time.monotonic()
        assert not leg.wait_answered(10)
        assert leg.state is LegState.ENDED  # type: ignore[comparison-overlap]  # mypy narrowed it above
        assert time.monotonic() - rejected < 1.0, "the 486 did not end the attempt at once"
    finally:
        agent.stop()


def test_declining_agent_fails_the_dial_at_once(tmp_path: Path, setup) -> None:
    registrar, worker = setup
    sipp = sipp_agent(tmp_path, registrar, "uas_decline.xml")
    started = time.monotonic()
    with pytest.raises(DialFailed, match="603"):
        worker.worker.dial("1003")
    assert time.monotonic() - started < 1.0
    assert sipp.wait(10) == 0, sipp.log()  # ... and the 603 was ACKed


def test_unregistered_extension_fails_the_dial_at_once(setup) -> None:
    _registrar, worker = setup
    started = time.monotonic()
    with pytest.raises(DialFailed, match="404"):
        worker.worker.dial("1999")  # Kamailio: 404 Not Found
    assert time.monotonic() - started < 1.0


def test_callee_that_never_rings_is_cancelled_without_blocking_sip(tmp_path: Path, setup) -> None:
    """A callee that only says 100 Trying: rfcvoip's call() blocked 30 s holding the SIP lock (no other call
    could be dialled meanwhile) and left the INVITE pending; now the dial gives up after ``invite_timeout``
    with a CANCEL, and other calls go on meanwhile."""
    registrar, worker = setup
    sipp = sipp_agent(tmp_path, registrar, "uas_trying_then_cancel.xml")
    outcome: list[BaseException | None] = []

    def dial_silent() -> None:
        try:
            worker.worker.dial("1003")
        except BaseException as exc:
            outcome.append(exc)
        else:
            outcome.append(None)

    started = time.monotonic()
    dialling = threading.Thread(target=dial_silent)
    dialling.start()
    # Meanwhile the worker still dials others: a 404 comes back at once, not after the silent callee.
    wait_until(lambda: "INVITE sip:" in sipp.log(), what="the INVITE reaching the silent callee")
    with pytest.raises(DialFailed) as refused:
        worker.worker.dial("1999")
    assert time.monotonic() - started < 1.5, "dialling stalled behind the silent callee"
    assert "404" in str(refused.value)
    dialling.join(15)
    elapsed = time.monotonic() - started
    assert isinstance(outcome[0], DialFailed) and "did not ring" in str(outcome[0])
    assert worker.worker.invite_timeout - 0.1 <= elapsed < worker.worker.invite_timeout + 1.5
    assert sipp.wait(10) == 0, sipp.log()  # the CANCEL reached the callee and its 487 was ACKed


def test_ring_timeout_cancels_the_agent(tmp_path: Path, setup) -> None:
    registrar, worker = setup
    sipp = sipp_agent(tmp_path, registrar, "uas_ring_then_cancel.xml")
    leg = worker.worker.dial("1003")
    assert leg.state is LegState.RINGING
    assert not leg.wait_answered(1.0)  # the ring timeout (1 s here) passes unanswered
    leg.hangup()
    assert leg.state is LegState.ENDED  # type: ignore[comparison-overlap]  # mypy narrowed it above
    assert sipp.wait(10) == 0, sipp.log()  # the agent's phone got the CANCEL, and its 487 was ACKed
    assert "CANCEL sip:" in sipp.log()


def test_answer_crossing_the_cancel_is_ended(tmp_path: Path, setup) -> None:
    """The agent picks up as the ring timeout fires: the 200 OK crosses our CANCEL. rfcvoip ACKed it and
    left the agent in a silent call; the adapter ACKs it and sends a BYE."""
    registrar, worker = setup
    sipp = sipp_agent(tmp_path, registrar, "uas_answer_after_cancel.xml", timeout_s=10)
    leg = worker.worker.dial("1003")
    leg.hangup()
    assert sipp.wait(15) == 0, sipp.log()  # it received the ACK for its 200, then the BYE
    assert leg.state is LegState.ENDED


def test_invite_with_digest_challenge_is_resent_with_credentials(tmp_path: Path, setup) -> None:
    registrar, worker = setup
    sipp = sipp_agent(tmp_path, registrar, "uas_challenge.xml")
    leg = worker.worker.dial("1003")  # 401, then the INVITE again with credentials that sipp verifies
    assert leg.state is LegState.RINGING
    leg.hangup()
    assert sipp.wait(10) == 0, sipp.log()


def test_invite_is_retransmitted_until_the_first_response(tmp_path: Path) -> None:
    """RFC 3261 timer A on a lossy hop: the proxy (a raw peer here) ignores the first INVITE; the worker
    sends the same INVITE again after T1 (0.5 s), and stops once any response arrives."""
    proxy = SipPeer("edge")  # answers REGISTER 200 on its own; INVITEs are the test's to answer
    worker = SipWorker(name="hotline-1", password="x", registrar=(HOST, proxy.port), host=HOST,
                       sip_port=free_port(), rtp_ports=rtp_block(), hotline_number=HOTLINE,
                       on_call=lambda _w, _leg: None)
    worker.start()
    try:
        assert worker.wait_registered(5)
        result: list[object] = []
        dialling = threading.Thread(target=lambda: result.append(worker.dial("1003")))
        dialling.start()

        def is_invite(m) -> bool:
            return not m.is_response and m.method == "INVITE"

        first = proxy.wait(is_invite, 2)
        again = proxy.wait(is_invite, 2)
        assert again.call_id == first.call_id and again.all("via") == first.all("via")
        assert 0.35 < again.received_at - first.received_at < 0.9
        proxy.send(response_to(again, 180, "Ringing", contact=f"<sip:1003@{HOST}:{proxy.port}>"), again.source)
        dialling.join(5)
        assert result and getattr(result[0], "state", None) is LegState.RINGING
        with pytest.raises(TimeoutError):  # no more retransmissions once the callee has answered
            proxy.wait(is_invite, 1.5)
    finally:
        worker.stop()
        proxy.close()


def test_agent_call_outlives_45_seconds(tmp_path: Path, setup) -> None:
    """pyVoIP's ACK made strict phones drop agent calls at 32 s; rfcvoip's must hold (guard)."""
    registrar, worker = setup
    agent = baresip_agent(tmp_path, registrar, "1001", auto_answer=True)
    player = None
    try:
        leg = worker.worker.dial("1001")
        assert leg.wait_answered(5)
        player = Player(leg, tone_frames(), "agent-tone")
        player.start()
        agent.wait_event("CALL_ESTABLISHED", 5)
        with pytest.raises(TimeoutError):
            agent.wait_event("CALL_CLOSED", 47)  # nothing ends the call for 47 s
        assert leg.state is LegState.ANSWERED
        player.stop()
        leg.hangup()
        agent.wait_event("CALL_CLOSED", 5)
    finally:
        if player is not None:
            player.stop()
        agent.stop()
    heard, rate = read_wav(agent.recordings()[0])
    assert rms(window(heard, rate, 45.0, 46.0)) > 1000, "the agent heard nothing at 45 s"
    assert tone_ratio(window(heard, rate, 45.0, 45.5), rate, 1000.0) > 0.5


def test_callee_audio_sent_with_its_answer_is_read_from_the_first_frame(tmp_path: Path) -> None:
    """rfcvoip binds an outbound call's RTP socket only when it handles the callee's 200 OK, so a frame the
    callee sends right after its 200 reaches a closed port and is lost (the agent leg started 20 ms late in
    the transcript). The adapter binds the socket when it sends the INVITE: every frame is read, in order."""
    proxy = SipPeer("edge")  # registrar and callee in one: answers the worker's INVITE itself
    rtp = RtpPeer()
    worker = SipWorker(name="hotline-1", password="x", registrar=(HOST, proxy.port), host=HOST,
                       sip_port=free_port(), rtp_ports=rtp_block(), hotline_number=HOTLINE,
                       on_call=lambda _w, _leg: None)
    count = 25
    payloads = [bytes(random.Random(1000 + i).randrange(256) for _ in range(160)) for i in range(count)]
    expected = decode(payloads, 0)
    frames: list[bytes] = []
    got_all = threading.Event()
    worker.start()
    try:
        assert worker.wait_registered(5)
        result: list[RfcvoipLeg] = []
        dialling = threading.Thread(target=lambda: result.append(worker.dial("1003")))
        dialling.start()
        invite = proxy.wait(lambda m: not m.is_response and m.method == "INVITE", 5)
        target = (HOST, invite.sdp().audio().port)
        contact = f"<sip:1003@{HOST}:{proxy.port}>"
        proxy.send(response_to(invite, 180, "Ringing", contact=contact, to_tag="callee"), invite.source)
        dialling.join(5)
        assert result and result[0].state is LegState.RINGING
        leg = result[0]
        body = sdp_offer(rtp.port, payloads=(0, 101))
        ok = response_to(invite, 200, "OK", contact=contact, to_tag="callee").replace(
            "Content-Length: 0", f"Content-Type: application/sdp\r\nContent-Length: {len(body.encode())}")
        proxy.send(ok + body, invite.source)
        next_at = time.monotonic()
        for payload in payloads:  # the first frame leaves with the 200, as a phone's does; then one per 20 ms
            rtp.send(target, 0, payload)
            next_at += 0.02
            time.sleep(max(0.0, next_at - time.monotonic()))
        assert leg.wait_answered(2)
        reader = LegReader(leg, "agent")

        def sink(frame: bytes) -> None:
            frames.append(frame)
            if expected in b"".join(frames):
                got_all.set()

        reader.add_sink(sink)
        reader.start()
        got_all.wait(2)
        leg.hangup()
        assert reader.ended.wait(2)
    finally:
        worker.stop()
        proxy.close()
        rtp.close()
    stream = b"".join(frames)
    assert decode(payloads[:1], 0) in stream, "the callee's first frame, sent with its 200 OK, was lost"
    assert expected in stream, "some of the callee's frames never reached the reader"
