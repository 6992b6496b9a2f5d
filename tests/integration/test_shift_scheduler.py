"""ShiftScheduler with its job store in a real database: boundaries fire, survive a restart, follow edits."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from shifts.rota import Agent, BecameRoutable, RotaEvent, Shift, StoppedRoutable
from shifts.scheduler import SchedulerError, ShiftScheduler
from shifts.store import RotaStore

pytestmark = pytest.mark.integration


class Recorder:
    """Collects events from the scheduler's thread; ``wait_for(n)`` blocks until n have arrived."""

    def __init__(self) -> None:
        self.events: list[RotaEvent] = []
        self._condition = threading.Condition()

    def __call__(self, event: RotaEvent) -> None:
        with self._condition:
            self.events.append(event)
            self._condition.notify_all()

    def wait_for(self, count: int, timeout: float = 15) -> list[RotaEvent]:
        with self._condition:
            assert self._condition.wait_for(lambda: len(self.events) >= count, timeout), self.events
            return list(self.events)


def now() -> datetime:
    return datetime.now(UTC)


def wait_until(instant: datetime) -> None:
    """Let the wall clock pass ``instant`` (a deterministic wait, not a guess that something happened)."""
    while (left := (instant - now()).total_seconds()) > 0:
        time.sleep(left + 0.05)


@pytest.fixture
def store(engine: Engine) -> RotaStore:
    store = RotaStore(engine)
    store.upsert_agent(Agent("1001", "Alice"), "test")
    store.upsert_agent(Agent("1002", "Bob"), "test")
    return store


@pytest.fixture
def make_scheduler(migrated_database_url: str, store: RotaStore) -> Iterator[Callable[..., ShiftScheduler]]:
    started: list[ShiftScheduler] = []

    def make(on_event: Callable[[RotaEvent], None], **kwargs: object) -> ShiftScheduler:
        scheduler = ShiftScheduler(migrated_database_url, store.rota, on_event, now, **kwargs)  # type: ignore[arg-type]
        started.append(scheduler)
        return scheduler

    yield make
    for scheduler in started:
        scheduler.stop()


def test_a_boundary_fires_shift_started_then_shift_ended(store: RotaStore, make_scheduler) -> None:
    recorder = Recorder()
    start = now() + timedelta(seconds=1.5)
    store.add_shift(Shift("1001", start, start + timedelta(seconds=1), "UTC"), "test")
    scheduler = make_scheduler(recorder)
    scheduler.start()

    events = recorder.wait_for(2)

    assert events == [BecameRoutable("1001", start), StoppedRoutable("1001", start + timedelta(seconds=1))]
    assert now() >= start + timedelta(seconds=1)


def test_a_boundary_missed_while_down_is_applied_at_start(store: RotaStore, make_scheduler) -> None:
    first, second = Recorder(), Recorder()
    start = now() + timedelta(seconds=1.5)
    store.add_shift(Shift("1002", start, start + timedelta(hours=1), "UTC"), "test")
    before = make_scheduler(first)
    before.start()
    assert before.scheduled() == [start, start + timedelta(hours=1)]
    before.stop()

    wait_until(start)  # the boundary passes while nothing runs
    after = make_scheduler(second)
    after.start()  # its own reschedule only looks ahead of now: the job store must hold the missed boundary

    assert second.wait_for(1) == [BecameRoutable("1002", start)]
    assert first.events == []
    assert after.scheduled() == [start + timedelta(hours=1)]


def test_a_boundary_missed_beyond_the_grace_time_is_dropped(store: RotaStore, make_scheduler) -> None:
    recorder = Recorder()
    start = now() + timedelta(seconds=1)
    store.add_shift(Shift("1001", start, start + timedelta(hours=1), "UTC"), "test")
    before = make_scheduler(recorder, misfire_grace_time=timedelta(seconds=1))
    before.start()
    before.stop()

    wait_until(start + timedelta(seconds=2.5))
    after = make_scheduler(recorder, misfire_grace_time=timedelta(seconds=1))
    after.start()
    deadline = time.monotonic() + 15
    while start in after.scheduled() and time.monotonic() < deadline:
        time.sleep(0.05)  # APScheduler drops the misfired job on its thread

    assert after.scheduled() == [start + timedelta(hours=1)]
    assert recorder.events == []


def test_reschedule_follows_rota_edits(store: RotaStore, make_scheduler) -> None:
    scheduler = make_scheduler(Recorder())
    scheduler.start()
    assert scheduler.scheduled() == []

    start = (now() + timedelta(hours=1)).replace(microsecond=0)
    shift = store.add_shift(Shift("1001", start, start + timedelta(hours=8), "UTC"), "test")
    store.add_shift(Shift("1002", start + timedelta(hours=47), start + timedelta(hours=50), "UTC"), "test")
    scheduler.reschedule()
    assert scheduler.scheduled() == [start, start + timedelta(hours=8), start + timedelta(hours=47)]  # 48 h ahead
    assert scheduler.status() == {"running": True, "next_boundary": start.isoformat(), "scheduled": 3}

    assert shift.id is not None
    store.delete_shift(shift.id, "test")
    scheduler.reschedule()
    assert scheduler.scheduled() == [start + timedelta(hours=47)]


def test_fire_recomputes_the_boundary_from_the_current_rota(store: RotaStore, make_scheduler) -> None:
    recorder = Recorder()
    scheduler = make_scheduler(recorder)
    at = datetime(2026, 10, 21, 16, tzinfo=UTC)
    store.add_shift(Shift("1001", at - timedelta(hours=8), at, "UTC"), "test")
    store.add_shift(Shift("1002", at, at + timedelta(hours=8), "UTC"), "test")

    scheduler.fire(at)
    scheduler.fire(at - timedelta(hours=1))  # not a boundary (any more): nothing happens

    assert recorder.events == [StoppedRoutable("1001", at), BecameRoutable("1002", at)]


def test_a_failing_handler_does_not_stop_the_other_events(store: RotaStore, make_scheduler) -> None:
    seen: list[RotaEvent] = []

    def flaky(event: RotaEvent) -> None:
        seen.append(event)
        if isinstance(event, StoppedRoutable):
            raise RuntimeError("routing is down")

    at = datetime(2026, 10, 21, 16, tzinfo=UTC)
    store.add_shift(Shift("1001", at - timedelta(hours=8), at, "UTC"), "test")
    store.add_shift(Shift("1002", at, at + timedelta(hours=8), "UTC"), "test")
    make_scheduler(flaky).fire(at)

    assert seen == [StoppedRoutable("1001", at), BecameRoutable("1002", at)]


def test_stop_leaves_no_thread_and_status_says_so(make_scheduler) -> None:
    threads_before = set(threading.enumerate())
    scheduler = make_scheduler(Recorder())
    scheduler.start()
    assert scheduler.status()["running"] is True
    assert set(threading.enumerate()) - threads_before  # the scheduler runs a thread of its own

    scheduler.stop()
    scheduler.stop()  # idempotent

    assert set(threading.enumerate()) - threads_before == set()
    assert scheduler.status() == {"running": False, "next_boundary": None, "scheduled": 0}


def test_two_live_schedulers_may_not_share_a_name(make_scheduler) -> None:
    first = make_scheduler(Recorder())
    first.start()
    second = make_scheduler(Recorder())
    with pytest.raises(SchedulerError, match="Another shift scheduler called 'shifts' runs in this process"):
        second.start()
    with pytest.raises(SchedulerError, match="already running"):
        first.start()
    assert second.running is False
