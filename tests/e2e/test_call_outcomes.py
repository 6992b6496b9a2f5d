"""Every way a call can end, on real peers: abandoned in the queue or while an agent rings, an agent who
does not answer (the next one rings), the agent hanging up first, and a rota edit taking effect live."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.audio import make_speech_track

pytestmark = pytest.mark.e2e


@pytest.fixture
def talk(tmp_path: Path) -> Path:
    return make_speech_track(tmp_path / "talk.wav", [(1.0, "good morning how can I help you")], 120)


def dial(service, phone) -> None:
    phone.dial(f"sip:{service.hotline}@{service.sip[0]}:{service.sip[1]}")
    phone.wait_event("CALL_ESTABLISHED", 10)


def test_caller_abandons_in_the_queue(tmp_path: Path, service_factory, talk: Path) -> None:
    service = service_factory(on_shift=[], off_shift=["1001"])
    agent = service.phone(tmp_path, "1001", speak=talk)
    caller = service.phone(tmp_path, "5550201", speak=talk)
    try:
        agent.wait_registered()
        caller.wait_registered()
        dial(service, caller)
        waiting = service.wait_waiting(1)  # answered by the worker, queued: nobody is on shift to ring
        assert waiting[0]["ringing"] == []  # no agent rings it
        caller.hangup()
        case = service.wait_call_closed(caller="5550201")
    finally:
        agent.stop()
        caller.stop()
    (call,) = case["calls"]
    assert (call["outcome"], call["hangup_by"], call["agent_extension"]) == ("abandoned", "caller", None)
    assert [e["kind"] for e in call["events"]][:2] == ["started", "queued"]
    assert not agent.saw("CALL_INCOMING"), "an off-shift agent was rung"


def test_unanswered_agent_then_next_agent_then_agent_hangs_up(tmp_path: Path, service_factory, talk: Path) -> None:
    service = service_factory(on_shift=["1001", "1002"], off_shift=[], ring_timeout=3)
    first = service.phone(tmp_path, "1001", speak=talk)  # rings, never answers
    second = service.phone(tmp_path, "1002", speak=talk)
    caller = service.phone(tmp_path, "5550202", speak=talk)
    try:
        for phone in (first, second, caller):
            phone.wait_registered()
        dial(service, caller)
        first.wait_event("CALL_INCOMING", 10)
        first.wait_event("CALL_CLOSED", 10)  # the ring timeout cancelled it
        second.wait_event("CALL_INCOMING", 10)
        second.command("accept")
        second.wait_event(("CALL_ESTABLISHED", "CALL_RTPESTAB"), 10)
        service.wait_answered("5550202")
        second.hangup()  # the agent ends the call
        caller.wait_event("CALL_CLOSED", 10)  # ... and the caller's leg goes with it
        case = service.wait_call_closed(caller="5550202")
    finally:
        for phone in (first, second, caller):
            phone.stop()
    (call,) = case["calls"]
    assert (call["outcome"], call["hangup_by"], call["agent_extension"]) == ("answered", "agent", "1002")
    rang = [(e["kind"], e["detail"].get("agent")) for e in call["events"] if e["kind"] in ("ringing", "no_answer")]
    assert rang[:3] == [("ringing", "1001"), ("no_answer", "1001"), ("ringing", "1002")]


def test_caller_abandons_while_the_agent_rings(tmp_path: Path, service_factory, talk: Path) -> None:
    service = service_factory(on_shift=["1001"], off_shift=[], ring_timeout=30)
    agent = service.phone(tmp_path, "1001", speak=talk)
    caller = service.phone(tmp_path, "5550203", speak=talk)
    try:
        agent.wait_registered()
        caller.wait_registered()
        dial(service, caller)
        agent.wait_event("CALL_INCOMING", 10)
        caller.hangup()
        agent.wait_event("CALL_CLOSED", 10)  # the agent's phone stops ringing
        case = service.wait_call_closed(caller="5550203")
    finally:
        agent.stop()
        caller.stop()
    (call,) = case["calls"]
    assert (call["outcome"], call["hangup_by"]) == ("abandoned", "caller")
    abandoned = [e for e in call["events"] if e["kind"] == "abandoned"]
    assert abandoned and abandoned[0]["detail"].get("while_ringing") == "1001"
    agents = service.get("/health")["components"]["routing"]["agents"]
    assert {a["extension"]: a["state"] for a in agents}["1001"] == "available"


def test_a_rota_edit_routes_the_waiting_caller_at_once(tmp_path: Path, service_factory, talk: Path) -> None:
    service = service_factory(on_shift=[], off_shift=["1001"])
    agent = service.phone(tmp_path, "1001", speak=talk)
    caller = service.phone(tmp_path, "5550204", speak=talk)
    try:
        agent.wait_registered()
        caller.wait_registered()
        dial(service, caller)
        assert not agent.saw("CALL_INCOMING")
        document = {"agents": [{"extension": "1001", "name": "Agent 1001", "level": 1}],
                    "weekly": [{"agent": "1001", "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                                "start": s, "end": e, "timezone": "UTC"}
                               for s, e in (("00:00", "12:00"), ("12:00", "24:00"))],
                    "shifts": []}
        response = httpx.post(service.base_url + "/api/v1/rota/import", json=document, headers=service.headers,
                              timeout=10)
        assert response.status_code == 200, response.text
        agent.wait_event("CALL_INCOMING", 10)  # the supervisor's edit reached routing without a restart
        agent.command("accept")
        agent.wait_event(("CALL_ESTABLISHED", "CALL_RTPESTAB"), 10)
        service.wait_answered("5550204")
        caller.hangup()
        case = service.wait_call_closed(caller="5550204")
    finally:
        agent.stop()
        caller.stop()
    (call,) = case["calls"]
    assert (call["outcome"], call["agent_extension"]) == ("answered", "1001")
