"""The routing journal on a real database (SQLite file, or PostgreSQL with HOTLINE_TEST_DATABASE_URL):
the schema, the log in order, and a restart that loses nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from routing.acd import Acd
from routing.agents import AgentProfile, AgentState
from routing.metrics import agent_metrics, queue_metrics
from routing.orm import metadata
from routing.queues import parse_config
from routing.store import RoutingStore
from shifts.staffing import forecast_from_history

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
CONFIG = parse_config({"queues": {"q": {"announce_every": None, "wrap_up": 10}}})


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def journalled(acd: Acd, store: RoutingStore) -> None:
    store.record(*acd.drain())


def test_migration_creates_exactly_the_tables_orm_py_describes(engine: Engine) -> None:
    ours = set(metadata.tables)

    def only_ours(name: str | None, type_: str, _parents: object) -> bool:
        return type_ != "table" or name in ours

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": only_ours})
        assert compare_metadata(context, metadata) == []
    assert ours == {"queue_events", "agent_transitions", "queue_overrides", "queue_changes"}


def test_the_log_reads_back_in_order_and_gives_the_same_metrics(engine: Engine) -> None:
    store = RoutingStore(engine)
    acd = Acd(CONFIG)
    acd.set_agents([AgentProfile("1001")], T0)
    acd.set_on_shift(["1001"], T0)
    acd.enqueue("a", "q", at(1), caller="5550101")
    acd.assign(at(1))
    journalled(acd, store)
    acd.answered("a", "1001", at(5))
    acd.hung_up("a", at(65))
    acd.tick(at(75))
    acd.enqueue("b", "q", at(80))
    acd.abandon("b", at(90))
    journalled(acd, store)
    events = store.events(T0, at(100))
    assert events == list(acd.log)
    assert events[0].at.tzinfo is not None
    assert queue_metrics(events, T0, at(100), CONFIG.queues) == queue_metrics(acd.log, T0, at(100), CONFIG.queues)
    transitions = store.transitions(at(50), at(100))
    # What the window opened with: the last state change and the last shift record before it.
    assert [t.action.value for t in transitions if t.at < at(50)] == ["shift_start", "answer"]
    assert agent_metrics(events, transitions, at(50), at(100)) == agent_metrics(acd.log, acd.transitions, at(50),
                                                                                 at(100))
    assert [e.kind.value for e in store.call_events("a")] == ["enter", "ring", "answer", "complete", "wrap_up_end"]


def test_a_batch_is_stored_whole_or_not_at_all(engine: Engine) -> None:
    store = RoutingStore(engine)
    acd = Acd(CONFIG)
    acd.enqueue("a", "q", T0)
    events, transitions = acd.drain()
    store.record(events, transitions)
    acd.enqueue("b", "q", at(1))
    more, _ = acd.drain()
    with pytest.raises(Exception):  # noqa: B017 - the driver's own IntegrityError
        store.record(events + more, [])  # seq of "a" again: refused as a whole
    assert [e.call_id for e in store.events(T0, at(10))] == ["a"]
    store.record(more, [])
    assert [e.call_id for e in store.events(T0, at(10))] == ["a", "b"]


def test_a_restart_keeps_pauses_and_callbacks_and_logs_cut_calls_as_interrupted(engine: Engine) -> None:
    store = RoutingStore(engine)
    acd = Acd(CONFIG)
    acd.set_agents([AgentProfile("1001"), AgentProfile("1002"), AgentProfile("1003")], T0)
    acd.set_on_shift(["1001", "1002", "1003"], T0)
    acd.pause("1003", "training", T0, "supervisor")
    acd.enqueue("talking", "q", at(1))
    acd.assign(at(1))
    acd.answered("talking", "1001", at(2))
    acd.enqueue("ringing", "q", at(3))
    acd.assign(at(3))
    acd.enqueue("waiting", "q", at(4))
    acd.enqueue("cb", "q", at(5), caller="5550105")
    acd.request_callback("cb", "5550105", at(20))
    acd.enqueue("done", "q", at(6))
    acd.abandon("done", at(7))
    journalled(acd, store)
    # The process dies here. A new one starts:
    recovered = store.recover(at(100))
    assert sorted(recovered.interrupted) == ["ringing", "talking", "waiting"]
    assert [c.call_id for c in recovered.callbacks] == ["cb"]
    assert recovered.states["1003"] == (AgentState.PAUSED, "training")
    fresh = Acd(CONFIG)
    fresh.restore(recovered.states, recovered.callbacks, recovered.last_seq, at(100))
    fresh.set_agents([AgentProfile("1001"), AgentProfile("1002"), AgentProfile("1003")], at(100))
    fresh.set_on_shift(["1001", "1002", "1003"], at(100))
    assert {a.extension: a.state for a in fresh.agents()} == {
        "1001": AgentState.AVAILABLE, "1002": AgentState.AVAILABLE, "1003": AgentState.PAUSED}
    offers = fresh.assign(at(101))
    assert [(o.call_id, o.callback) for o in offers] == [("cb", "5550105")]
    journalled(fresh, store)  # numbering continues: no clash with the log before the restart
    assert store.recover(at(102)).interrupted == []  # "cb" rings again; nothing else is open
    kinds = {c: [e.kind.value for e in store.call_events(c)][-1] for c in ("talking", "ringing", "waiting")}
    assert kinds == {"talking": "interrupted", "ringing": "interrupted", "waiting": "interrupted"}


def test_arrivals_count_the_calls_that_entered_a_queue_per_interval(engine: Engine) -> None:
    store = RoutingStore(engine)
    acd = Acd(parse_config({"queues": {"q": {"announce_every": None}, "shut": {"closed": True}}}))
    entered = [0, 1, 899.5, 900, 1799, 3600, 5400]  # seconds after T0; 5400 is past the end
    for i, s in enumerate(entered):
        acd.enqueue(f"c{i}", "q", at(s))
        acd.abandon(f"c{i}", at(s + 0.5))  # other kinds in the same intervals are not arrivals
    acd.enqueue("refused", "shut", at(2))  # a closed queue: the call never entered
    acd.enqueue("before", "q", at(-1))
    store.record(*acd.drain())
    step = timedelta(minutes=15)
    assert store.arrivals(T0, at(5400), step) == {T0: 3, at(900): 2, at(3600): 1}
    assert store.arrivals(at(900), at(1800), timedelta(minutes=30)) == {at(900): 2}
    assert store.arrivals(T0 + timedelta(days=1), T0 + timedelta(days=2), step) == {}
    with pytest.raises(ValueError, match="whole number of seconds"):
        store.arrivals(T0, at(60), timedelta(milliseconds=1500))


def test_the_staffing_forecast_reads_the_queue_log(engine: Engine) -> None:
    store = RoutingStore(engine)
    acd = Acd(CONFIG)
    for week in (1, 2):  # the same Monday-morning quarter hour, two weeks running: 4 then 2 calls
        for i in range(6 - 2 * week):
            acd.enqueue(f"w{week}-{i}", "q", T0 - timedelta(weeks=week) + timedelta(minutes=i))
    store.record(*acd.drain())
    demand = forecast_from_history(store, T0, T0 + timedelta(minutes=30), timedelta(minutes=15), weeks=2)
    assert [(d.start, d.calls) for d in demand] == [(T0, 3.0), (at(900), 0.0)]
