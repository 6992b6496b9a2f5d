"""The ACD core: FIFO queue, longest-idle on-shift agent, ring-no-answer, the agent state machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from routing.acd import Acd, AgentState, Assignment, RoutingError

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def acd_with(agents: list[str], on_shift: list[str] | None = None) -> Acd:
    acd = Acd()
    acd.set_agents(agents)
    acd.set_on_shift(agents if on_shift is None else on_shift)
    return acd


def test_oldest_call_goes_to_the_agent_idle_longest() -> None:
    acd = acd_with(["1001", "1002"])
    acd.enqueue("a", T0)
    acd.assign()
    acd.answered("a", "1001")
    acd.hung_up("1001", T0 + timedelta(minutes=5))
    acd.enqueue("b", T0 + timedelta(minutes=6))
    acd.enqueue("c", T0 + timedelta(minutes=7))
    # 1002 never had a call, so is idle longest: b goes to 1002, c to 1001.
    assert acd.assign() == [Assignment("b", "1002"), Assignment("c", "1001")]


def test_fifo_order_is_kept_across_assignments() -> None:
    acd = acd_with(["1001"])
    for i, call in enumerate(["a", "b", "c"]):
        acd.enqueue(call, T0 + timedelta(seconds=i))
    assert acd.assign() == [Assignment("a", "1001")]
    acd.answered("a", "1001")
    acd.hung_up("1001", T0 + timedelta(minutes=1))
    assert acd.assign() == [Assignment("b", "1001")]


def test_off_shift_agents_get_no_calls() -> None:
    acd = acd_with(["1001", "1002"], on_shift=["1002"])
    acd.enqueue("a", T0)
    assert acd.assign() == [Assignment("a", "1002")]


def test_nobody_on_shift_leaves_the_call_waiting() -> None:
    acd = acd_with(["1001"], on_shift=[])
    acd.enqueue("a", T0)
    assert acd.assign() == []
    assert acd.position("a") == 1
    acd.set_on_shift(["1001"])
    assert acd.assign() == [Assignment("a", "1001")]


def test_ring_no_answer_moves_to_the_next_agent_and_keeps_the_place() -> None:
    acd = acd_with(["1001", "1002"])
    acd.enqueue("a", T0)
    acd.enqueue("b", T0 + timedelta(seconds=1))
    first = acd.assign()
    assert first == [Assignment("a", "1001"), Assignment("b", "1002")]
    acd.no_answer("a", "1001")
    assert acd.agent("1001").state is AgentState.AVAILABLE
    assert acd.position("a") == 1
    # 1001 already missed a: a waits for another agent rather than ringing 1001 again at once.
    assert acd.assign() == []
    acd.no_answer("b", "1002")
    assert acd.assign() == [Assignment("a", "1002"), Assignment("b", "1001")]


def test_when_every_agent_missed_the_call_the_round_starts_again() -> None:
    acd = acd_with(["1001"])
    acd.enqueue("a", T0)
    acd.assign()
    acd.no_answer("a", "1001")
    assert acd.assign() == [Assignment("a", "1001")]


def test_abandon_while_ringing_frees_the_agent() -> None:
    acd = acd_with(["1001"])
    acd.enqueue("a", T0)
    acd.assign()
    assert acd.abandon("a") == "1001"
    assert acd.agent("1001").state is AgentState.AVAILABLE
    assert acd.waiting() == []
    assert acd.abandon("a") is None  # a second report of the same abandon is harmless


def test_a_shift_ending_does_not_cut_a_call_in_progress() -> None:
    acd = acd_with(["1001"])
    acd.enqueue("a", T0)
    acd.assign()
    acd.answered("a", "1001")
    acd.set_on_shift([])
    acd.set_agents([])  # even removed from the rota, the busy agent keeps its call
    assert acd.agent("1001").state is AgentState.ON_CALL
    acd.hung_up("1001", T0 + timedelta(minutes=3))
    acd.enqueue("b", T0 + timedelta(minutes=4))
    assert acd.assign() == []


@pytest.mark.parametrize(
    ("prepare", "action"),
    [
        ([], "answer"),
        ([], "hang_up"),
        (["ring"], "ring"),
        (["ring"], "hang_up"),
        (["ring", "answer"], "ring"),
        (["ring", "answer"], "no_answer"),
    ],
)
def test_illegal_agent_transitions_are_rejected(prepare: list[str], action: str) -> None:
    acd = acd_with(["1001"])
    agent = acd.agent("1001")
    for step in prepare:
        agent.apply(step)
    before = agent.state
    with pytest.raises(RoutingError, match="1001 cannot"):
        agent.apply(action)
    assert agent.state is before


def test_a_call_cannot_be_queued_twice_nor_answered_by_the_wrong_agent() -> None:
    acd = acd_with(["1001", "1002"])
    acd.enqueue("a", T0)
    with pytest.raises(RoutingError, match="already queued"):
        acd.enqueue("a", T0)
    acd.assign()
    with pytest.raises(RoutingError, match="not ringing agent 1002"):
        acd.answered("a", "1002")


def test_unknown_agent_is_a_clear_error() -> None:
    with pytest.raises(RoutingError, match="No agent has extension 9999"):
        Acd().agent("9999")
