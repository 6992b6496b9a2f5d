"""The call flow with hand-written fake legs: queueing, ringing in turn, bridging, every hang-up order."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from structlog.testing import capture_logs

from routing.agents import AgentProfile
from routing.distributor import Distributor, FlowSettings
from routing.queues import parse_config
from telephony.leg import LegState
from tests.fakes import (
    TIMEOUT,
    FakeDialer,
    FakeLeg,
    FakeTranscriber,
    Recorder,
    hold_music,
    run_call,
    speak_until_heard,
)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


AGENTS = [AgentProfile("1001"), AgentProfile("1002"), AgentProfile("1003")]


def make(recorder: Recorder, on_shift: list[str], ring_timeout: float = 0.3,
         **queue: Any) -> tuple[Distributor, FakeTranscriber]:
    transcriber = FakeTranscriber()
    config = parse_config({"queues": {"general": {"ring_timeout": ring_timeout, "numbers": ["100"], **queue}}})
    distributor = Distributor(config=config, recorder=recorder, transcriber=transcriber,
                              clock=lambda: datetime.now(UTC), settings=FlowSettings(hold_audio=hold_music))
    distributor.update_rota(AGENTS, on_shift)
    return distributor, transcriber


def test_bridged_call_ended_by_the_caller(recorder: Recorder) -> None:
    distributor, transcriber = make(recorder, ["1001"])
    dialer = FakeDialer({"1001": "answer"})
    caller = FakeLeg("c1", "5550101")
    thread = run_call(distributor, caller, dialer)
    assert caller.hold_heard.wait(TIMEOUT), "no hold music while queued"
    assert dialer.dialled.get(timeout=TIMEOUT) == "1001"
    agent = dialer.legs["1001"][0]
    assert speak_until_heard(caller, agent), "the caller's audio did not reach the agent"
    assert speak_until_heard(agent, caller), "the agent's audio did not reach the caller"
    caller.far_end_hangs_up()
    assert agent.ended.wait(TIMEOUT), "the agent's leg stayed up after the caller hung up"
    thread.join(TIMEOUT)
    assert recorder.end_record() == ("ended", "c1", "answered", "caller")
    assert ("answered", "c1", "1001") in recorder.log
    assert transcriber.finished.is_set() and transcriber.taps["caller"].frames >= 1
    assert distributor.acd.agent("1001").state == "available"


def test_bridged_call_ended_by_the_agent(recorder: Recorder) -> None:
    distributor, _ = make(recorder, ["1001"])
    dialer = FakeDialer({"1001": "answer"})
    caller = FakeLeg("c2", "5550102")
    thread = run_call(distributor, caller, dialer)
    dialer.dialled.get(timeout=TIMEOUT)
    agent = dialer.legs["1001"][0]
    assert speak_until_heard(agent, caller)
    agent.far_end_hangs_up()
    assert caller.ended.wait(TIMEOUT), "the caller's leg stayed up after the agent hung up"
    thread.join(TIMEOUT)
    assert recorder.end_record() == ("ended", "c2", "answered", "agent")


def test_ring_timeout_moves_on_to_the_next_on_shift_agent(recorder: Recorder) -> None:
    distributor, _ = make(recorder, ["1001", "1002"], ring_timeout=0.2)
    dialer = FakeDialer({"1001": "silent", "1002": "answer"})
    caller = FakeLeg("c3", "5550103")
    thread = run_call(distributor, caller, dialer)
    assert dialer.dialled.get(timeout=TIMEOUT) == "1001"
    assert dialer.dialled.get(timeout=TIMEOUT) == "1002"
    assert dialer.legs["1001"][0].ended.is_set(), "the unanswered agent leg was not cancelled"
    caller.far_end_hangs_up()
    thread.join(TIMEOUT)
    assert ("no_answer", "c3", {"agent": "1001", "reason": "timeout", "detail": "no answer"}) in recorder.log
    assert recorder.end_record()[2:] == ("answered", "caller")


def test_a_busy_agent_is_skipped_and_the_next_one_rings(recorder: Recorder) -> None:
    distributor, _ = make(recorder, ["1001", "1002"])
    dialer = FakeDialer({"1001": "refuse", "1002": "answer"})
    caller = FakeLeg("c4", "5550104")
    thread = run_call(distributor, caller, dialer)
    assert [dialer.dialled.get(timeout=TIMEOUT) for _ in range(2)] == ["1001", "1002"]
    caller.far_end_hangs_up()
    thread.join(TIMEOUT)
    assert any(e[0] == "no_answer" and e[2]["agent"] == "1001" and "busy" in e[2]["reason"] for e in recorder.log)


def test_caller_abandons_while_queued(recorder: Recorder) -> None:
    distributor, transcriber = make(recorder, on_shift=[])
    caller = FakeLeg("c5", "5550105")
    thread = run_call(distributor, caller, FakeDialer({}))
    assert caller.hold_heard.wait(TIMEOUT)
    _wait_for(recorder, "queued")
    caller.far_end_hangs_up()
    thread.join(TIMEOUT)
    assert recorder.end_record() == ("ended", "c5", "abandoned", "caller")
    assert any(e[0] == "abandoned" for e in recorder.log)
    assert distributor.acd.waiting() == []
    assert transcriber.finished.is_set()


def test_caller_abandons_while_the_agent_rings(recorder: Recorder) -> None:
    distributor, _ = make(recorder, ["1001"], ring_timeout=30)
    dialer = FakeDialer({"1001": "silent"})
    caller = FakeLeg("c6", "5550106")
    thread = run_call(distributor, caller, dialer)
    dialer.dialled.get(timeout=TIMEOUT)
    caller.far_end_hangs_up()
    thread.join(TIMEOUT)
    assert not thread.is_alive()
    assert dialer.legs["1001"][0].ended.is_set(), "the ringing agent leg was not cancelled"
    assert recorder.end_record() == ("ended", "c6", "abandoned", "caller")
    assert ("abandoned", "c6", {"while_ringing": "1001"}) in recorder.log
    assert distributor.acd.agent("1001").state == "available"


def test_caller_gone_before_the_worker_answers(recorder: Recorder) -> None:
    distributor, _ = make(recorder, ["1001"])
    caller = FakeLeg("c7", "5550107", state=LegState.ENDED)
    distributor.handle(caller, FakeDialer({}), "hotline-1", "100")
    assert recorder.log == [("started", "c7"), ("ended", "c7", "abandoned", "caller")]


def test_a_rota_change_routes_a_waiting_call_at_once(recorder: Recorder) -> None:
    distributor, _ = make(recorder, on_shift=[])
    dialer = FakeDialer({"1003": "answer"})
    caller = FakeLeg("c8", "5550108")
    thread = run_call(distributor, caller, dialer)
    assert caller.hold_heard.wait(TIMEOUT)
    assert dialer.dialled.empty()
    distributor.update_rota(AGENTS, ["1003"])
    assert dialer.dialled.get(timeout=TIMEOUT) == "1003"
    caller.far_end_hangs_up()
    thread.join(TIMEOUT)


def test_calls_ended_by_a_stopping_service_are_recorded_as_interrupted(recorder: Recorder) -> None:
    distributor, _ = make(recorder, on_shift=[])
    caller = FakeLeg("c9", "5550109")
    thread = run_call(distributor, caller, FakeDialer({}))
    assert caller.hold_heard.wait(TIMEOUT)
    distributor.stop()
    caller.hangup()  # what stopping the SIP worker does to its calls
    thread.join(TIMEOUT)
    assert recorder.end_record() == ("ended", "c9", "interrupted", "system")
    assert distributor.wait_idle(TIMEOUT)


def test_ring_all_bridges_exactly_one_of_two_agents_who_both_answer(recorder: Recorder) -> None:
    distributor, _ = make(recorder, ["1001", "1002"], strategy="ring-all")
    dialer = FakeDialer({"1001": "answer", "1002": "answer"})
    caller = FakeLeg("c10", "5550110")
    thread = run_call(distributor, caller, dialer)
    assert {dialer.dialled.get(timeout=TIMEOUT) for _ in range(2)} == {"1001", "1002"}
    winner = next(e[2] for e in _wait_for(recorder, "answered"))
    loser = "1002" if winner == "1001" else "1001"
    assert dialer.legs[loser][0].ended.wait(TIMEOUT), "the agent who lost the race kept the call"
    assert speak_until_heard(caller, dialer.legs[winner][0])
    caller.far_end_hangs_up()
    thread.join(TIMEOUT)
    assert [e for e in recorder.log if e[0] == "answered"] == [("answered", "c10", winner)]
    assert distributor.acd.agent(loser).state == "available"


def _wait_for(recorder: Recorder, kind: str) -> list[tuple[Any, ...]]:
    for _ in range(int(TIMEOUT / 0.01)):
        found = [e for e in recorder.log if e[0] == kind]
        if found:
            return found
        threading.Event().wait(0.01)
    raise AssertionError(f"no {kind} event")


class FlakyJournal:
    def __init__(self) -> None:
        self.fail = True
        self.events: list[Any] = []

    def record(self, events: list[Any], transitions: list[Any]) -> None:
        if self.fail:
            raise OSError("database down")
        self.events += events


def test_a_failing_journal_loses_nothing_and_catches_up_in_order(recorder: Recorder) -> None:
    journal = FlakyJournal()
    config = parse_config({"queues": {"general": {}}})
    distributor = Distributor(config=config, recorder=recorder, transcriber=FakeTranscriber(),
                              clock=lambda: datetime.now(UTC), settings=FlowSettings(), journal=journal)
    distributor.update_rota(AGENTS, [])
    distributor.routed(lambda acd: acd.enqueue("x", "general", datetime.now(UTC)))
    journal.fail = False
    distributor.routed(lambda acd: acd.abandon("x", datetime.now(UTC)))
    assert [e.kind.value for e in journal.events] == ["enter", "abandon"]


def test_reconciliation_frees_an_agent_whose_call_is_gone(recorder: Recorder) -> None:
    distributor, _ = make(recorder, ["1001"])
    now = datetime.now(UTC)
    distributor.routed(lambda acd: acd.enqueue("ghost", "general", now))
    distributor.routed(lambda acd: acd.assign(now))
    distributor.routed(lambda acd: acd.answered("ghost", "1001", now))
    assert distributor.acd.agent("1001").state == "on_call"
    assert distributor.reconcile() == ["1001"]  # no live call has that id
    assert distributor.acd.agent("1001").state == "available"


def test_the_ticker_ends_wrap_up_and_routes_the_next_call(recorder: Recorder) -> None:
    distributor, _ = make(recorder, ["1001"], wrap_up=0.3)
    distributor.start()
    try:
        dialer = FakeDialer({"1001": "answer"})
        first = FakeLeg("c11", "5550111")
        thread = run_call(distributor, first, dialer)
        dialer.dialled.get(timeout=TIMEOUT)
        first.far_end_hangs_up()
        thread.join(TIMEOUT)
        assert distributor.acd.agent("1001").state == "wrap_up"
        second = FakeLeg("c12", "5550112")
        thread = run_call(distributor, second, dialer)
        assert dialer.dialled.get(timeout=TIMEOUT) == "1001"
        assert any(t.action == "ready" and t.by == "system" for t in distributor.acd.transitions)
        second.far_end_hangs_up()
        thread.join(TIMEOUT)
    finally:
        distributor.stop()


def prompt_frame(name: str) -> bytes:
    return (name.encode() * 320)[:320]


def prompts(name: str) -> list[bytes]:
    return [prompt_frame(name)] * 3


def make_ivr(recorder: Recorder, on_shift: list[str], speak: Any = prompts, **general: Any) -> Distributor:
    config = parse_config({
        "queues": {"general": {"numbers": ["100"], "tiers": [{"extensions": ["1001"]}], "ring_timeout": 1,
                               **general},
                   "network": {"numbers": ["101"], "tiers": [{"extensions": ["1002"]}], "ring_timeout": 1}},
        "menu": {"timeout": 0.3, "retries": 1,
                 "options": {"1": {"queue": "general", "category": "printer"},
                             "2": {"queue": "network", "category": "network"}}},
    })
    distributor = Distributor(config=config, recorder=recorder, transcriber=FakeTranscriber(),
                              clock=lambda: datetime.now(UTC),
                              settings=FlowSettings(hold_audio=hold_music, prompts=speak, digit_poll=0.02))
    distributor.update_rota(AGENTS, on_shift)
    return distributor


def wait_heard(leg: FakeLeg, name: str) -> bool:
    for _ in range(int(TIMEOUT / 0.01)):
        if prompt_frame(name) in leg.written:
            return True
        threading.Event().wait(0.01)
    return False


def test_the_menu_choice_picks_the_queue_and_the_category(recorder: Recorder) -> None:
    distributor = make_ivr(recorder, ["1001", "1002"])
    dialer = FakeDialer({"1002": "answer"})
    caller = FakeLeg("c20", "5550120")
    thread = run_call(distributor, caller, dialer)
    assert wait_heard(caller, "menu"), "the menu was not played"
    caller.pressed = "2"
    assert dialer.dialled.get(timeout=TIMEOUT) == "1002"  # the network queue's agent, not general's
    caller.far_end_hangs_up()
    thread.join(TIMEOUT)
    assert ("triage", "c20", {"digit": "2", "queue": "network", "category": "network"}) in recorder.log


def test_no_input_still_reaches_a_human_after_the_retries(recorder: Recorder) -> None:
    distributor = make_ivr(recorder, ["1001", "1002"])
    dialer = FakeDialer({"1001": "answer"})
    caller = FakeLeg("c21", "5550121")
    thread = run_call(distributor, caller, dialer)
    assert dialer.dialled.get(timeout=TIMEOUT) == "1001"
    assert prompt_frame("menu_again") in caller.written  # the menu was repeated once
    caller.far_end_hangs_up()
    thread.join(TIMEOUT)
    assert ("triage", "c21", {"digit": "", "queue": "general", "category": ""}) in recorder.log


def test_a_wrong_key_repeats_the_menu_then_the_right_one_counts(recorder: Recorder) -> None:
    distributor = make_ivr(recorder, ["1001", "1002"])
    dialer = FakeDialer({"1001": "answer"})
    caller = FakeLeg("c22", "5550122")
    thread = run_call(distributor, caller, dialer)
    assert wait_heard(caller, "menu")
    caller.pressed = "7"
    assert wait_heard(caller, "menu_again")
    caller.pressed = "1"
    assert dialer.dialled.get(timeout=TIMEOUT) == "1001"
    caller.far_end_hangs_up()
    thread.join(TIMEOUT)
    assert ("triage", "c22", {"digit": "1", "queue": "general", "category": "printer"}) in recorder.log


def test_a_queues_own_number_skips_the_menu(recorder: Recorder) -> None:
    distributor = make_ivr(recorder, ["1001", "1002"])
    dialer = FakeDialer({"1002": "answer"})
    caller = FakeLeg("c23", "5550123")
    thread = threading.Thread(target=distributor.handle, args=(caller, dialer, "hotline-1", "101"), daemon=True)
    thread.start()
    assert dialer.dialled.get(timeout=TIMEOUT) == "1002"
    assert prompt_frame("menu") not in caller.written
    caller.far_end_hangs_up()
    thread.join(TIMEOUT)


def test_waiting_callers_hear_their_position_and_wait_over_the_hold_music(recorder: Recorder) -> None:
    distributor = make_ivr(recorder, [], announce_every=1)
    distributor.start()
    try:
        caller = FakeLeg("c24", "5550124")
        thread = threading.Thread(target=distributor.handle, args=(caller, FakeDialer({}), "hotline-1", "100"),
                                  daemon=True)
        thread.start()
        assert wait_heard(caller, "menu")
        caller.pressed = "1"
        assert wait_heard(caller, "position_1"), "no position announcement"
        assert wait_heard(caller, "wait_3")  # nobody staffs it: one round of the default 180 s
        caller.far_end_hangs_up()
        thread.join(TIMEOUT)
    finally:
        distributor.stop()


def test_a_queued_callback_keeps_the_place_and_calls_the_caller_back_when_an_agent_is_free(
        recorder: Recorder) -> None:
    distributor = make_ivr(recorder, [])
    dialer = FakeDialer({"1001": "answer", "5550125": "answer"})
    distributor.callback_dialer = lambda: dialer
    caller = FakeLeg("c25", "5550125")
    thread = run_call(distributor, caller, dialer)
    assert wait_heard(caller, "menu")
    caller.pressed = "1"
    _wait_for(recorder, "queued")
    caller.pressed = "*"
    assert caller.ended.wait(TIMEOUT), "the caller was not let go after asking for a callback"
    thread.join(TIMEOUT)
    assert prompt_frame("callback_confirmed") in caller.written
    waiting = distributor.acd.waiting()
    assert [(c.call_id, c.callback) for c in waiting] == [("c25", "5550125")]
    assert not any(e[0] == "ended" for e in recorder.log)  # the call goes on as a callback
    distributor.update_rota(AGENTS, ["1001"])  # an agent comes on shift: the callback's turn
    assert dialer.dialled.get(timeout=TIMEOUT) == "1001"
    assert dialer.dialled.get(timeout=TIMEOUT) == "5550125"
    agent, called_back = dialer.legs["1001"][0], dialer.legs["5550125"][0]
    assert speak_until_heard(called_back, agent), "the called-back caller was not bridged to the agent"
    called_back.far_end_hangs_up()
    assert distributor.wait_idle(TIMEOUT)
    assert recorder.end_record() == ("ended", "c25", "answered", "caller")
    assert ("answered", "c25", "1001") in recorder.log
    assert distributor.acd.waiting() == []
    assert [e.kind.value for e in distributor.acd.log if e.call_id == "c25"][-3:] == [
        "answer", "complete", "wrap_up_end"]


def test_a_callback_the_caller_does_not_answer_frees_the_agent(recorder: Recorder) -> None:
    distributor = make_ivr(recorder, [])
    dialer = FakeDialer({"1001": "answer", "5550126": "refuse"})
    distributor.callback_dialer = lambda: dialer
    distributor.routed(lambda acd: acd.enqueue("c26", "general", datetime.now(UTC), caller="5550126"))
    distributor.routed(lambda acd: acd.request_callback("c26", "5550126", datetime.now(UTC)))
    distributor.update_rota(AGENTS, ["1001"])
    assert dialer.dialled.get(timeout=TIMEOUT) == "1001"
    assert dialer.dialled.get(timeout=TIMEOUT) == "5550126"
    assert distributor.wait_idle(TIMEOUT)
    assert recorder.end_record() == ("ended", "c26", "abandoned", "caller")
    assert distributor.acd.agent("1001").state == "available"
    assert "callback_failed" in [e.kind.value for e in distributor.acd.log]


def test_a_callback_whose_turn_comes_while_the_caller_is_let_go_is_not_lost(recorder: Recorder) -> None:
    long_goodbye = {"callback_confirmed": [prompt_frame("callback_confirmed")] * 100}  # 2 s
    distributor = make_ivr(recorder, [], speak=lambda name: long_goodbye.get(name) or prompts(name))
    dialer = FakeDialer({"1001": "answer", "5550127": "answer"})
    distributor.callback_dialer = lambda: dialer
    caller = FakeLeg("c27", "5550127")
    thread = run_call(distributor, caller, dialer)
    assert wait_heard(caller, "menu")
    caller.pressed = "1"
    _wait_for(recorder, "queued")
    caller.pressed = "*"
    assert wait_heard(caller, "callback_confirmed")
    distributor.update_rota(AGENTS, ["1001"])  # while the goodbye plays: offered to the ending flow
    thread.join(TIMEOUT)
    assert dialer.dialled.get(timeout=TIMEOUT) == "1001"
    assert dialer.dialled.get(timeout=TIMEOUT) == "5550127"
    dialer.legs["5550127"][0].far_end_hangs_up()
    assert distributor.wait_idle(TIMEOUT)
    assert recorder.end_record() == ("ended", "c27", "answered", "caller")


def test_a_transfer_while_an_agent_rings_releases_the_agent_and_the_call_goes_on(recorder: Recorder) -> None:
    distributor = make_ivr(recorder, ["1001", "1002"], speak=lambda name: None)
    dialer = FakeDialer({"1001": "silent", "1002": "answer"})
    caller = FakeLeg("c28", "5550128")
    thread = run_call(distributor, caller, dialer)
    assert dialer.dialled.get(timeout=TIMEOUT) == "1001"
    distributor.transfer("c28", "network", "supervisor")
    dialer.legs["1001"][0].pick_up()  # answers just after the transfer released them: too late
    assert dialer.dialled.get(timeout=TIMEOUT) == "1002"  # the network queue's agent
    assert dialer.legs["1001"][0].ended.wait(TIMEOUT)
    assert speak_until_heard(caller, dialer.legs["1002"][0])
    caller.far_end_hangs_up()
    thread.join(TIMEOUT)
    assert recorder.end_record() == ("ended", "c28", "answered", "caller")
    assert ("answered", "c28", "1002") in recorder.log


# --- the RTP timeout: a leg whose peer vanished without a BYE ---------------------------------------------

def make_rtp(recorder: Recorder, rtp_timeout: float = 0.3) -> Distributor:
    config = parse_config({"queues": {"general": {"ring_timeout": 2, "numbers": ["100"]}}})
    distributor = Distributor(config=config, recorder=recorder, transcriber=FakeTranscriber(),
                              clock=lambda: datetime.now(UTC),
                              settings=FlowSettings(hold_audio=hold_music, rtp_timeout=rtp_timeout, media_poll=0.02))
    distributor.update_rota(AGENTS, ["1001"])
    return distributor


def test_a_bridged_agent_leg_without_rtp_is_taken_as_hung_up_and_the_agent_freed(recorder: Recorder) -> None:
    distributor = make_rtp(recorder)
    dialer = FakeDialer({"1001": "answer"})
    caller = FakeLeg("c40", "5550140")
    thread = run_call(distributor, caller, dialer)
    assert dialer.dialled.get(timeout=TIMEOUT) == "1001"
    agent = dialer.legs["1001"][0]
    assert speak_until_heard(caller, agent)
    agent.idle = 0.31  # the agent's phone stopped sending RTP and its BYE never came
    assert caller.ended.wait(TIMEOUT), "the caller stayed bridged to a dead leg"
    thread.join(TIMEOUT)
    assert agent.state is LegState.ENDED  # our BYE went out
    assert recorder.end_record() == ("ended", "c40", "answered", "agent")
    assert ("rtp_timeout", "c40", {"leg": "agent", "idle_s": 0.3, "timeout_s": 0.3}) in recorder.log
    assert distributor.acd.agent("1001").state == "available"


def test_a_queued_caller_without_rtp_is_taken_as_gone(recorder: Recorder) -> None:
    distributor = make_rtp(recorder)
    distributor.update_rota(AGENTS, [])
    caller = FakeLeg("c41", "5550141")
    thread = run_call(distributor, caller, FakeDialer({}))
    _wait_for(recorder, "queued")
    caller.idle = 1.0
    assert caller.ended.wait(TIMEOUT)
    thread.join(TIMEOUT)
    assert recorder.end_record() == ("ended", "c41", "abandoned", "caller")
    assert any(e[0] == "rtp_timeout" and e[2]["leg"] == "caller" for e in recorder.log)
    assert distributor.acd.waiting() == []


def test_a_held_leg_sends_no_rtp_and_stays_up(recorder: Recorder) -> None:
    distributor = make_rtp(recorder, rtp_timeout=0.05)
    dialer = FakeDialer({"1001": "answer"})
    caller = FakeLeg("c42", "5550142")
    thread = run_call(distributor, caller, dialer)
    assert dialer.dialled.get(timeout=TIMEOUT) == "1001"
    agent = dialer.legs["1001"][0]
    assert speak_until_heard(caller, agent)
    agent.idle = None  # on hold (a=sendonly): no RTP is due, whatever the time
    assert not caller.ended.wait(0.5), "a held call was cut"  # ten times the timeout
    caller.far_end_hangs_up()
    thread.join(TIMEOUT)
    assert recorder.end_record() == ("ended", "c42", "answered", "caller")
    assert not any(e[0] == "rtp_timeout" for e in recorder.log)


# --- nothing before the caller's ACK (issue 12: an INVITE never ACKed opened a case and held its slot) --------
class JournalSpy:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def record(self, events: list[Any], transitions: list[Any]) -> None:
        self.events.extend(events)


def make_confirming(recorder: Recorder, confirm_timeout: float) -> tuple[Distributor, JournalSpy]:
    journal = JournalSpy()
    config = parse_config({"queues": {"general": {"ring_timeout": 2, "numbers": ["100"]}}})
    distributor = Distributor(config=config, recorder=recorder, transcriber=FakeTranscriber(),
                              clock=lambda: datetime.now(UTC), journal=journal,
                              settings=FlowSettings(hold_audio=hold_music, confirm_timeout=confirm_timeout))
    distributor.update_rota(AGENTS, [])
    return distributor, journal


def test_an_invite_never_acked_is_hung_up_with_no_case_no_queue_entry_and_no_sound(recorder: Recorder) -> None:
    distributor, journal = make_confirming(recorder, confirm_timeout=0.2)
    caller = FakeLeg("c50", "5550150", confirms=False)
    with capture_logs() as logs:
        thread = run_call(distributor, caller, FakeDialer({}))
        thread.join(TIMEOUT)
    assert not thread.is_alive()
    assert caller.answered.is_set() and caller.state is LegState.ENDED  # answered, then our BYE
    assert recorder.log == []
    assert journal.events == []
    assert caller.written == [], "something was played to a caller who never confirmed"
    assert [e for e in logs if e["event"] == "call.never_confirmed"]
    assert distributor.snapshot()["live_calls"] == 0 and distributor.acd.waiting() == []


class LateAck(FakeLeg):
    """A caller whose ACK comes when the test says so."""

    def __init__(self, call_id: str, remote: str) -> None:
        super().__init__(call_id, remote)
        self.acked = threading.Event()

    def wait_confirmed(self, timeout: float) -> bool:
        return self.acked.wait(timeout) and self.state is LegState.ANSWERED


def test_a_call_is_recorded_from_its_arrival_once_the_caller_confirms(recorder: Recorder) -> None:
    distributor, journal = make_confirming(recorder, confirm_timeout=TIMEOUT)
    caller = LateAck("c51", "5550151")
    thread = run_call(distributor, caller, FakeDialer({}))
    assert caller.answered.wait(TIMEOUT)
    assert not caller.hold_heard.wait(0.2) and recorder.log == []  # answered, not yet ACKed: nothing yet
    caller.acked.set()  # the ACK comes
    assert caller.hold_heard.wait(TIMEOUT)
    _wait_for(recorder, "queued")
    assert recorder.log[0] == ("started", "c51")
    caller.far_end_hangs_up()
    thread.join(TIMEOUT)
    assert recorder.end_record() == ("ended", "c51", "abandoned", "caller")
    assert [e.kind.value for e in journal.events][:1] == ["enter"]


def test_a_cancel_before_the_answer_is_still_an_abandoned_call(recorder: Recorder) -> None:
    distributor, _ = make_confirming(recorder, confirm_timeout=TIMEOUT)
    caller = FakeLeg("c52", "5550152", state=LegState.ENDED, confirms=False)  # CANCELled while it rang
    distributor.handle(caller, FakeDialer({}), "hotline-1", "100")
    assert recorder.log == [("started", "c52"), ("ended", "c52", "abandoned", "caller")]


def test_a_call_cut_by_a_worker_restart_is_recorded_as_ended_by_the_system(recorder: Recorder) -> None:
    distributor, _ = make(recorder, ["1001"])
    dialer = FakeDialer({"1001": "answer"})
    caller = FakeLeg("c53", "5550153")
    thread = run_call(distributor, caller, dialer)
    assert dialer.dialled.get(timeout=TIMEOUT) == "1001"
    agent = dialer.legs["1001"][0]
    assert speak_until_heard(caller, agent)
    distributor.interrupt("c53")
    caller.hangup()  # what the supervisor does next: the caller's leg ended by us
    thread.join(TIMEOUT)
    assert agent.ended.is_set()
    assert recorder.end_record() == ("ended", "c53", "answered", "system")
    assert distributor.acd.agent("1001").state == "available"
    distributor.interrupt("unknown")  # a call that is not (or no longer) live: nothing happens
