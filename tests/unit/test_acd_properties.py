"""Random sequences of commands, valid or not, never break the ACD's invariants: one state per agent, an
agent rings for or talks on at most one call, the queue stays in order, the log only grows, in order, and
a refused command changes nothing."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from routing.acd import Acd
from routing.agents import AgentProfile, AgentState, RoutingError
from routing.events import TERMINAL
from routing.queues import parse_config

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
AGENTS = ["1001", "1002", "2001"]
CALLS = ["a", "b", "c", "d", "e"]
QUEUES = ["l1", "l2"]

enqueue = st.tuples(st.just("enqueue"), st.sampled_from(CALLS), st.sampled_from([*QUEUES, "nope"]),
                    st.integers(0, 2))
assign = st.tuples(st.just("assign"))
answered = st.tuples(st.just("answered"), st.sampled_from(CALLS), st.sampled_from(AGENTS))
# The commands that make calls meet agents come up more often than the rest.
command = st.one_of(
    enqueue, enqueue, enqueue, assign, assign, assign, answered, answered,
    st.tuples(st.just("no_answer"), st.sampled_from(CALLS), st.sampled_from(AGENTS),
              st.sampled_from(["timeout", "busy"])),
    st.tuples(st.just("abandon"), st.sampled_from(CALLS)),
    st.tuples(st.just("hung_up"), st.sampled_from(CALLS)),
    st.tuples(st.just("pause"), st.sampled_from(AGENTS)),
    st.tuples(st.just("resume"), st.sampled_from(AGENTS)),
    st.tuples(st.just("log_out"), st.sampled_from(AGENTS)),
    st.tuples(st.just("log_in"), st.sampled_from(AGENTS)),
    st.tuples(st.just("callback"), st.sampled_from(CALLS)),
    st.tuples(st.just("callback_failed"), st.sampled_from(CALLS)),
    st.tuples(st.just("transfer"), st.sampled_from(CALLS), st.sampled_from(QUEUES)),
    st.tuples(st.just("shift"), st.sets(st.sampled_from(AGENTS))),
    st.tuples(st.just("reconcile"), st.sets(st.sampled_from(CALLS))),
    st.tuples(st.just("wait"), st.integers(1, 120)),
)


def world() -> Acd:
    config = parse_config({"queues": {
        "l1": {"tiers": [{"level": 1}, {"level": 2}], "tier_wait": 30, "escalate_when_none_free": False,
               "max_wait": 90, "overflow_to": "l2", "wrap_up": 20, "max_misses": 2, "announce_every": 30,
               "strategy": "ring-all"},
        "l2": {"tiers": [{"level": 2}], "max_wait": 60, "at_max_wait": "callback", "retry_delay": 5,
               "priority": 1, "leave_empty": True},
    }})
    acd = Acd(config)
    acd.set_agents([AgentProfile("1001"), AgentProfile("1002"), AgentProfile("2001", level=2)], T0)
    acd.set_on_shift(AGENTS, T0)
    return acd


def apply(acd: Acd, cmd: tuple[Any, ...], now: datetime) -> None:
    match cmd:
        case ("enqueue", call, queue, prio):
            acd.enqueue(call, queue, now, caller=f"555{call}", priority=prio)
        case ("assign",):
            acd.assign(now)
        case ("answered", call, ext):
            acd.answered(call, ext, now)
        case ("no_answer", call, ext, reason):
            acd.no_answer(call, ext, now, reason)
        case ("abandon", call):
            acd.abandon(call, now)
        case ("hung_up", call):
            acd.hung_up(call, now)
        case ("pause", ext):
            acd.pause(ext, "break", now, ext)
        case ("resume", ext):
            acd.resume(ext, now, ext)
        case ("log_out", ext):
            acd.log_out(ext, now, ext)
        case ("log_in", ext):
            acd.log_in(ext, now, ext)
        case ("callback", call):
            acd.request_callback(call, f"555{call}", now)
        case ("callback_failed", call):
            acd.callback_failed(call, now)
        case ("transfer", call, queue):
            acd.transfer(call, queue, now, "supervisor")
        case ("shift", on):
            acd.set_on_shift(on, now)
        case ("reconcile", live):
            acd.reconcile(live, now)
        case ("wait", _):
            acd.tick(now)


def check(acd: Acd) -> None:
    waiting = acd.waiting()
    keys = [c.sort_key(acd.queue(c.queue).priority) for c in waiting]
    assert keys == sorted(keys), "the queue is out of order"
    assert len({c.call_id for c in waiting}) == len(waiting)
    busy: dict[str, str] = {}
    for agent in acd.agents():
        if agent.state in (AgentState.RINGING, AgentState.ON_CALL):
            assert agent.call_id is not None
            assert agent.call_id not in busy.values() or agent.state is AgentState.RINGING
            busy[agent.extension] = agent.call_id
        if agent.state is AgentState.RINGING:
            call = acd.call(agent.call_id or "")
            assert call is not None and agent.extension in call.ringing, f"{agent.extension} rings for nothing"
        if agent.state is AgentState.ON_CALL:
            assert acd.connected_agent(agent.call_id or "") == agent.extension
            assert acd.call(agent.call_id or "") is None, "a call is both waiting and in conversation"
    for call in waiting:
        for ext in call.ringing:
            assert acd.agent(ext).state is AgentState.RINGING and acd.agent(ext).call_id == call.call_id
    talking = [c for c in busy.values() if acd.connected_agent(c)]
    assert len(talking) == len(set(talking)), "two agents on one call"
    seqs = [e.seq for e in acd.log]
    assert seqs == sorted(set(seqs))
    ended = {e.call_id for e in acd.log if e.kind in TERMINAL}
    for call in waiting:
        last = [e for e in acd.log if e.call_id == call.call_id][-1]
        assert last.kind not in TERMINAL or call.call_id not in ended or last.kind.value == "enter"


def state_of(acd: Acd) -> Any:
    return ([(a.extension, a.state, a.call_id, a.reason) for a in acd.agents()],
            [(c.call_id, c.queue, sorted(c.ringing), c.callback) for c in acd.waiting()], len(acd.log))


@settings(max_examples=300, deadline=None)
@given(st.lists(command, min_size=5, max_size=80))
def test_any_sequence_of_commands_keeps_the_invariants(commands: list[tuple[Any, ...]]) -> None:
    acd = world()
    now = T0
    for cmd in commands:
        if cmd[0] == "wait":
            now += timedelta(seconds=cmd[1])
        before = copy.deepcopy(state_of(acd))
        try:
            apply(acd, cmd, now)
        except RoutingError:
            assert state_of(acd) == before, f"{cmd} was refused but changed the state"
        check(acd)
