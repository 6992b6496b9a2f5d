"""The ACD with a virtual clock: strategies, tiers, ring-no-answer, priorities, overflow, callbacks,
announcements, wrap-up, the event log, reconciliation, restore, and bad input."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from routing.acd import (
    Acd,
    Announce,
    Entered,
    LeftEmpty,
    Offer,
    OfferCallback,
    Overflowed,
    PendingCallback,
    Refused,
)
from routing.agents import TRANSITIONS, Action, Agent, AgentProfile, AgentState, IllegalTransition, RoutingError
from routing.events import EventKind
from routing.queues import parse_config

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def acd_with(agents: list[str] | list[AgentProfile], on_shift: list[str] | None = None, *, seed: int = 0,
             **queue: Any) -> Acd:
    q = {"announce_every": None, **queue}
    acd = Acd(parse_config({"queues": {"q": q}}), seed=seed)
    profiles = [a if isinstance(a, AgentProfile) else AgentProfile(a) for a in agents]
    acd.set_agents(profiles, T0)
    acd.set_on_shift([p.extension for p in profiles] if on_shift is None else on_shift, T0)
    return acd


def offered(acd: Acd, now: datetime = T0) -> list[tuple[str, tuple[str, ...]]]:
    return [(o.call_id, o.extensions) for o in acd.assign(now)]


def talk(acd: Acd, call_id: str, ext: str, start: float, end: float) -> None:
    """``ext`` answers ``call_id`` at ``start`` and hangs up at ``end`` (wrap-up 0 unless configured)."""
    assert acd.answered(call_id, ext, at(start))
    acd.hung_up(call_id, at(end))


def kinds(acd: Acd, call_id: str) -> list[str]:
    return [e.kind.value for e in acd.log if e.call_id == call_id]


# --- the agent state machine ---------------------------------------------------------------------
ILLEGAL = [(s, a) for s, a in itertools.product(AgentState, Action) if (s, a) not in TRANSITIONS]


@pytest.mark.parametrize(("state", "action"), ILLEGAL, ids=[f"{s}-{a}" for s, a in ILLEGAL])
def test_every_illegal_transition_is_rejected_and_changes_nothing(state: AgentState, action: Action) -> None:
    agent = Agent(AgentProfile("1001"), state, T0)
    with pytest.raises(IllegalTransition, match=f"Agent 1001 cannot {action.value.replace('_', ' ')} while"):
        agent.apply(action, at(1))
    assert agent.state is state and agent.since == T0


@pytest.mark.parametrize(("state", "action"), list(TRANSITIONS), ids=[f"{s}-{a}" for s, a in TRANSITIONS])
def test_every_legal_transition_says_who_when_and_why(state: AgentState, action: Action) -> None:
    agent = Agent(AgentProfile("1001"), state, T0)
    t = agent.apply(action, at(5), "supervisor", "because")
    assert (t.extension, t.at, t.before, t.after, t.action, t.by, t.reason) == (
        "1001", at(5), state, TRANSITIONS[(state, action)], action, "supervisor", "because")
    assert agent.state is t.after and agent.since == at(5)


def test_the_acd_records_every_transition_of_a_call() -> None:
    acd = acd_with(["1001"], wrap_up=10)
    acd.enqueue("a", "q", T0)
    acd.assign(at(1))
    acd.answered("a", "1001", at(2))
    acd.hung_up("a", at(30))
    acd.tick(at(40))
    path = [(t.action.value, t.after.value, t.at) for t in acd.transitions if t.extension == "1001"]
    assert path == [("log_in", "available", T0), ("shift_start", "available", T0), ("ring", "ringing", at(1)),
                    ("answer", "on_call", at(2)), ("hang_up", "wrap_up", at(30)), ("ready", "available", at(40))]


def test_pause_needs_a_reason_and_paused_agents_get_no_calls() -> None:
    acd = acd_with(["1001", "1002"])
    with pytest.raises(RoutingError, match="needs a reason"):
        acd.pause("1001", "  ", T0, "1001")
    acd.pause("1001", "lunch", T0, "1001")
    assert acd.agent("1001").reason == "lunch"
    acd.enqueue("a", "q", T0)
    assert offered(acd) == [("a", ("1002",))]
    acd.resume("1001", at(1), "1001")
    assert acd.agent("1001").state is AgentState.AVAILABLE and acd.agent("1001").reason == ""


def test_an_agent_cannot_be_paused_on_a_call_or_rung_twice() -> None:
    acd = acd_with(["1001"])
    acd.enqueue("a", "q", T0)
    acd.enqueue("b", "q", T0)
    assert offered(acd) == [("a", ("1001",))]  # b is not offered to the same agent: one state, one call
    with pytest.raises(IllegalTransition, match="cannot pause while ringing"):
        acd.pause("1001", "break", at(1), "1001")


def test_logged_out_agents_get_no_calls_until_they_log_in() -> None:
    acd = acd_with(["1001"])
    acd.log_out("1001", T0, "1001", "end of day")
    acd.enqueue("a", "q", T0)
    assert offered(acd) == []
    acd.log_in("1001", at(1), "1001")
    assert offered(acd, at(1)) == [("a", ("1001",))]


# --- strategies ----------------------------------------------------------------------------------
def test_longest_idle_is_the_default() -> None:
    acd = acd_with(["1001", "1002"])
    acd.enqueue("a", "q", T0)
    acd.assign(T0)
    talk(acd, "a", "1001", 1, 300)
    acd.enqueue("b", "q", at(360))
    acd.enqueue("c", "q", at(420))
    # 1002 never had a call, so is idle longest: b goes to 1002, c to 1001.
    assert offered(acd, at(420)) == [("b", ("1002",)), ("c", ("1001",))]


def test_round_robin_remembers_who_was_rung_last() -> None:
    acd = acd_with(["1001", "1002", "1003"], strategy="round-robin")
    got = []
    for i in range(5):
        acd.enqueue(f"c{i}", "q", at(i * 10))
        (call, (ext,)), = offered(acd, at(i * 10))
        got.append(ext)
        talk(acd, call, ext, i * 10 + 1, i * 10 + 2)
    assert got == ["1001", "1002", "1003", "1001", "1002"]


def test_fewest_calls_prefers_the_agent_with_fewer_answered_calls() -> None:
    acd = acd_with(["1001", "1002"], strategy="fewest-calls")
    for i, ext in enumerate(["1001", "1001", "1002"]):
        acd.enqueue(f"c{i}", "q", at(i * 10))
        acd.agent("1002" if ext == "1001" else "1001").state = AgentState.PAUSED  # force the choice
        acd.assign(at(i * 10))
        acd.agent("1002" if ext == "1001" else "1001").state = AgentState.AVAILABLE
        talk(acd, f"c{i}", ext, i * 10 + 1, i * 10 + 2)
    acd.enqueue("d", "q", at(100))
    assert offered(acd, at(100)) == [("d", ("1002",))]  # 1002 took 1 call, 1001 took 2 (and idled longer)


def test_least_talk_time_prefers_the_agent_who_talked_least() -> None:
    acd = acd_with(["1001", "1002"], strategy="least-talk-time")
    acd.enqueue("a", "q", T0)
    acd.enqueue("b", "q", T0)
    assert offered(acd) == [("a", ("1001",)), ("b", ("1002",))]
    talk(acd, "a", "1001", 1, 20)
    talk(acd, "b", "1002", 1, 400)
    acd.enqueue("c", "q", at(500))
    assert offered(acd, at(500)) == [("c", ("1001",))]  # 1002 idled longer but talked more


def test_random_is_reproducible_with_a_seed_and_only_picks_eligible_agents() -> None:
    def picks(seed: int) -> list[str]:
        acd = acd_with([f"10{i:02d}" for i in range(10)], on_shift=[f"10{i:02d}" for i in range(8)],
                       strategy="random", seed=seed)
        out = []
        for i in range(20):
            acd.enqueue(f"c{i}", "q", at(i))
            (_, (ext,)), = offered(acd, at(i))
            out.append(ext)
            talk(acd, f"c{i}", ext, i + 0.1, i + 0.2)
        return out

    first = picks(7)
    assert first == picks(7)
    assert first != picks(8)
    assert set(first) <= {f"10{i:02d}" for i in range(8)} and len(set(first)) > 3


def test_ring_all_rings_every_free_agent_and_exactly_one_wins() -> None:
    acd = acd_with(["1001", "1002", "1003"], on_shift=["1001", "1002"], strategy="ring-all")
    acd.enqueue("a", "q", T0)
    assert offered(acd) == [("a", ("1001", "1002"))]
    assert acd.answered("a", "1002", at(1)) is True
    assert acd.answered("a", "1001", at(1)) is False  # answered at the same moment: too late
    assert acd.agent("1002").state is AgentState.ON_CALL
    assert acd.agent("1001").state is AgentState.AVAILABLE
    assert [e.agent for e in acd.log if e.kind is EventKind.ANSWER] == ["1002"]


def test_linear_always_starts_from_the_first_listed_agent() -> None:
    acd = acd_with(["1001", "1002", "1003"], strategy="linear", tiers=[{"extensions": ["1003", "1001", "1002"]}])
    for i in range(3):
        acd.enqueue(f"c{i}", "q", at(i * 10))
        assert offered(acd, at(i * 10)) == [(f"c{i}", ("1003",))]
        talk(acd, f"c{i}", "1003", i * 10 + 1, i * 10 + 2)
    acd.pause("1003", "break", at(50), "1003")
    acd.enqueue("x", "q", at(60))
    assert offered(acd, at(60)) == [("x", ("1001",))]


# --- tiers ---------------------------------------------------------------------------------------
L1, L2 = AgentProfile("1001", level=1), AgentProfile("2001", level=2)


def test_level_2_gets_the_call_only_after_the_tier_wait() -> None:
    acd = acd_with([L1, L2], tiers=[{"level": 1}, {"level": 2}], tier_wait=30, escalate_when_none_free=False)
    acd.pause("1001", "training", T0, "1001")
    acd.enqueue("a", "q", T0)
    assert offered(acd, at(29)) == []
    assert acd.next_wakeup(at(29)) == at(30)
    assert offered(acd, at(30)) == [("a", ("2001",))]
    assert [e.detail["penalty"] for e in acd.log if e.kind is EventKind.RING] == [1]


def test_level_2_gets_the_call_at_once_when_no_level_1_agent_is_free() -> None:
    acd = acd_with([L1, L2], tiers=[{"level": 1}, {"level": 2}], tier_wait=300)
    acd.enqueue("a", "q", T0)
    acd.enqueue("b", "q", T0)
    assert offered(acd) == [("a", ("1001",)), ("b", ("2001",))]


def test_level_1_is_preferred_when_both_tiers_are_free() -> None:
    acd = acd_with([L2, L1], tiers=[{"level": 1}, {"level": 2}], tier_wait=1)
    acd.enqueue("a", "q", T0)
    assert offered(acd, at(100)) == [("a", ("1001",))]


def test_skills_choose_the_tier() -> None:
    net = AgentProfile("2002", level=2, skills=frozenset({"network"}))
    acd = acd_with([L2, net], tiers=[{"level": 2, "skill": "network"}, {"level": 2}])
    acd.enqueue("a", "q", T0)
    assert offered(acd) == [("a", ("2002",))]


def test_agents_in_no_tier_are_not_members() -> None:
    acd = acd_with([L1, L2], tiers=[{"level": 2}])
    acd.pause("2001", "break", T0, "2001")
    acd.enqueue("a", "q", T0)
    assert offered(acd, at(600)) == []


# --- ring no answer ------------------------------------------------------------------------------
def test_ring_no_answer_moves_to_the_next_agent_and_keeps_the_place() -> None:
    acd = acd_with(["1001", "1002"])
    acd.enqueue("a", "q", T0)
    acd.enqueue("b", "q", at(1))
    assert offered(acd) == [("a", ("1001",)), ("b", ("1002",))]
    acd.no_answer("a", "1001", at(15))
    assert acd.agent("1001").state is AgentState.AVAILABLE
    assert acd.position("a") == 1
    # 1001 already missed a; 1002 (busy) has not: a waits for 1002 rather than ringing 1001 again.
    assert offered(acd, at(15)) == []
    acd.no_answer("b", "1002", at(16))
    assert offered(acd, at(16)) == [("a", ("1002",)), ("b", ("1001",))]
    assert kinds(acd, "a") == ["enter", "ring", "no_answer", "ring"]


def test_when_every_agent_missed_the_call_the_round_starts_again_after_the_retry_delay() -> None:
    acd = acd_with(["1001"], retry_delay=5)
    acd.enqueue("a", "q", T0)
    acd.assign(T0)
    acd.no_answer("a", "1001", at(15))
    assert offered(acd, at(19)) == []
    assert offered(acd, at(20)) == [("a", ("1001",))]


def test_an_agent_is_paused_after_missing_n_calls_in_a_row() -> None:
    acd = acd_with(["1001", "1002"], max_misses=2)
    acd.pause("1002", "break", T0, "1002")
    acd.enqueue("a", "q", T0)
    for i in range(2):
        assert offered(acd, at(i * 20)) == [("a", ("1001",))]
        acd.no_answer("a", "1001", at(i * 20 + 15))
    agent = acd.agent("1001")
    assert agent.state is AgentState.PAUSED and agent.reason == "missed 2 calls in a row"
    assert acd.transitions[-1].by == "system"
    assert offered(acd, at(100)) == []


def test_an_answer_resets_the_miss_count() -> None:
    acd = acd_with(["1001"], max_misses=2)
    acd.enqueue("a", "q", T0)
    acd.assign(T0)
    acd.no_answer("a", "1001", at(15))
    acd.assign(at(15))
    talk(acd, "a", "1001", 16, 20)
    acd.enqueue("b", "q", at(30))
    acd.assign(at(30))
    acd.no_answer("b", "1001", at(45))
    assert acd.agent("1001").state is AgentState.AVAILABLE


def test_busy_and_rejecting_agents_back_off_longer_each_time() -> None:
    acd = acd_with(["1001"], refusal_backoff=10, max_misses=0)
    acd.enqueue("a", "q", T0)
    waits = []
    now = 0.0
    for _ in range(5):
        assert offered(acd, at(now)) == [("a", ("1001",))]
        acd.no_answer("a", "1001", at(now), "busy")
        wakeup = acd.next_wakeup(at(now))
        assert wakeup is not None
        assert offered(acd, wakeup - timedelta(seconds=0.1)) == []
        waits.append((wakeup - at(now)).total_seconds())
        now = (wakeup - T0).total_seconds()
    assert waits == [10, 20, 40, 80, 80]


def test_a_late_answer_after_the_timeout_is_refused_without_harm() -> None:
    acd = acd_with(["1001", "1002"])
    acd.enqueue("a", "q", T0)
    acd.assign(T0)
    acd.no_answer("a", "1001", at(15))
    assert acd.answered("a", "1001", at(15.1)) is False
    assert acd.agent("1001").state is AgentState.AVAILABLE


# --- priorities and order ------------------------------------------------------------------------
def test_a_vip_caller_jumps_ahead_and_fifo_holds_within_a_priority() -> None:
    acd = Acd(parse_config({"queues": {"q": {"announce_every": None}}, "vip": {"5550199": 5}}))
    acd.set_agents([AgentProfile("1001")], T0)
    acd.set_on_shift([], T0)
    acd.enqueue("a", "q", T0, caller="5550101")
    acd.enqueue("b", "q", T0, caller="5550102")  # the same instant: arrival order decides
    assert acd.enqueue("vip", "q", at(5), caller="5550199") == Entered("q", 1)
    acd.enqueue("c", "q", at(6), caller="5550103")
    assert [c.call_id for c in acd.waiting()] == ["vip", "a", "b", "c"]
    acd.set_on_shift(["1001"], T0)
    assert offered(acd, at(7)) == [("vip", ("1001",))]


def test_a_higher_priority_queue_is_served_first_by_a_shared_agent() -> None:
    acd = Acd(parse_config({"queues": {"low": {}, "high": {"priority": 2}}}))
    acd.set_agents([AgentProfile("1001")], T0)
    acd.set_on_shift(["1001"], T0)
    acd.enqueue("old", "low", T0)
    acd.enqueue("new", "high", at(60))
    assert offered(acd, at(60)) == [("new", ("1001",))]


# --- overflow, empty and closed queues -----------------------------------------------------------
def two_queues(**first: Any) -> Acd:
    doc = {"queues": {"l1": {"tiers": [{"level": 1}], "announce_every": None, **first},
                      "l2": {"tiers": [{"level": 2}], "announce_every": None}}}
    acd = Acd(parse_config(doc))
    acd.set_agents([L1, L2], T0)
    acd.set_on_shift(["1001", "2001"], T0)
    return acd


def test_a_call_overflows_at_max_wait_and_keeps_its_place_by_arrival() -> None:
    acd = two_queues(max_wait=60, overflow_to="l2")
    acd.pause("1001", "meeting", T0, "1001")
    acd.pause("2001", "meeting", T0, "2001")
    acd.enqueue("l2-early", "l2", at(10))
    acd.enqueue("a", "l1", T0)
    assert acd.tick(at(59)) == []
    assert acd.tick(at(60)) == [Overflowed("a", "l2")]
    assert [c.call_id for c in acd.waiting("l2")] == ["a", "l2-early"]  # arrived first, served first
    acd.resume("2001", at(61), "2001")
    assert offered(acd, at(61)) == [("a", ("2001",))]
    assert kinds(acd, "a") == ["enter", "overflow", "ring"]


def test_max_wait_can_offer_a_callback_once() -> None:
    acd = two_queues(max_wait=60, at_max_wait="callback")
    acd.pause("1001", "meeting", T0, "1001")
    acd.enqueue("a", "l1", T0)
    assert acd.tick(at(60)) == [OfferCallback("a")]
    assert acd.tick(at(120)) == []


def test_join_empty_off_refuses_or_overflows() -> None:
    acd = two_queues(join_empty=False)
    acd.set_on_shift(["2001"], T0)
    assert acd.enqueue("a", "l1", T0) == Refused("l1", "empty")
    acd = two_queues(join_empty=False, overflow_to="l2")
    acd.set_on_shift(["2001"], T0)
    assert acd.enqueue("b", "l1", T0) == Entered("l2", 1)
    assert kinds(acd, "b") == ["overflow", "enter"]


def test_a_paused_member_still_counts_for_join_empty() -> None:
    acd = two_queues(join_empty=False)
    acd.pause("1001", "break", T0, "1001")
    assert isinstance(acd.enqueue("a", "l1", T0), Entered)


def test_leave_empty_moves_or_ends_waiting_calls_when_the_last_member_goes() -> None:
    acd = two_queues(leave_empty=True)
    acd.pause("1001", "x", T0, "1001")
    acd.enqueue("a", "l1", T0)
    assert acd.tick(at(1)) == []
    acd.set_on_shift(["2001"], T0)
    assert acd.tick(at(2)) == [LeftEmpty("a")]
    assert kinds(acd, "a") == ["enter", "exit_empty"]
    acd = two_queues(leave_empty=True, overflow_to="l2")
    acd.enqueue("b", "l1", T0)
    acd.set_on_shift(["2001"], T0)
    assert acd.tick(at(2)) == [Overflowed("b", "l2")]


def test_a_closed_queue_refuses_or_sends_calls_on() -> None:
    acd = two_queues(closed=True)
    assert acd.enqueue("a", "l1", T0) == Refused("l1", "closed")
    acd.set_closed("l1", False)
    assert acd.enqueue("b", "l1", T0) == Entered("l1", 1)
    acd = two_queues(closed=True, overflow_to="l2")
    assert acd.enqueue("c", "l1", T0) == Entered("l2", 1)


def test_a_transfer_keeps_the_place_and_is_logged() -> None:
    acd = two_queues()
    acd.pause("2001", "x", T0, "2001")
    acd.enqueue("a", "l1", T0)
    acd.assign(T0)
    acd.transfer("a", "l2", at(5), "1001")
    assert acd.agent("1001").state is AgentState.AVAILABLE  # its ringing was cancelled
    assert acd.call("a") is not None and acd.call("a").queue == "l2"  # type: ignore[union-attr]
    assert kinds(acd, "a") == ["enter", "ring", "transfer"]


# --- callbacks -----------------------------------------------------------------------------------
def test_a_queued_callback_keeps_the_callers_place_and_is_offered_with_the_number() -> None:
    acd = acd_with(["1001"], on_shift=[])
    acd.enqueue("a", "q", T0)
    acd.enqueue("b", "q", at(1))
    acd.request_callback("a", "5550101", at(30))
    assert acd.position("a") == 1
    acd.set_on_shift(["1001"], T0)
    assert acd.assign(at(40)) == [Offer("a", ("1001",), 15.0, "5550101")]
    talk(acd, "a", "1001", 45, 100)
    assert kinds(acd, "a") == ["enter", "callback_requested", "ring", "answer", "complete", "wrap_up_end"]


def test_a_callback_that_cannot_reach_the_caller_frees_the_agent() -> None:
    acd = acd_with(["1001"])
    acd.enqueue("a", "q", T0)
    acd.request_callback("a", "5550101", at(1))
    acd.assign(at(2))
    acd.answered("a", "1001", at(3))
    acd.callback_failed("a", at(33))
    assert acd.agent("1001").state is AgentState.AVAILABLE
    assert kinds(acd, "a")[-2:] == ["callback_failed", "wrap_up_end"]


def test_a_callback_needs_a_waiting_call_and_a_number() -> None:
    acd = acd_with(["1001"], on_shift=[])
    with pytest.raises(RoutingError, match="not waiting"):
        acd.request_callback("nope", "5550101", T0)
    acd.enqueue("a", "q", T0)
    with pytest.raises(RoutingError, match="no number"):
        acd.request_callback("a", " ", T0)


# --- announcements -------------------------------------------------------------------------------
def test_announcements_give_position_and_wait_periodically_but_not_to_a_caller_being_connected() -> None:
    acd = acd_with(["1001"], on_shift=[], announce_every=30)
    acd.enqueue("a", "q", T0)
    acd.enqueue("b", "q", at(10))
    assert acd.tick(at(29)) == []
    assert acd.tick(at(30)) == [Announce("a", 1, 180.0)]
    assert acd.tick(at(40)) == [Announce("b", 2, 360.0)]  # two rounds of the default 180 s handling time
    acd.set_on_shift(["1001"], T0)
    acd.assign(at(50))  # a rings
    assert acd.tick(at(60)) == []  # a is about to be connected: no announcement
    assert acd.tick(at(70)) == [Announce("b", 2, 360.0)]


def test_no_announcement_to_a_caller_waiting_for_a_callback() -> None:
    acd = acd_with(["1001"], on_shift=[], announce_every=30)
    acd.enqueue("a", "q", T0)
    acd.request_callback("a", "5550101", at(5))
    assert acd.tick(at(60)) == []


def test_the_estimated_wait_learns_the_handling_time() -> None:
    acd = acd_with(["1001"], announce_every=30, wrap_up=20)
    acd.enqueue("a", "q", T0)
    acd.assign(T0)
    talk(acd, "a", "1001", 1, 81)  # 80 s talk + 20 s wrap-up = 100 s
    acd.tick(at(101))
    assert acd.estimated_wait(acd.queue("q"), 1) == pytest.approx(0.8 * 180 + 0.2 * 100)


# --- wrap-up -------------------------------------------------------------------------------------
def test_wrap_up_holds_the_agent_for_the_queues_time_then_frees_them() -> None:
    acd = acd_with(["1001"], wrap_up=30)
    acd.enqueue("a", "q", T0)
    acd.assign(T0)
    talk(acd, "a", "1001", 1, 60)
    acd.enqueue("b", "q", at(61))
    assert acd.agent("1001").state is AgentState.WRAP_UP
    assert offered(acd, at(80)) == []
    assert acd.next_wakeup(at(80)) == at(90)
    acd.tick(at(90))
    assert offered(acd, at(90)) == [("b", ("1001",))]


def test_an_agents_own_wrap_up_overrides_the_queues_and_ready_ends_it_early() -> None:
    acd = acd_with([AgentProfile("1001", wrap_up=5)], wrap_up=60)
    acd.enqueue("a", "q", T0)
    acd.assign(T0)
    talk(acd, "a", "1001", 1, 10)
    acd.tick(at(15))
    assert acd.agent("1001").state is AgentState.AVAILABLE
    acd.enqueue("b", "q", at(20))
    acd.assign(at(20))
    acd.agent("1001").profile = AgentProfile("1001")
    talk(acd, "b", "1001", 21, 30)
    acd.resume("1001", at(31), "1001")  # the agent says ready before the 60 s
    assert acd.agent("1001").state is AgentState.AVAILABLE


# --- rota ----------------------------------------------------------------------------------------
def test_off_shift_agents_get_no_calls_and_a_rota_change_routes_at_once() -> None:
    acd = acd_with(["1001", "1002"], on_shift=[])
    acd.enqueue("a", "q", T0)
    assert offered(acd) == []
    acd.set_on_shift(["1002"], T0)
    assert offered(acd) == [("a", ("1002",))]


def test_a_shift_ending_does_not_cut_a_call_in_progress() -> None:
    acd = acd_with(["1001"])
    acd.enqueue("a", "q", T0)
    acd.assign(T0)
    acd.answered("a", "1001", at(1))
    acd.set_on_shift([], T0)
    acd.set_agents([], at(2))  # even removed from the rota, the busy agent keeps its call
    assert acd.agent("1001").state is AgentState.ON_CALL
    acd.hung_up("a", at(180))
    acd.enqueue("b", "q", at(240))
    assert offered(acd, at(240)) == []


# --- the event log -------------------------------------------------------------------------------
def test_the_log_has_every_step_in_order_with_timestamps_and_drains_once() -> None:
    acd = acd_with(["1001", "1002"], ring_timeout=10)
    acd.enqueue("a", "q", T0, caller="5550101")
    acd.enqueue("b", "q", at(1))
    acd.assign(at(2))
    acd.no_answer("a", "1001", at(12))
    acd.abandon("b", at(13))
    acd.assign(at(13))
    acd.answered("a", "1002", at(14))
    acd.hung_up("a", at(74), "agent")
    events, transitions = acd.drain()
    assert [(e.kind.value, e.call_id, e.agent, e.at) for e in events] == [
        ("enter", "a", None, T0), ("enter", "b", None, at(1)), ("ring", "a", "1001", at(2)),
        ("ring", "b", "1002", at(2)), ("no_answer", "a", "1001", at(12)), ("abandon", "b", None, at(13)),
        ("ring", "a", "1002", at(13)), ("answer", "a", "1002", at(14)), ("complete", "a", "1002", at(74)),
        ("wrap_up_end", "a", "1002", at(74)),
    ]
    assert [e.seq for e in events] == sorted({e.seq for e in events})
    assert events[7].detail["wait"] == 14 and events[8].detail == {"talk": 60, "by": "agent"}
    assert len(transitions) > 5
    assert acd.drain() == ([], [])


# --- bad input -----------------------------------------------------------------------------------
def test_an_unknown_queue_is_a_clear_error() -> None:
    acd = acd_with(["1001"])
    with pytest.raises(RoutingError, match="No queue is named 'nope'; known: q"):
        acd.enqueue("a", "nope", T0)
    assert list(acd.log) == [] and acd.waiting() == []


def test_an_agent_listed_twice_is_refused() -> None:
    acd = acd_with([])
    with pytest.raises(RoutingError, match="1001 is listed twice"):
        acd.set_agents([AgentProfile("1001"), AgentProfile("1001", level=2)], T0)


def test_duplicated_events_are_harmless_and_out_of_order_ones_rejected_without_losing_the_log() -> None:
    acd = acd_with(["1001", "1002"])
    acd.enqueue("a", "q", T0)
    with pytest.raises(RoutingError, match="already queued"):
        acd.enqueue("a", "q", T0)
    with pytest.raises(RoutingError, match="not ringing agent 1001"):
        acd.answered("a", "1001", at(1))  # answered before it rang
    acd.assign(at(1))
    with pytest.raises(RoutingError, match="not ringing agent 1002"):
        acd.answered("a", "1002", at(2))
    assert acd.answered("a", "1001", at(2))
    assert acd.answered("a", "1001", at(2)) is False  # the same answer reported twice
    acd.no_answer("a", "1001", at(3))  # a stale timeout after the answer: no-op
    assert acd.agent("1001").state is AgentState.ON_CALL
    assert acd.hung_up("a", at(10)) == "1001"
    assert acd.hung_up("a", at(10)) is None  # hang-up reported twice
    assert acd.abandon("a", at(11)) == []  # abandon after the end
    with pytest.raises(RoutingError, match="not waiting"):
        acd.answered("ghost", "1001", at(12))
    assert kinds(acd, "a") == ["enter", "ring", "answer", "complete", "wrap_up_end"]


def test_reconciliation_frees_an_agent_stuck_on_a_call_the_sip_side_no_longer_has() -> None:
    acd = acd_with(["1001", "1002"])
    acd.enqueue("a", "q", T0)
    acd.enqueue("b", "q", T0)
    acd.assign(T0)
    acd.answered("a", "1001", at(1))
    assert acd.reconcile({"a", "b"}, at(5)) == []
    assert acd.reconcile({"b"}, at(6)) == ["1001"]
    assert acd.agent("1001").state is AgentState.AVAILABLE
    assert kinds(acd, "a")[-1] == "interrupted"
    assert acd.hung_up("a", at(7)) is None  # the late BYE changes nothing
    assert acd.transitions[-1].by == "reconciliation"


def test_restore_after_a_restart_keeps_pauses_callbacks_and_numbering() -> None:
    acd = Acd(parse_config({"queues": {"q": {"announce_every": None}}}))
    acd.restore({"1001": (AgentState.PAUSED, "lunch"), "1002": (AgentState.ON_CALL, ""),
                 "1003": (AgentState.LOGGED_OUT, "gone home")},
                [PendingCallback("cb", "q", "5550101", "5550101", 0, T0, 40)], last_seq=41, now=at(100))
    acd.set_agents([AgentProfile("1001"), AgentProfile("1002"), AgentProfile("1003")], at(100))
    acd.set_on_shift(["1001", "1002", "1003"], T0)
    states = {a.extension: (a.state, a.reason) for a in acd.agents()}
    assert states == {"1001": (AgentState.PAUSED, "lunch"), "1002": (AgentState.AVAILABLE, ""),
                      "1003": (AgentState.LOGGED_OUT, "")}
    acd.enqueue("new", "q", at(101))
    assert [c.call_id for c in acd.waiting()] == ["cb", "new"]
    assert offered(acd, at(101)) == [("cb", ("1002",))]
    assert min(e.seq for e in acd.log) > 41


# --- configuration -------------------------------------------------------------------------------
@pytest.mark.parametrize(("doc", "message"), [
    ({}, "at least one queue"),
    ({"queues": {"q": {"strategy": "psychic"}}}, "queue 'q': strategy 'psychic' is not one of longest-idle"),
    ({"queues": {"q": {"wait_forever": True}}}, "queue 'q': unknown setting"),
    ({"queues": {"q": {"overflow_to": "r"}}}, "overflow_to 'r' is not a queue"),
    ({"queues": {"q": {"overflow_to": "q"}}}, "cannot overflow to itself"),
    ({"queues": {"q": {"ring_timeout": -1}}}, "ring_timeout must be a number"),
    ({"queues": {"q": {"tiers": []}}}, "tiers must be a non-empty list"),
    ({"queues": {"q": {"tiers": [{"level": 0}]}}}, "tier 1: level must be a whole number >= 1"),
    ({"queues": {"q": {"numbers": ["100"]}, "r": {"numbers": ["100"]}}}, "Number 100 enters both"),
    ({"queues": {"q": {}}, "default_queue": "r"}, "default_queue 'r' is not a queue"),
    ({"queues": {"q": {}}, "menu": {"options": {"1": {"queue": "r"}}}}, "menu key 1: queue 'r' is not a queue"),
    ({"queues": {"q": {}}, "menu": {"options": {"11": {"queue": "q"}}}}, "'11' is not a telephone key"),
    ({"queues": {"q": {}}, "vip": {"555": 0}}, "priority of 555 must be a whole number >= 1"),
    ({"queues": {"q": {}}, "colour": "blue"}, "Unknown top-level key"),
])
def test_bad_configuration_is_refused_with_a_clear_message(doc: Any, message: str) -> None:
    with pytest.raises(RoutingError, match=message):
        parse_config(doc)


def test_the_shipped_configuration_is_valid_and_routes_by_number_and_menu() -> None:
    from routing.queuefile import default_config

    cfg = default_config()
    assert set(cfg.queues) == {"general", "network", "applications"}
    assert cfg.queue_for_number("100") == "general" and cfg.queue_for_number("999") == "general"
    option = cfg.menu.choose("2")
    assert option is not None and option.queue == "network"
    assert cfg.menu.choose("7") is None


def test_the_configuration_adds_skills_and_an_agents_own_wrap_up_to_the_rotas_profile() -> None:
    cfg = parse_config({"queues": {"q": {}}, "agents": {"2001": {"skills": ["network"], "wrap_up": 20}}})
    assert cfg.profile("2001", 2, ["vpn"]) == AgentProfile("2001", 2, frozenset({"network", "vpn"}), 20.0)
    assert cfg.profile("1001", 1) == AgentProfile("1001", 1)
    with pytest.raises(RoutingError, match="agent 2001: skills must be a list"):
        parse_config({"queues": {"q": {}}, "agents": {"2001": {"skills": "network"}}})
