"""A crash in the middle of a call loses nothing: the call is closed as interrupted on restart, and the
restarted worker (same SIP port, fresh Call-IDs) takes the next call through Kamailio."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.audio import make_speech_track
from tests.e2e.conftest import relaunch, stop_service
from tests.peers import sip_ping_ok

pytestmark = pytest.mark.e2e


def test_crash_mid_call_then_restart(tmp_path: Path, service_factory) -> None:
    talk = make_speech_track(tmp_path / "talk.wav", [(1.0, "good morning how can I help you")], 120)
    service = service_factory(on_shift=["1001"], off_shift=[])
    agent = service.phone(tmp_path, "1001", speak=talk)
    first = service.phone(tmp_path, "5550301", speak=talk)
    second = service.phone(tmp_path, "5550302", speak=talk)
    restarted = None
    try:
        for phone in (agent, first, second):
            phone.wait_registered()
        service.answered_call(first, agent, "5550301")

        os.killpg(service.process.pid, signal.SIGKILL)  # the whole service dies at once, mid-call
        service.process.wait(10)
        assert not sip_ping_ok(*service.sip), "Kamailio outlived the service that started it"
        agent.hangup()  # the agent's phone gives up on the dead call (the caller's will time out)

        restarted = relaunch(service)
        calls = restarted.get("/api/v1/cases", caller="5550301")["items"]
        case = restarted.get(f"/api/v1/cases/{calls[0]['id']}")
        (call,) = case["calls"]
        assert (call["outcome"], call["hangup_by"]) == ("interrupted", "system")
        assert call["ended_at"] is not None
        queue_log = [e["kind"] for e in restarted.get("/api/v1/queue-log", call_id=call["sip_call_id"])]
        assert queue_log[:3] == ["enter", "ring", "answer"] and queue_log[-1] == "interrupted"

        # Kamailio's registrations live in memory: after the restart each phone is reachable again once it
        # re-registers (on its own timer; here the agent's phone is restarted, which registers at once).
        agent.stop()
        agent = restarted.phone(tmp_path, "1001", speak=talk)
        agent.wait_registered()
        restarted.answered_call(second, agent, "5550302", ring=20)
        second.hangup()
        done = restarted.wait_call_closed(caller="5550302")
    finally:
        for phone in (agent, first, second):
            phone.stop()
        if restarted is not None:
            stop_service(restarted)
    (call,) = done["calls"]
    assert (call["outcome"], call["agent_extension"]) == ("answered", "1001")
