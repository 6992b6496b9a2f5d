"""The RTP timeout against a real SIP/RTP peer: a caller whose phone vanishes without a BYE (its RTP simply
stops) is taken as hung up, our BYE goes out and the agent is free again; a caller holding the call
(a=sendonly) sends no RTP and is not cut. The caller is the raw peer of tests/sip/raw.py through Kamailio
into a real rfcvoip worker running the real call flow; the agent's side is the flow's fake leg."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hotline.standins import confirmable
from routing.agents import AgentProfile
from routing.distributor import Distributor, FlowSettings
from routing.queues import parse_config
from telephony.pyvoip import RfcvoipLeg, SipWorker
from tests.fakes import TIMEOUT, FakeDialer, FakeTranscriber, Recorder, hold_music
from tests.peers import free_port
from tests.sip.harness import HOST, HOTLINE, edge, running_worker
from tests.sip.raw import OutboundCall, RtpPeer, SipMessage, SipPeer, response_to, sdp_offer

pytestmark = pytest.mark.integration

RTP_TIMEOUT = 1.0


class EndRecorder(Recorder):
    """The fake case recorder, with an event set when the call's end is recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.done = threading.Event()

    def ended(self, call_id: str, at: datetime, outcome: str, hangup_by: str) -> None:
        super().ended(call_id, at, outcome, hangup_by)
        self.done.set()


class Setup:
    def __init__(self, kamailio_port: int, recorder: EndRecorder, distributor: Distributor,
                 dialer: FakeDialer) -> None:
        self.address = (HOST, kamailio_port)
        self.recorder, self.distributor, self.dialer = recorder, distributor, dialer
        self.peer, self.rtp = SipPeer(), RtpPeer()

    def call(self) -> tuple[OutboundCall, SipMessage]:
        call = OutboundCall(self.peer, f"sip:{HOTLINE}@{HOST}:{self.address[1]}", self.address)
        ok = call.invite(sdp_offer(self.rtp.port))
        assert ok.status == 200, ok
        return call, ok

    def talk_until_bridged(self, ok: SipMessage) -> None:
        """The caller talks (a packet each 20 ms, as a phone would) until the agent hears them."""
        target = (ok.sdp().address, ok.sdp().audio().port)
        next_at = time.monotonic()
        for _ in range(int(TIMEOUT / 0.02)):
            self.rtp.send(target, 0, b"\x7f" * 160)
            legs = self.dialer.legs.get("1001")
            if legs and legs[0].heard.is_set():
                return
            next_at += 0.02
            time.sleep(max(0.0, next_at - time.monotonic()))
        raise AssertionError("the caller was never bridged to the agent")

    def keep_talking(self, ok: SipMessage, seconds: float) -> None:
        target = (ok.sdp().address, ok.sdp().audio().port)
        next_at = time.monotonic()
        for _ in range(int(seconds / 0.02)):
            self.rtp.send(target, 0, b"\x7f" * 160)
            next_at += 0.02
            time.sleep(max(0.0, next_at - time.monotonic()))

    def bye_from_worker(self, call: OutboundCall, timeout: float) -> SipMessage:
        bye = self.peer.wait(lambda m: not m.is_response and m.method == "BYE" and m.call_id == call.call_id,
                             timeout)
        self.peer.send(response_to(bye, 200, "OK"), bye.source)
        return bye


@contextmanager
def flow(tmp_path: Path) -> Iterator[Setup]:
    recorder = EndRecorder()
    config = parse_config({"queues": {"general": {"ring_timeout": 5, "numbers": [HOTLINE]}}})
    distributor = Distributor(config=config, recorder=recorder, transcriber=FakeTranscriber(),
                              clock=lambda: datetime.now(UTC),
                              settings=FlowSettings(hold_audio=hold_music, rtp_timeout=RTP_TIMEOUT, media_poll=0.1))
    distributor.update_rota([AgentProfile("1001")], ["1001"])
    dialer = FakeDialer({"1001": "answer"})

    def on_call(worker: SipWorker, leg: RfcvoipLeg) -> None:
        distributor.handle(confirmable(leg), dialer, worker.name, HOTLINE)

    sip_port = free_port()
    with edge(tmp_path / "edge", [sip_port]) as kamailio, running_worker(kamailio, sip_port, on_call=on_call):
        setup = Setup(kamailio.config.port, recorder, distributor, dialer)
        try:
            yield setup
        finally:
            setup.peer.close()
            setup.rtp.close()
            distributor.stop()


def rtp_timeouts(recorder: Recorder) -> list[Any]:
    return [e for e in recorder.log if e[0] == "rtp_timeout"]


def test_a_caller_gone_without_a_bye_is_hung_up_and_the_agent_freed(tmp_path: Path) -> None:
    with flow(tmp_path) as setup:
        call, ok = setup.call()
        setup.talk_until_bridged(ok)  # bridged to the agent and talking...
        agent = setup.dialer.legs["1001"][0]
        setup.keep_talking(ok, 2 * RTP_TIMEOUT)  # a live caller is never cut, however long
        assert not setup.recorder.done.is_set(), "a caller sending RTP was taken as gone"
        # ...then the phone vanishes: no more RTP, and no BYE ever
        setup.bye_from_worker(call, RTP_TIMEOUT + TIMEOUT)
        assert setup.recorder.done.wait(TIMEOUT)
        assert setup.recorder.end_record()[2:] == ("answered", "caller")
        [(_, _, detail)] = rtp_timeouts(setup.recorder)
        assert detail["leg"] == "caller" and detail["idle_s"] >= RTP_TIMEOUT
        assert agent.ended.is_set()
        assert setup.distributor.acd.agent("1001").state == "available"


def test_a_held_call_is_not_cut_and_the_timer_starts_again_at_un_hold(tmp_path: Path) -> None:
    with flow(tmp_path) as setup:
        call, ok = setup.call()
        setup.talk_until_bridged(ok)
        held = call.reinvite(sdp_offer(setup.rtp.port, direction="sendonly", version=2))
        assert held.status == 200
        # on hold the phone sends nothing: three times the timeout, and the call is still up
        assert not setup.recorder.done.wait(3 * RTP_TIMEOUT), "a held call was cut"
        resumed_at = time.monotonic()
        assert call.reinvite(sdp_offer(setup.rtp.port, direction="sendrecv", version=3)).status == 200
        setup.bye_from_worker(call, RTP_TIMEOUT + TIMEOUT)  # off hold and still silent: now it is dead
        assert time.monotonic() - resumed_at >= RTP_TIMEOUT * 0.9
        assert setup.recorder.done.wait(TIMEOUT)
        assert rtp_timeouts(setup.recorder)[0][2]["leg"] == "caller"
        assert setup.distributor.acd.agent("1001").state == "available"
