"""A worker that stops hearing SIP is seen, cut and replaced (issue 12, item 1): the service, run here in the
test's process so the worker's SIP stack can be broken from inside, with real Kamailio and baresip phones.

Two ways to break it. "dies": its SIP receive thread dies (an exception injected into the loop, as the malformed
datagram of the issue did before the loop was guarded); the worker reports the failure. "deaf": every message is
silently dropped, the thread lives on; only the probe sees it.
Either way /health must show the worker down within 5 s, its call must be ended and recorded as cut by
the system, and the worker restarted, after which a real call completes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cases.model import CallView
from hotline.bootstrap import Service, build
from hotline.settings import Settings
from telephony.pyvoip import SipWorker
from tests.e2e.conftest import TRUNK_HOST, sip_password, write_rota
from tests.peers import Baresip, free_port
from tests.sip.harness import kill_sip_receive_thread, tone_wav

pytestmark = pytest.mark.e2e

CALLER = "5550888"


def wait_for(condition: Callable[[], Any], what: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"not {what} within {timeout} s"
        time.sleep(0.05)


def last_call(service: Service) -> CallView | None:
    cases = service.cases.list_cases(5, caller_number=CALLER)
    return service.cases.get_case(cases[0].id).calls[-1] if cases else None


def worker_view(service: Service) -> dict[str, Any]:
    (worker,) = service.health()["workers"]["workers"]
    return dict(worker)


def deaf(worker: SipWorker) -> None:
    worker._phone.sip.parse_message = lambda message: None  # type: ignore[method-assign]


BREAKS: dict[str, Callable[[SipWorker], None]] = {"dies": kill_sip_receive_thread, "deaf": deaf}


@pytest.fixture
def service(tmp_path: Path, database_url: str) -> Iterator[Service]:
    settings = Settings(
        _env_file=None, data_dir=tmp_path / "service", database_url=database_url, sip_port=free_port(),
        worker_sip_port=free_port(), rtp_port_low=21400, rtp_port_high=21599, model_path=tmp_path / "no-model",
        rota_file=write_rota(tmp_path / "rota.yaml", ["1001"], []), ring_timeout=8,
        queue_file=Path(__file__).with_name("queues_direct.yaml"), sip_trunk_addresses=[f"{TRUNK_HOST}/32"],
    )
    service = build(settings)
    service.start()
    yield service
    service.stop()


def place_call(service: Service, caller: Baresip, agent: Baresip, attempts: int = 5) -> CallView:
    """``caller`` dials the hotline (again if the edge turns it away while it still counts the worker out),
    ``agent`` answers; the call as recorded once answered."""
    s = service.settings
    before = last_call(service)
    for _ in range(attempts):
        caller.dial(f"sip:{s.hotline_number}@{s.sip_host}:{s.sip_port}")
        event = caller.wait_event(("CALL_ESTABLISHED", "CALL_CLOSED"), 10)
        if event["type"] == "CALL_ESTABLISHED":
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"the hotline refused {attempts} calls in a row; the last: {event}")
    agent.wait_event("CALL_INCOMING", 10)
    agent.command("accept")
    agent.wait_event(("CALL_ESTABLISHED", "CALL_RTPESTAB"), 10)

    def answered() -> CallView | None:
        call = last_call(service)
        fresh = call is not None and (before is None or call.sip_call_id != before.sip_call_id)
        return call if fresh and call is not None and call.answered_at else None

    answered_call: CallView = wait_for(answered, "answered", 10)
    return answered_call


@pytest.mark.parametrize("how", sorted(BREAKS))
def test_a_broken_worker_is_down_within_5_s_its_call_cut_then_it_is_restarted(tmp_path: Path, service: Service,
                                                                              how: str) -> None:
    s = service.settings
    assert service.health()["can_take_calls"]["up"] is True
    tone = tone_wav(tmp_path / "tone.wav")
    agent = Baresip(tmp_path, user="1001", registrar=(s.sip_host, s.sip_port), speak=tone,
                    password=sip_password(s.resolved_database_url, "1001"))
    caller = Baresip(tmp_path, user=CALLER, registrar=(s.sip_host, s.sip_port), speak=tone, host=TRUNK_HOST,
                     register=False)
    try:
        for phone in (agent, caller):
            phone.start()
            phone.wait_registered()
        first = place_call(service, caller, agent)

        # The replacement waits for the test's word, so that the down state can be seen (a restart takes
        # a few hundredths of a second).
        supervisor = service.supervisor
        assert supervisor is not None
        make, go = supervisor._make, threading.Event()

        def held(index: int) -> SipWorker:
            go.wait(20)
            return make(index)

        supervisor._make = held

        (worker,) = service.workers
        broken_at = time.monotonic()
        BREAKS[how](worker)
        try:
            down = wait_for(lambda: (v := worker_view(service)) and not v["up"] and v, "down", 5.0)
            down_after = time.monotonic() - broken_at
            assert down["failure"] and down["down_since"] and down["free_slots"] == 0
            health = service.health()["can_take_calls"]
            assert health["up"] is False and "No SIP worker is up." in health["reasons"]
            caller.wait_event("CALL_CLOSED", 10)  # its call was ended: our BYE to both phones
            agent.wait_event("CALL_CLOSED", 10)
        finally:
            go.set()
        restarted = wait_for(lambda: (v := worker_view(service)) and v["up"] and v["restarts"] == 1 and v,
                             "restarted", 20)
        assert service.workers[0] is not worker and service.workers[0].sip_port == worker.sip_port
        assert restarted["last_restart"]["calls_ended"] == 1
        cut = wait_for(lambda: (c := last_call(service)) and c.ended_at and c, "the cut call recorded", 10)
        assert cut.sip_call_id == first.sip_call_id
        assert (str(cut.outcome), str(cut.hangup_by)) == ("answered", "system")

        second = place_call(service, caller, agent)  # the restarted worker takes the next real call
        assert second.sip_call_id != first.sip_call_id and second.agent_extension == "1001"
        caller.hangup()
        agent.wait_event("CALL_CLOSED", 10)
        ended = wait_for(lambda: (c := last_call(service)) and c.ended_at and c, "the second call ended", 10)
        assert (str(ended.outcome), str(ended.hangup_by)) == ("answered", "caller")
        assert service.health()["can_take_calls"]["up"] is True
    finally:
        for phone in (agent, caller):
            phone.stop()
    print(f"worker down {down_after:.2f} s after it was broken ({how})")
