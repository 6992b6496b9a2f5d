"""Routing on real peers through ``hotline serve``: a level-1 call overflowing to level 2, and a queued
callback completed (the caller presses * in the queue, hangs up, is called back and bridged to the agent).
Ring-no-answer moving to the next agent is ``test_call_outcomes.test_unanswered_agent_then_next_agent...``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.audio import make_speech_track
from tests.e2e.conftest import TRUNK_HOST, RunningService, start_service, stop_service
from tests.peers import free_sip_port

pytestmark = pytest.mark.e2e

EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def write_rota(path: Path, agents: dict[str, int]) -> Path:
    """Every agent (extension: level) on shift all day, every day."""
    path.write_text(yaml.safe_dump({
        "agents": [{"extension": e, "name": f"Agent {e}", "level": level} for e, level in agents.items()],
        "weekly": [{"agent": e, "days": EVERY_DAY, "start": s, "end": end, "timezone": "UTC"}
                   for e in agents for s, end in (("00:00", "12:00"), ("12:00", "24:00"))],
        "shifts": [],
    }))
    return path


@pytest.fixture
def talk(tmp_path: Path) -> Path:
    return make_speech_track(tmp_path / "talk.wav", [(1.0, "good morning how can I help you")], 120)


@pytest.fixture
def launch(tmp_path: Path, database_url: str) -> Iterator[Any]:
    started: list[RunningService] = []

    def factory(agents: dict[str, int], queues: dict[str, Any], **env: str) -> RunningService:
        rota = write_rota(tmp_path / "rota.yaml", agents)
        queue_file = tmp_path / "queues.yaml"
        queue_file.write_text(yaml.safe_dump(queues))
        service = start_service(tmp_path, database_url, rota, ring_timeout=8,
                                extra_env={"HOTLINE_QUEUE_FILE": str(queue_file), **env})
        started.append(service)
        return service

    yield factory
    for service in started:
        stop_service(service)


def post(service: RunningService, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = httpx.post(service.base_url + path, json=body, headers=service.headers, timeout=10)
    assert response.status_code == 200, response.text
    return dict(response.json())


def dial(service: RunningService, phone: Any) -> None:
    phone.dial(f"sip:{service.hotline}@{service.sip[0]}:{service.sip[1]}")
    phone.wait_event("CALL_ESTABLISHED", 10)


def test_a_level_1_call_overflows_to_level_2(tmp_path: Path, launch: Any, talk: Path) -> None:
    service = launch({"1001": 1, "2001": 2}, {
        "default_queue": "level1",
        "queues": {
            "level1": {"numbers": ["100"], "tiers": [{"level": 1}], "max_wait": 3, "overflow_to": "level2",
                       "announce_every": None},
            "level2": {"tiers": [{"level": 2}], "announce_every": None},
        },
    })
    level1 = service.phone(tmp_path, "1001", speak=talk, auto_answer=True)
    level2 = service.phone(tmp_path, "2001", speak=talk, auto_answer=True)
    caller = service.phone(tmp_path, "5550301", speak=talk)
    try:
        for phone in (level1, level2, caller):
            phone.wait_registered()
        assert post(service, "/api/v1/agents/1001/pause", {"reason": "training"})["state"] == "paused"
        dial(service, caller)
        waiting = service.wait_waiting(1)
        assert waiting[0]["queue"] == "level1"
        level2.wait_event("CALL_ESTABLISHED", 15)  # after the 3 s max wait, in the level-2 queue
        service.wait_answered("5550301")
        caller.hangup()
        case = service.wait_call_closed(caller="5550301")
        level1_metrics = service.get("/api/v1/queues/level1/metrics")
        level2_metrics = service.get("/api/v1/queues/level2/metrics")
    finally:
        for phone in (level1, level2, caller):
            phone.stop()
    (call,) = case["calls"]
    assert (call["outcome"], call["agent_extension"]) == ("answered", "2001")
    assert [e["detail"] for e in call["events"] if e["kind"] == "overflow"] == [{"queue": "level2"}]
    assert not level1.saw("CALL_ESTABLISHED"), "the paused level-1 agent was rung"
    assert (level1_metrics["offered"], level1_metrics["overflowed"], level1_metrics["answered"]) == (1, 1, 0)
    assert (level2_metrics["offered"], level2_metrics["answered"]) == (1, 1)
    assert level2_metrics["asa"] >= 3


def test_a_queued_callback_is_completed(tmp_path: Path, launch: Any, talk: Path) -> None:
    # The callback leaves through the trunk; here the "provider" delivers it straight to the caller's phone.
    caller_port = free_sip_port()
    service = launch({"1001": 1}, {
        "queues": {"general": {"numbers": ["100"], "tiers": [{"level": 1}], "announce_every": None}},
    }, HOTLINE_SIP_TRUNK_PROXY=f"{TRUNK_HOST}:{caller_port}")
    agent = service.phone(tmp_path, "1001", speak=talk, auto_answer=True)
    caller = service.phone(tmp_path, "5550302", speak=talk, auto_answer=True, sip_port=caller_port)
    try:
        agent.wait_registered()
        caller.wait_registered()
        post(service, "/api/v1/agents/1001/pause", {"reason": "meeting"})
        dial(service, caller)
        service.wait_waiting(1)
        caller.command("sndcode", "*")  # RFC 2833: "call me back, keep my place"
        caller.wait_event("CALL_CLOSED", 20)  # the hotline confirms and hangs up
        (waiting,) = service.wait_waiting(1)
        assert waiting["callback"] is True
        assert post(service, "/api/v1/agents/1001/available")["state"] in ("available", "ringing", "on_call")
        agent.wait_event("CALL_ESTABLISHED", 15)  # the agent first...
        caller.wait_event("CALL_ESTABLISHED", 20)  # ... then the caller is called back
        service.wait_answered("5550302")
        agent.hangup()
        case = service.wait_call_closed(caller="5550302")
    finally:
        agent.stop()
        caller.stop()
    (call,) = case["calls"]
    assert (call["outcome"], call["hangup_by"], call["agent_extension"]) == ("answered", "agent", "1001")
    kinds = [e["kind"] for e in call["events"]]
    assert kinds.index("callback_requested") < kinds.index("callback_dialled")
    assert service.wait_waiting(0) == []


def test_the_menu_choice_by_dtmf_picks_the_queue_and_sets_the_case_category(tmp_path: Path, launch: Any,
                                                                           talk: Path) -> None:
    service = launch({"1001": 1, "2001": 2}, {
        "default_queue": "general",
        "menu": {"timeout": 4, "retries": 1, "options": {"1": {"queue": "general", "category": "printer"},
                                                         "2": {"queue": "network", "category": "network"}}},
        "queues": {"general": {"numbers": ["100"], "tiers": [{"level": 1}], "announce_every": None},
                   "network": {"tiers": [{"level": 2}], "announce_every": None}},
    })
    general = service.phone(tmp_path, "1001", speak=talk, auto_answer=True)
    network = service.phone(tmp_path, "2001", speak=talk, auto_answer=True)
    caller = service.phone(tmp_path, "5550303", speak=talk)
    try:
        for phone in (general, network, caller):
            phone.wait_registered()
        dial(service, caller)
        caller.command("sndcode", "2")  # during the menu prompt: barge-in
        network.wait_event("CALL_ESTABLISHED", 15)
        service.wait_answered("5550303")
        caller.hangup()
        case = service.wait_call_closed(caller="5550303")
    finally:
        for phone in (general, network, caller):
            phone.stop()
    (call,) = case["calls"]
    assert (call["outcome"], call["agent_extension"]) == ("answered", "2001")
    assert case["category"] == "network"
    assert [e["detail"] for e in call["events"] if e["kind"] == "triage"] == [
        {"digit": "2", "queue": "network", "category": "network"}]
    assert not general.saw("CALL_ESTABLISHED")
