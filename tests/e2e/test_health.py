"""``/health`` of a running ``hotline serve`` tells the truth in time: it answers 503 within 2 s while the call
service is stopped, and INVITEs never ACKed hold their slots (visible there) while they wait, then free
them without opening a case (issue 12, items 7 and 8)."""

from __future__ import annotations

import functools
import json
import os
import signal
import time
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import TRUNK_HOST, RunningService, api_pids, parent_of
from tests.peers import free_port
from tests.sip.raw import OutboundCall, SipMessage, SipPeer, sdp_offer

pytestmark = pytest.mark.e2e


def is_bye_of(call_id: str, message: SipMessage) -> bool:
    return not message.is_response and message.method == "BYE" and message.call_id == call_id


def health(service: RunningService) -> tuple[int, dict[str, Any], float]:
    began = time.monotonic()
    response = httpx.get(service.base_url + "/health", timeout=10)
    return response.status_code, response.json(), time.monotonic() - began


def test_health_answers_503_within_2_s_while_the_call_service_is_stopped(service_factory) -> None:
    service = service_factory(on_shift=["1001"], off_shift=[])
    (api,) = api_pids(service)
    assert api != service.process.pid and parent_of(api) == service.process.pid
    os.kill(service.process.pid, signal.SIGSTOP)  # the call service only: its API child keeps serving
    try:
        for _ in range(3):  # the kept connection first, then new ones that the stopped service never takes
            status, body, took = health(service)
            assert took < 2.5, f"/health took {took:.2f} s"
            assert status == 503
            assert body == {"can_take_calls": False, "components": {},
                            "detail": "The call service did not answer within 2 s."}
    finally:
        os.kill(service.process.pid, signal.SIGCONT)
    deadline = time.monotonic() + 10
    while (status := health(service)[0]) != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert status == 200, "the service did not come back healthy after SIGCONT"


def test_invites_never_acked_hold_their_slots_then_free_them_without_a_case(service_factory) -> None:
    service = service_factory(on_shift=["1001"], off_shift=[],
                              extra_env={"HOTLINE_ACK_TIMEOUT": "4", "HOTLINE_MAX_CALLS_PER_WORKER": "3"})
    status, body, _ = health(service)
    assert status == 200 and body["components"]["workers"]["free_slots"] == 3
    peer = SipPeer("5550777", host=TRUNK_HOST)  # a caller from the trunk: no credentials asked
    try:
        calls = [OutboundCall(peer, f"sip:{service.hotline}@{service.sip[0]}:{service.sip[1]}", service.sip)
                 for _ in range(3)]
        for call in calls:
            call.send_invite(sdp_offer(free_port()))
        for call in calls:  # answered, and never ACKed
            assert peer.response(call.call_id, "INVITE", timeout=10).status == 200

        # While they wait for their ACK, every slot is taken, and /health says so.
        status, body, _ = health(service)
        (worker,) = body["components"]["workers"]["workers"]
        assert (worker["calls"], worker["free_slots"]) == (3, 0)
        assert status == 503 and body["can_take_calls"] is False
        assert body["detail"] == "Every call slot of the live workers is taken (3 calls in progress)."
        assert service.get("/api/v1/cases", caller="5550777")["total"] == 0, "a case opened before the ACK"

        for call in calls:  # given up after the ACK timeout: our BYE
            peer.wait(functools.partial(is_bye_of, call.call_id), 10)
        deadline = time.monotonic() + 5
        while (status := health(service)[0]) != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert status == 200, "the slots were not freed"
        assert health(service)[1]["components"]["workers"]["workers"][0]["calls"] == 0
    finally:
        peer.close()
    assert service.get("/api/v1/cases", caller="5550777")["total"] == 0
    for call in calls:
        assert service.get("/api/v1/queue-log", call_id=call.call_id) == []
    never = [json.loads(line) for line in service.log_text().splitlines()
             if line.startswith("{") and '"call.never_confirmed"' in line]
    assert sorted(e["call_id"] for e in never) == sorted(c.call_id for c in calls)
