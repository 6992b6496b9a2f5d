"""The API runs in a process of its own, a child of ``hotline serve``: a crash of it is not a crash of the
call service (the call under way goes on, the API comes back), and it never outlives the service."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.audio import make_speech_track
from tests.e2e.conftest import api_pids, final_segments_of_both, gone, parent_of

pytestmark = pytest.mark.e2e


def test_a_crashed_api_comes_back_and_the_call_goes_on(tmp_path: Path, service_factory) -> None:
    talk = make_speech_track(tmp_path / "talk.wav", [(1.0, "my printer is not working")], 120)
    service = service_factory(on_shift=["1001"], off_shift=[])
    (first,) = api_pids(service)
    assert first != service.process.pid and parent_of(first) == service.process.pid
    agent = service.phone(tmp_path, "1001", speak=talk)
    caller = service.phone(tmp_path, "5550601", speak=talk)
    try:
        for phone in (agent, caller):
            phone.wait_registered()
        call_id = service.answered_call(caller, agent, "5550601")["sip_call_id"]

        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 30
        states: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not states:
            pids = api_pids(service)
            if len(pids) == 2:
                with contextlib.suppress(httpx.HTTPError):  # not listening yet
                    states = service.get("/api/v1/agent-states")
            if not states:
                time.sleep(0.2)
        assert states, f"the API did not come back in 30 s:\n{service.log_text()[-3000:]}"
        second = api_pids(service)[1]
        assert second != first and parent_of(second) == service.process.pid
        # The new API process reads routing across the channel: the agent is still on the call.
        assert [(s["extension"], s["state"]) for s in states] == [("1001", "on_call")]
        assert not caller.saw("CALL_CLOSED") and not agent.saw("CALL_CLOSED")
        # Its live transcript too: the new process's mirror holds what the call has said.
        finals = final_segments_of_both(service.base_url, service.headers, call_id, timeout=30)
        assert "printer" in finals["caller"]["text"] and "printer" in finals["agent"]["text"]

        caller.hangup()
        agent.wait_event("CALL_CLOSED", 10)
        case = service.wait_call_closed(caller="5550601", timeout=90)
    finally:
        for phone in (agent, caller):
            phone.stop()
    (call,) = case["calls"]
    assert (call["outcome"], call["agent_extension"]) == ("answered", "1001")
    assert "printer" in " ".join(s["text"] for s in call["segments"] if s["speaker"] == "caller")
    ended = [json.loads(line) for line in service.log_text().splitlines()
             if line.startswith("{") and '"api.ended"' in line]
    assert ended and ended[0]["exit_code"] == -signal.SIGKILL


def test_the_api_ends_with_the_service(service_factory) -> None:
    service = service_factory(on_shift=["1001"], off_shift=[])
    (api,) = api_pids(service)
    port = int(service.base_url.rsplit(":", 1)[1])
    os.kill(service.process.pid, signal.SIGKILL)  # the service's process alone, not its group
    service.process.wait(10)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not gone(api):
        time.sleep(0.1)
    assert gone(api), "the API's process outlived the service"
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", port))
