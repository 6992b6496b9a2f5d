"""A flood against the whole service (issue 12, item 7): 2,000 INVITEs that are never ACKed and 5,000 OPTIONS from
one address. It is banned after a handful of requests, a real caller is queued and answered while it goes on, and
the flood leaves no case behind, even for the few INVITEs that reached a worker before the ban.

Before: nothing limited an address, 20 INVITEs never ACKed took every slot of a worker for 32 s, and each one
opened a case."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.sip.flood import FLOODER, Flood
from tests.sip.harness import tone_wav

pytestmark = pytest.mark.e2e


def test_a_flood_is_banned_a_real_call_goes_on_and_no_case_is_opened(tmp_path: Path, service_factory: Any) -> None:
    # Anonymous callers allowed: the flood's INVITEs are calls to the hotline, the worst case for the workers.
    service = service_factory(on_shift=["1001"], off_shift=[], extra_env={
        "HOTLINE_SIP_ANONYMOUS_CALLERS": "true", "HOTLINE_ACK_TIMEOUT": "5"})
    voice = tone_wav(tmp_path / "voice.wav", 60)
    agent = service.phone(tmp_path, "1001", speak=voice)
    caller = service.phone(tmp_path, "5550901", speak=voice)
    flood = Flood(service.sip, options=5000, invites=2000, seconds=6.0)
    try:
        agent.wait_registered()
        flood.start()
        deadline = time.monotonic() + 10
        while flood.sent < 2500 and time.monotonic() < deadline:  # the INVITEs are out, the ban has struck
            time.sleep(0.01)
        call = service.answered_call(caller, agent, "5550901")
        assert flood.is_alive(), "the flood was over before the real call was answered"
        assert call["agent_extension"] == "1001"
        caller.hangup()
        case = service.wait_call_closed(caller="5550901", timeout=60)
        flood.join(20)
        assert not flood.is_alive() and flood.sent == 7000
    finally:
        flood.sock.close()
        agent.stop()
        caller.stop()
    assert [c["outcome"] for c in case["calls"]] == ["answered"]
    assert flood.answers < 200, f"{flood.answers} answers to a banned address"
    kamailio_log = (service.data_dir / "kamailio" / "kamailio.log").read_text()
    assert f"INVITE flood from {FLOODER}: banned" in kamailio_log

    # The few INVITEs that came before the ban were answered by a worker but never ACKed: once their ACK time is
    # over, their slots are free again, and they opened no case.
    deadline = time.monotonic() + 30
    while True:
        workers = httpx.get(service.base_url + "/health", timeout=5).json()["components"]["workers"]["workers"]
        if all(w["calls"] == 0 for w in workers):
            break
        assert time.monotonic() < deadline, f"the flood's calls still hold slots: {workers}"
        time.sleep(0.2)
    cases = service.get("/api/v1/cases", limit=100)["items"]
    assert [c["caller_number"] for c in cases] == ["5550901"]
    assert '"call.never_confirmed"' in service.log_text()
