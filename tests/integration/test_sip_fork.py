"""A forked INVITE answered twice: Kamailio forks the worker's INVITE to every phone an agent has registered,
and when two answer, both 2xx reach the worker. The first wins; every other 2xx is ACKed and BYEd at once in
its own dialog, so its audio never mixes into the agent leg; a retransmission of the winner is only ACKed.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from telephony.leg import LegState
from telephony.pyvoip import RfcvoipLeg
from tests.audio import tone_ratio
from tests.peers import Baresip, free_port
from tests.sip.harness import HOST, WorkerUnderTest, edge, running_worker, tone_wav
from tests.sip.raw import RtpPeer, SipMessage, SipPeer, new_tag, register, response_to, sdp_offer

pytestmark = pytest.mark.integration


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[tuple[str, int], WorkerUnderTest]]:
    sip_port = free_port()
    with edge(tmp_path / "edge", [sip_port]) as kamailio, running_worker(kamailio, sip_port) as worker:
        yield (HOST, kamailio.config.port), worker


def request_from_worker(peer: SipPeer, method: str, to_tag: str, timeout: float = 3.0) -> SipMessage:
    return peer.wait(lambda m: not m.is_response and m.method == method and m.to_tag == to_tag, timeout)


def test_second_answer_of_a_forked_invite_is_acked_and_byed(setup: tuple[tuple[str, int], WorkerUnderTest]) -> None:
    """A raw agent answers the worker's INVITE twice, with two To-tags (what Kamailio passes on when two
    phones of one agent answer). rfcvoip ACKed the second 200 and kept it: that phone stayed in a call no one
    ends, sending its audio to the agent leg's port."""
    registrar, worker = setup
    agent = SipPeer("1005")
    first_rtp, second_rtp = RtpPeer(), RtpPeer()
    try:
        assert register(agent, registrar).status == 200
        with ThreadPoolExecutor(1) as pool:
            dialled = pool.submit(worker.worker.dial, "1005")
            invite = agent.wait(lambda m: m.method == "INVITE" and not m.is_response, 5)
            first, second = new_tag(), new_tag()
            won = response_to(invite, 200, "OK", contact=agent.contact, to_tag=first, record_route=True,
                              body=sdp_offer(first_rtp.port))
            agent.send(won, invite.source)
            leg = dialled.result(5)
        assert leg.wait_answered(3)
        request_from_worker(agent, "ACK", first)
        # The second phone's 200, after the first was taken (sent after its ACK, so that Kamailio's two
        # processes cannot swap the two answers).
        agent.send(response_to(invite, 200, "OK", contact=agent.contact, to_tag=second, record_route=True,
                               body=sdp_offer(second_rtp.port)), invite.source)
        request_from_worker(agent, "ACK", second)
        bye = request_from_worker(agent, "BYE", second)
        assert bye.source == registrar  # through Kamailio, which Record-Routed the dialog
        assert bye.uri == f"sip:1005@{HOST}:{agent.port}"  # the second answer's Contact

        agent.send(won, invite.source)  # the winner's 200 again: ACKed again, nothing more
        request_from_worker(agent, "ACK", first)
        assert not [m for m in agent.received if m.method == "BYE" and m.to_tag == first]
        assert leg.state is LegState.ANSWERED
        first_rtp.wait_packets(5, after=time.monotonic(), timeout=3)  # the leg's audio goes to the winner only
        assert not second_rtp.packets
        leg.hangup()
        request_from_worker(agent, "BYE", first)
    finally:
        agent.close()
        first_rtp.close()
        second_rtp.close()


def tone_of(leg: RfcvoipLeg, frames: int, freqs: tuple[float, float]) -> tuple[float, float]:
    samples: list[int] = []
    for _ in range(frames):
        frame = leg.read_frame()
        assert frame is not None, "the leg ended"
        samples.extend(struct.unpack(f"<{len(frame) // 2}h", frame))
    return tone_ratio(samples, 8000, freqs[0]), tone_ratio(samples, 8000, freqs[1])


def first_of(phones: list[Baresip], event: str, timeout: float) -> Baresip | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for phone in phones:
            if phone.saw(event):
                return phone
        time.sleep(0.02)
    return None


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def test_two_phones_of_one_agent_answer_and_one_is_hung_up(tmp_path: Path,
                                                             setup: tuple[tuple[str, int], WorkerUnderTest]) -> None:
    """Two baresip phones registered as 1001 auto-answer the same forked call. The worker hangs up the one
    whose 200 came second within a second or two; the other stays bridged, and its tone is what the leg
    reads (600 Hz from one phone, 1000 Hz from the other)."""
    registrar, worker = setup
    freqs = (600.0, 1000.0)
    phones = [Baresip(tmp_path / f"phone{i}", user="1001", registrar=registrar, auto_answer=True,
                      speak=tone_wav(tmp_path / f"tone{i}.wav", freq=freq)) for i, freq in enumerate(freqs)]
    try:
        for phone in phones:
            phone.start()
            phone.wait_registered()
        leg = worker.worker.dial("1001")
        assert leg.wait_answered(5)
        assert wait_for(lambda: all(p.saw("CALL_ESTABLISHED") for p in phones), 5), \
            "only one phone answered: Kamailio cancelled the other first (no forked answers to test)"
        loser = first_of(phones, "CALL_CLOSED", 2.0)
        assert loser is not None, "the second answer was not hung up"
        winner = phones[1 - phones.index(loser)]
        assert not winner.saw("CALL_CLOSED")
        tone_of(leg, 10, freqs)  # what was buffered while both phones sent
        ratios = tone_of(leg, 50, freqs)
        mine = freqs.index(freqs[phones.index(winner)])
        assert ratios[mine] > 0.5 and ratios[1 - mine] < 0.05, ratios
        assert leg.state is LegState.ANSWERED and not winner.saw("CALL_CLOSED")
        leg.hangup()
        winner.wait_event("CALL_CLOSED", 5)
    finally:
        for phone in phones:
            phone.stop()
