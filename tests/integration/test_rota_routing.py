"""The rota drives routing: the real APScheduler with its job store in the real database fires at the
boundaries, ``Service.refresh_rota`` (the composition root's hand-off) applies the routable set to the real
Distributor, whose legs are the hand-written fakes of the routing unit tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from hotline.bootstrap import Service
from hotline.settings import Settings
from routing.distributor import Distributor, FlowSettings
from routing.queues import parse_config
from shifts.rota import Absence, Agent, RotaEvent, Shift
from shifts.scheduler import ShiftScheduler
from shifts.store import RotaStore
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

pytestmark = pytest.mark.integration

GRACE = timedelta(seconds=1.5)


def now() -> datetime:
    return datetime.now(UTC)


def wait_until(instant: datetime) -> None:
    """Let the wall clock pass ``instant`` (a deterministic wait, not a guess that something happened)."""
    while (left := (instant - now()).total_seconds()) > 0:
        time.sleep(left + 0.02)


class Routing:
    """The service's routing side: the real Distributor behind ``Service.refresh_rota``; records each
    routable set applied, so a test can wait for the one it expects."""

    def __init__(self, store: RotaStore, engine: Engine) -> None:
        config = parse_config({"queues": {"general": {"ring_timeout": 2, "numbers": ["100"]}}})
        self.distributor = Distributor(config=config, recorder=Recorder(), transcriber=FakeTranscriber(),
                                       clock=now, settings=FlowSettings(hold_audio=hold_music))
        self.service = Service(settings=Settings(shift_end_grace=GRACE), engine=engine, cases=None,  # type: ignore[arg-type]
                               rota=store, routing=None, distributor=self.distributor,  # type: ignore[arg-type]
                               prompts=None, transcriber=None, kamailio=None, clock=now)  # type: ignore[arg-type]
        self.applied: list[tuple[datetime, frozenset[str]]] = []
        self._changed = threading.Condition()

    def refresh(self, _event: RotaEvent | None = None) -> None:
        self.service.refresh_rota()
        with self._changed:
            self.applied.append((now(), self.distributor.acd.on_shift))
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[frozenset[str]], bool], since: int = 0) -> datetime:
        """When a routable set satisfying ``predicate`` was applied (the ``since``-th application on)."""
        with self._changed:
            assert self._changed.wait_for(lambda: any(predicate(s) for _, s in self.applied[since:]), TIMEOUT), \
                self.applied
            return next(at for at, s in self.applied[since:] if predicate(s))

    def waiting(self) -> list[str]:
        return [c["call_id"] for c in self.distributor.snapshot()["waiting"]]

    def wait_waiting(self, call_id: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while call_id not in self.waiting():
            assert time.monotonic() < deadline, f"{call_id} was never queued"
            time.sleep(0.01)


@pytest.fixture
def store(engine: Engine) -> RotaStore:
    store = RotaStore(engine)
    store.upsert_agent(Agent("1001", "Alice"), "test")
    return store


@pytest.fixture
def routing(store: RotaStore, engine: Engine) -> Iterator[Routing]:
    routing = Routing(store, engine)
    yield routing
    routing.distributor.stop()


@pytest.fixture
def make_scheduler(migrated_database_url: str, store: RotaStore) -> Iterator[Callable[..., ShiftScheduler]]:
    started: list[ShiftScheduler] = []

    def make(routing: Routing) -> ShiftScheduler:
        scheduler = ShiftScheduler(migrated_database_url, store.rota, routing.refresh, now, grace=GRACE)
        started.append(scheduler)
        scheduler.start()
        return scheduler

    yield make
    for scheduler in started:
        scheduler.stop()


def hang_up(*legs: FakeLeg) -> None:
    for leg in legs:
        leg.far_end_hangs_up()


def test_a_shift_starting_makes_the_agent_receive_the_next_call(store: RotaStore, routing: Routing,
                                                                make_scheduler: Any) -> None:
    start = now() + timedelta(seconds=2)
    store.add_shift(Shift("1001", start, start + timedelta(hours=1), "UTC"), "test")
    routing.refresh()
    make_scheduler(routing)
    dialer = FakeDialer({"1001": "answer"})
    caller = FakeLeg("c1", "5550101")
    thread = run_call(routing.distributor, caller, dialer)
    routing.wait_waiting("c1")
    assert dialer.dialled.empty()  # queued: nobody is on shift yet

    assert dialer.dialled.get(timeout=TIMEOUT) == "1001"
    assert now() >= start
    assert routing.wait_for(lambda s: "1001" in s) >= start
    hang_up(caller)
    thread.join(TIMEOUT)


def test_a_shift_ending_lets_the_call_in_progress_finish_and_routes_nothing_new(
        store: RotaStore, routing: Routing, make_scheduler: Any) -> None:
    end = now() + timedelta(seconds=3)
    store.add_shift(Shift("1001", end - timedelta(hours=1), end, "UTC"), "test")
    routing.refresh()
    make_scheduler(routing)
    dialer = FakeDialer({"1001": "answer"})
    first = FakeLeg("c1", "5550101")
    first_thread = run_call(routing.distributor, first, dialer)
    assert dialer.dialled.get(timeout=TIMEOUT) == "1001"
    agent = dialer.legs["1001"][0]
    assert speak_until_heard(first, agent)

    dropped_at = routing.wait_for(lambda s: "1001" not in s)  # at the end minus the grace
    assert end - GRACE <= dropped_at < end
    second = FakeLeg("c2", "5550102")
    second_thread = run_call(routing.distributor, second, dialer)
    routing.wait_waiting("c2")
    wait_until(end + timedelta(seconds=0.5))

    agent.heard.clear()
    assert speak_until_heard(first, agent), "the call in progress was cut by the end of the shift"
    assert not first.ended.is_set() and not agent.ended.is_set()
    hang_up(first)
    first_thread.join(TIMEOUT)
    assert routing.distributor.acd.agent("1001").state == "available"
    assert dialer.dialled.empty() and routing.waiting() == ["c2"]  # free, but off shift: nothing new
    hang_up(second)
    second_thread.join(TIMEOUT)


def test_a_boundary_passed_while_the_service_was_down_is_applied_at_start(
        store: RotaStore, routing: Routing, make_scheduler: Any) -> None:
    start = now() + timedelta(seconds=1.5)
    store.add_shift(Shift("1001", start, start + timedelta(hours=1), "UTC"), "test")
    routing.refresh()
    make_scheduler(routing).stop()  # the job of the boundary is in the database now
    dialer = FakeDialer({"1001": "answer"})
    caller = FakeLeg("c1", "5550101")
    thread = run_call(routing.distributor, caller, dialer)
    routing.wait_waiting("c1")

    wait_until(start + timedelta(seconds=0.5))  # the boundary passes while no scheduler runs
    assert dialer.dialled.empty()
    make_scheduler(routing)  # the missed job fires from the job store: no refresh by hand

    assert dialer.dialled.get(timeout=TIMEOUT) == "1001"
    hang_up(caller)
    thread.join(TIMEOUT)


def test_an_absence_entered_live_makes_the_agent_unroutable_at_once(
        store: RotaStore, routing: Routing, make_scheduler: Any) -> None:
    store.add_shift(Shift("1001", now() - timedelta(hours=1), now() + timedelta(hours=4), "UTC"), "test")
    routing.refresh()
    scheduler = make_scheduler(routing)
    assert "1001" in routing.distributor.acd.on_shift
    back = now() + timedelta(seconds=2)

    store.add_absence(Absence("1001", now() - timedelta(minutes=1), back, "sickness"), "supervisor")
    routing.refresh()  # what the API's on_rota_changed does: refresh_rota, then reschedule
    scheduler.reschedule()

    assert "1001" not in routing.distributor.acd.on_shift
    # the scheduler brings them back when the absence ends
    assert routing.wait_for(lambda s: "1001" in s, since=len(routing.applied)) >= back
