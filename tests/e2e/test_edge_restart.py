"""Kamailio dies in the middle of a bridged call: the service restarts it, says so in its log and in /health,
and the caller's BYE, sent while the edge was down, still reaches the worker once the edge is back (the
caller's phone retransmits it, RFC 3261 timer E), so the agent is free again in seconds. Then the next call
rings the agent at once: the restarted edge read its registration from the database.

Before: nothing restarted Kamailio (nothing was logged either); the BYE was lost and the agent stayed
``on_call`` until the RTP timeout (30 s). And a Kamailio whose main process had been killed left its workers
holding the SIP port, so the next ``hotline serve`` exited 1 ("Something already answers SIP").
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from hotline.db import make_engine
from telephony.edgestore import EdgeStore
from tests.e2e.conftest import RunningService, relaunch, stop_service
from tests.peers import sip_ping_ok
from tests.procs import alive, group_processes, kamailio_main
from tests.sip.harness import tone_wav

pytestmark = pytest.mark.e2e


def kamailio_group(service: RunningService) -> tuple[int, list[int]]:
    """The service's Kamailio: its main process (the leader of its group) and every live process of the group."""
    main = kamailio_main(service.data_dir / "kamailio")
    return main, group_processes(main)


def bound(service: RunningService) -> set[str]:
    """The identities whose registration the edge has written to the database."""
    engine = make_engine(service.env["HOTLINE_DATABASE_URL"])
    try:
        return {b.username for b in EdgeStore(engine).bindings()}
    finally:
        engine.dispose()


def health(service: RunningService) -> dict[str, Any]:
    """/health's body, whatever its status (503 while the edge is down)."""
    return dict(httpx.get(service.base_url + "/health", timeout=5).json())


def agent_state(service: RunningService, extension: str) -> str:
    return str(service.get(f"/api/v1/agents/{extension}/state")["state"])


def log_events(service: RunningService) -> list[dict[str, Any]]:
    return [json.loads(line) for line in service.log_text().splitlines() if line.startswith("{")]


def poll(condition: Any, timeout: float, what: str, service: RunningService) -> float:
    """Poll ``condition`` until it holds; returns when (monotonic). AssertionError with the log's tail if not."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} not within {timeout} s; log:\n{service.log_text()[-3000:]}"
        time.sleep(0.1)
    return time.monotonic()


def test_kamailio_killed_mid_call_comes_back_and_the_lost_bye_frees_the_agent(tmp_path: Path,
                                                                                service_factory) -> None:
    voice = tone_wav(tmp_path / "voice.wav", 180)
    service = service_factory(on_shift=["1001"], off_shift=[])
    agent = service.phone(tmp_path, "1001", speak=voice)
    caller = service.phone(tmp_path, "5550701", speak=voice)
    second = service.phone(tmp_path, "5550702", speak=voice)
    try:
        for phone in (agent, caller, second):
            phone.wait_registered()
        service.answered_call(caller, agent, "5550701")
        assert agent_state(service, "1001") == "on_call"
        assert health(service)["components"]["kamailio"]["up"]
        main, group = kamailio_group(service)
        # The edge writes registrations to the database every 2 s: the agent's is there before the edge dies.
        poll(lambda: "1001" in bound(service), 10, "the agent's binding in the database", service)

        # The edge stops dead (frozen, then killed: whatever it had received is lost), and the caller hangs up
        # while it is down. The caller's phone has sent its BYE into the dead edge and retransmits it.
        os.killpg(main, signal.SIGSTOP)
        agent.saw("REGISTER_OK")  # every event so far is kept in agent.seen: what comes next is new
        seen_before_kill = len(agent.seen)
        caller.hangup()
        caller.wait_event("CALL_CLOSED", 5)
        os.killpg(main, signal.SIGKILL)
        killed = time.monotonic()

        back = poll(lambda: health(service)["components"]["kamailio"].get("restarts") == 1
                    and health(service)["components"]["kamailio"]["up"], 10, "Kamailio's restart", service)
        assert not [pid for pid in group if alive(pid)], "processes of the killed Kamailio live on"
        edge = health(service)["components"]["kamailio"]
        assert edge["pid"] not in (None, main) and edge["last_exit"]["signal"] == "SIGKILL"
        assert edge["last_restart_at"] and edge["error"] is None
        events = log_events(service)
        (died,) = [e for e in events if e["event"] == "kamailio.died"]
        assert died["level"] == "error" and died["signal"] == "SIGKILL"
        assert events.index(died) < next(i for i, e in enumerate(events) if e["event"] == "kamailio.restarted")

        # The retransmitted BYE reaches the worker through the new edge: the agent is free in seconds.
        freed = poll(lambda: agent_state(service, "1001") == "available", 10, "the agent freed", service)
        agent.wait_event("CALL_CLOSED", 5)  # the worker's BYE to the agent went through the new edge too
        case = service.wait_call_closed(caller="5550701", timeout=30)
        (call,) = case["calls"]
        assert (call["outcome"], call["hangup_by"], call["agent_extension"]) == ("answered", "caller", "1001")

        # Registrations are kept in the database: the restarted edge rings the agent's phone at once, without
        # the phone registering again (baresip would only at 90 % of the 60 s it registered for).
        service.answered_call(second, agent, "5550702", ring=10)
        rung = time.monotonic()
        assert "REGISTER_OK" not in [e.get("type") for e in agent.seen[seen_before_kill:]]
        second.hangup()
        done = service.wait_call_closed(caller="5550702", timeout=60)
    finally:
        for phone in (agent, caller, second):
            phone.stop()
    (call,) = done["calls"]
    assert (call["outcome"], call["agent_extension"]) == ("answered", "1001")
    print(f"\nKamailio back {back - killed:.2f} s after the kill; agent freed {freed - back:.2f} s after that; "
          f"agent's phone rung again {rung - back:.1f} s after the restart, without registering again")


def test_a_kamailio_left_by_a_killed_service_does_not_stop_the_next_start(service_factory) -> None:
    service = service_factory(on_shift=["1001"], off_shift=[])
    main, group = kamailio_group(service)
    # Kamailio's main process is killed and the service dies before it can react (frozen first).
    os.kill(service.process.pid, signal.SIGSTOP)
    os.kill(main, signal.SIGKILL)
    os.killpg(service.process.pid, signal.SIGKILL)
    service.process.wait(10)
    orphans = [pid for pid in group if pid != main and alive(pid)]
    assert orphans and sip_ping_ok(*service.sip), "the killed main process's workers did not hold the port"

    restarted = relaunch(service)  # before: "hotline serve exited" (1, Something already answers SIP)
    try:
        assert not [pid for pid in orphans if alive(pid)], "the orphaned Kamailio processes live on"
        (ended,) = [e for e in log_events(restarted) if e["event"] == "kamailio.stale_group_ended"]
        assert ended["pgid"] == main and sorted(ended["pids"]) == sorted(orphans)
        assert health(restarted)["components"]["kamailio"]["up"]
    finally:
        stop_service(restarted)
