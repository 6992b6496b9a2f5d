"""The transcript of a call is live while it runs (Server-Sent Events from the real service) and survives
a crash of the whole service: the restarted service transcribes the call's spooled audio onto its case."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.audio import make_speech_track
from tests.e2e.conftest import MODEL, final_segments_of_both, relaunch, stop_service

pytestmark = pytest.mark.e2e


def test_live_transcript_then_crash_then_transcript_recovered_from_the_spool(
        tmp_path: Path, service_factory) -> None:
    if not MODEL.exists():
        pytest.fail(f"speech model missing at {MODEL}: run 'hotline models install'")
    caller_track = make_speech_track(tmp_path / "caller.wav", [(1.0, "my printer is not working")], 60)
    agent_track = make_speech_track(tmp_path / "agent.wav", [(4.0, "good morning how can I help you")], 60)
    service = service_factory(on_shift=["1001"], off_shift=[])
    agent = service.phone(tmp_path, "1001", speak=agent_track)
    caller = service.phone(tmp_path, "5550401", speak=caller_track)
    restarted = None
    try:
        for phone in (agent, caller):
            phone.wait_registered()
        call_id = service.answered_call(caller, agent, "5550401")["sip_call_id"]

        live = final_segments_of_both(service.base_url, service.headers, call_id, timeout=30)  # while the call is up
        assert "printer" in live["caller"]["text"] and "morning" in live["agent"]["text"], live
        assert live["caller"]["words"] and not agent.saw("CALL_CLOSED")

        os.killpg(service.process.pid, signal.SIGKILL)  # the whole service dies mid-call
        service.process.wait(10)
        agent.hangup()
        restarted = relaunch(service)
        deadline = time.monotonic() + 60
        call = restarted.get(f"/api/v1/calls/{call_id}")
        while call["transcript_status"] != "done" and time.monotonic() < deadline:
            time.sleep(0.25)
            call = restarted.get(f"/api/v1/calls/{call_id}")
    finally:
        for phone in (agent, caller):
            phone.stop()
        if restarted is not None:
            stop_service(restarted)
    assert (call["outcome"], call["transcript_status"]) == ("interrupted", "done"), call
    texts = {s["speaker"]: " ".join(x["text"] for x in call["segments"] if x["speaker"] == s["speaker"])
             for s in call["segments"]}
    assert "printer" in texts.get("caller", ""), call["segments"]
    assert "morning" in texts.get("agent", ""), call["segments"]
