"""A queued callback pending across a restart, on a real database: the restart interrupts every other
open call on its case, but the callback's call stays open and its completion after the restart is what the
case records (not "interrupted")."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from cases.store import CaseStore
from hotline.bootstrap import CaseRecorder, Service
from hotline.settings import Settings
from routing.acd import Acd
from routing.agents import AgentProfile
from routing.distributor import Distributor, FlowSettings
from routing.queues import parse_config
from routing.store import RoutingStore
from tests.fakes import TIMEOUT, FakeDialer, FakeTranscriber, hold_music

pytestmark = pytest.mark.integration

CONFIG = parse_config({"queues": {"general": {"numbers": ["100"], "announce_every": None}}})


class EndingRecorder(CaseRecorder):
    def __init__(self, cases: CaseStore) -> None:
        super().__init__(cases)
        self.ended_calls: set[str] = set()
        self.changed = threading.Condition()

    def ended(self, call_id: str, at: datetime, outcome: str, hangup_by: str) -> None:
        super().ended(call_id, at, outcome, hangup_by)
        with self.changed:
            self.ended_calls.add(call_id)
            self.changed.notify_all()


def test_a_callback_pending_at_a_restart_is_recorded_as_completed_on_its_case(engine: Engine) -> None:
    cases, routing = CaseStore(engine), RoutingStore(engine)
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    # Before the restart: one caller asked to be called back, another was waiting when the process died.
    cases.call_started("cb", "5550105", "100", "hotline-1", t0)
    cases.call_started("cut", "5550106", "100", "hotline-1", t0)
    before = Acd(CONFIG)
    before.enqueue("cb", "general", t0, caller="5550105")
    before.request_callback("cb", "5550105", t0 + timedelta(seconds=20))
    before.enqueue("cut", "general", t0 + timedelta(seconds=30))
    routing.record(*before.drain())

    # The new process starts.
    recorder = EndingRecorder(cases)
    distributor = Distributor(config=CONFIG, recorder=recorder, transcriber=FakeTranscriber(),
                              clock=lambda: datetime.now(UTC), settings=FlowSettings(hold_audio=hold_music),
                              journal=routing)
    service = Service(settings=Settings(), engine=engine, cases=cases, rota=None,  # type: ignore[arg-type]
                      routing=routing, distributor=distributor, prompts=None,  # type: ignore[arg-type]
                      transcriber=None, kamailio=None)  # type: ignore[arg-type]
    service.recover()
    assert cases.get_call("cut").outcome == "interrupted"
    assert cases.get_call("cb").ended_at is None  # still waiting for its callback

    dialer = FakeDialer({"1001": "answer", "5550105": "answer"})
    distributor.callback_dialer = lambda: dialer
    try:
        distributor.update_rota([AgentProfile("1001")], ["1001"])  # the callback's turn comes
        caller = dialer.legs.get("5550105")
        for _ in range(int(TIMEOUT / 0.01)):
            if (caller := dialer.legs.get("5550105")) is not None:
                break
            threading.Event().wait(0.01)
        assert caller is not None, "the caller was never called back"
        caller[0].far_end_hangs_up()
        with recorder.changed:
            assert recorder.changed.wait_for(lambda: "cb" in recorder.ended_calls, TIMEOUT)
    finally:
        distributor.stop()
    call = cases.get_call("cb")
    assert (call.outcome, call.hangup_by, call.agent_extension) == ("answered", "caller", "1001")
    assert call.answered_at is not None
