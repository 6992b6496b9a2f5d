"""Worker supervision with hand-written fake workers: probes, misses, reported failures, restarts that end
the worker's calls, call slots, the health verdict, and checks bounded in time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from structlog.testing import capture_logs

from hotline.supervision import BoundedCheck, WorkerSupervisor, results_within, verdict

TIMEOUT = 5.0


class FakeProbe:
    """Like ``telephony.probe.ProbeResult``: true only for an answer."""

    def __init__(self, ok: bool) -> None:
        self.ok = ok

    def __bool__(self) -> bool:
        return self.ok


class FakeWorker:
    def __init__(self, index: int, generation: int) -> None:
        self.name = f"hotline-{index + 1}"
        self.index, self.generation = index, generation
        self.answers = True  # whether it answers OPTIONS
        self.failure: str | None = None
        self.registered = True
        self.started = threading.Event()
        self.stopped = threading.Event()
        self.probes = 0

    def probe(self, timeout: float) -> FakeProbe:
        self.probes += 1
        return FakeProbe(self.answers and not self.stopped.is_set())

    def start(self) -> None:
        self.started.set()

    def stop(self) -> None:
        self.stopped.set()

    def wait_registered(self, timeout: float) -> bool:
        return self.registered

    def status(self) -> dict[str, Any]:
        return {"sip": f"127.0.0.1:{5070 + self.index}"}


class FakeCall:
    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self.ended = threading.Event()

    def hangup(self) -> None:
        self.ended.set()


class Fleet:
    """Builds the supervisor's workers and remembers every one, old and new."""

    def __init__(self) -> None:
        self.built: list[FakeWorker] = []
        self.cut: list[str] = []

    def make(self, index: int) -> FakeWorker:
        worker = FakeWorker(index, sum(w.index == index for w in self.built))
        self.built.append(worker)
        return worker

    def supervisor(self, count: int = 1, **kwargs: Any) -> WorkerSupervisor[FakeWorker]:
        options: dict[str, Any] = {"max_calls": 2, "interval": 60.0, "misses": 2, "probe_timeout": 0.2,
                                   "on_cut": self.cut.append, **kwargs}
        return WorkerSupervisor(self.make, count, **options)


def hold(supervisor: WorkerSupervisor[FakeWorker], worker: FakeWorker, call: FakeCall) -> threading.Thread:
    """A call flow on ``worker`` that lasts until its leg is hung up."""
    thread = threading.Thread(target=supervisor.serve, args=(worker, call, lambda: call.ended.wait(TIMEOUT)),
                              daemon=True)
    thread.start()
    return thread


def wait_until(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not {what} within {timeout} s"
        time.sleep(0.01)


@pytest.fixture
def fleet() -> Fleet:
    return Fleet()


def test_workers_are_started_looked_at_once_and_reported_up(fleet: Fleet) -> None:
    supervisor = fleet.supervisor(count=2)
    supervisor.start()
    try:
        assert [w.started.is_set() for w in fleet.built] == [True, True]
        (one, two) = supervisor.view()
        assert (one["name"], one["up"], one["probe_ok"], one["failure"], one["restarts"]) == \
            ("hotline-1", True, True, None, 0)
        assert (one["calls"], one["free_slots"], one["sip"]) == (0, 2, "127.0.0.1:5070")
        assert one["last_probe_at"] is not None and two["name"] == "hotline-2"
        assert supervisor.dialer() is fleet.built[0]
    finally:
        supervisor.stop()
    assert all(w.stopped.is_set() for w in fleet.built)


def test_a_deaf_worker_is_down_after_two_misses_and_restarted_with_its_calls_ended(fleet: Fleet) -> None:
    supervisor = fleet.supervisor()
    supervisor.start()
    try:
        (old,) = fleet.built
        calls = [FakeCall("a@x"), FakeCall("b@x")]
        flows = [hold(supervisor, old, call) for call in calls]
        wait_until(lambda: supervisor.view()[0]["calls"] == 2, "both calls held")
        assert supervisor.view()[0]["free_slots"] == 0

        old.answers = False
        supervisor.check()
        view = supervisor.view()[0]
        assert (view["up"], view["probe_ok"], view["misses"]) == (True, False, 1), "one miss is not a death"
        assert not any(c.ended.is_set() for c in calls)

        with capture_logs() as logs:
            supervisor.check()
            wait_until(lambda: supervisor.view()[0]["restarts"] == 1, "restarted")
        down = [e for e in logs if e["event"] == "worker.down"]
        assert down and down[0]["worker"] == "hotline-1" and "none of the last 2 OPTIONS" in down[0]["reason"]
        assert all(c.ended.is_set() for c in calls), "the dead worker's calls were not ended"
        assert sorted(fleet.cut) == ["a@x", "b@x"], "the call flows were not told the system cut them"
        assert old.stopped.is_set()
        (old_again, new) = fleet.built
        assert old_again is old and (new.index, new.generation) == (0, 1) and new.started.is_set()
        view = supervisor.view()[0]
        assert (view["up"], view["failure"], view["calls"], view["free_slots"]) == (True, None, 0, 2)
        assert view["last_restart"]["reason"] == down[0]["reason"] and view["last_restart"]["calls_ended"] == 2
        for flow in flows:
            flow.join(TIMEOUT)
        assert supervisor.view()[0]["calls"] == 0
    finally:
        supervisor.stop()


def test_a_worker_reporting_a_dead_thread_is_down_at_the_next_round(fleet: Fleet) -> None:
    gate = threading.Event()

    def slow_make(index: int) -> FakeWorker:
        if fleet.built:
            gate.wait(TIMEOUT)  # the restart waits here: the worker is seen down meanwhile
        return fleet.make(index)

    supervisor = WorkerSupervisor(slow_make, 1, max_calls=2, interval=60.0, misses=3, probe_timeout=0.2)
    supervisor.start()
    try:
        (old,) = fleet.built
        old.failure = "Its SIP receive thread has died."
        supervisor.check()
        view = supervisor.view()[0]
        assert (view["up"], view["failure"], view["free_slots"]) == (False, "Its SIP receive thread has died.", 0)
        assert supervisor.dialer() is None
        call = FakeCall("late@x")  # an INVITE reaching the worker being replaced is refused
        ran: list[bool] = []
        supervisor.serve(old, call, lambda: ran.append(True))
        assert call.ended.is_set() and not ran
        gate.set()
        wait_until(lambda: supervisor.view()[0]["up"], "up again")
        assert supervisor.view()[0]["restarts"] == 1
    finally:
        gate.set()
        supervisor.stop()


def test_a_worker_answering_again_after_one_miss_stays_up(fleet: Fleet) -> None:
    supervisor = fleet.supervisor()
    supervisor.start()
    try:
        (worker,) = fleet.built
        worker.answers = False
        supervisor.check()
        worker.answers = True
        supervisor.check()
        worker.answers = False
        supervisor.check()  # one miss again, not the second in a row
        view = supervisor.view()[0]
        assert (view["up"], view["misses"], view["restarts"]) == (True, 1, 0)
        assert len(fleet.built) == 1
    finally:
        supervisor.stop()


def test_slots_are_counted_and_a_full_worker_refuses_the_next_call(fleet: Fleet) -> None:
    supervisor = fleet.supervisor()
    supervisor.start()
    try:
        (worker,) = fleet.built
        calls = [FakeCall("1@x"), FakeCall("2@x")]
        flows = [hold(supervisor, worker, call) for call in calls]
        wait_until(lambda: supervisor.view()[0]["calls"] == 2, "two calls held")
        third, ran = FakeCall("3@x"), []
        with capture_logs() as logs:
            supervisor.serve(worker, third, lambda: ran.append(True))
        assert third.ended.is_set() and not ran, "a call beyond the worker's slots was taken"
        assert [e["event"] for e in logs] == ["worker.full"]
        workers = supervisor.view()
        assert verdict(edge_up=True, database_up=True, workers=workers) == {
            "up": False, "reasons": ["Every call slot of the live workers is taken (2 calls in progress)."]}
        calls[0].hangup()
        flows[0].join(TIMEOUT)
        assert supervisor.view()[0]["free_slots"] == 1
        assert verdict(edge_up=True, database_up=True, workers=supervisor.view())["up"] is True
        calls[1].hangup()
        flows[1].join(TIMEOUT)
    finally:
        supervisor.stop()


def test_a_lost_registration_leaves_no_free_slot_but_a_re_register_does_not(fleet: Fleet) -> None:
    supervisor = fleet.supervisor()
    supervisor.start()
    try:
        (worker,) = fleet.built
        worker.registered = False
        supervisor.check()  # caught in the middle of a re-REGISTER: still counted
        assert supervisor.view()[0]["free_slots"] == 2
        supervisor.check()
        view = supervisor.view()[0]
        assert (view["up"], view["registered"], view["free_slots"], view["restarts"]) == (True, False, 0, 0)
        assert verdict(edge_up=True, database_up=True, workers=[view])["reasons"] == [
            "No live SIP worker is registered with the SIP edge."]
    finally:
        supervisor.stop()


def test_the_monitor_thread_marks_a_deaf_worker_down_within_its_rounds(fleet: Fleet) -> None:
    supervisor = fleet.supervisor(interval=0.05)
    supervisor.start()
    try:
        (worker,) = fleet.built
        deaf_at = time.monotonic()
        worker.answers = False
        wait_until(lambda: not supervisor.view()[0]["up"] or supervisor.view()[0]["restarts"], "down", 2.0)
        assert time.monotonic() - deaf_at < 1.0
        wait_until(lambda: supervisor.view()[0]["restarts"] == 1 and supervisor.view()[0]["up"], "restarted")
        assert worker.stopped.is_set() and fleet.built[-1] is not worker
    finally:
        supervisor.stop()
    assert all(w.stopped.is_set() for w in fleet.built)


def test_the_edge_is_asked_each_round_and_a_failing_check_is_down_with_a_sentence(fleet: Fleet) -> None:
    answers = [{"up": True, "address": "127.0.0.1:5060"}]

    def edge() -> dict[str, Any]:
        if not answers:
            raise ConnectionError("boom")
        return answers[0]

    supervisor = fleet.supervisor(edge=edge)
    supervisor.start()
    try:
        view = supervisor.edge_view()
        assert view["up"] is True and view["address"] == "127.0.0.1:5060" and view["checked_at"]
        answers.clear()
        supervisor.check()
        assert supervisor.edge_view()["up"] is False and "boom" in supervisor.edge_view()["error"]
    finally:
        supervisor.stop()


def test_the_verdict_names_every_reason() -> None:
    down = {"up": False, "registered": True, "free_slots": 0, "calls": 0}
    assert verdict(edge_up=False, database_up=False, workers=[down]) == {"up": False, "reasons": [
        "No SIP worker is up.", "The SIP edge (Kamailio) does not answer.", "The database does not answer."]}
    assert verdict(edge_up=True, database_up=True, workers=[]) == {"up": False, "reasons": ["No SIP worker is up."]}


def test_a_hung_check_is_answered_within_the_bound_and_not_started_twice() -> None:
    release = threading.Event()
    runs: list[int] = []

    def hangs() -> dict[str, Any]:
        runs.append(1)
        release.wait(TIMEOUT)
        return {"up": True}

    check = BoundedCheck(hangs, "database")
    began = time.monotonic()
    result = results_within({"database": check.start()}, 0.2)
    assert time.monotonic() - began < 0.5
    assert result == {"database": {"up": False, "error": "The database check did not answer within 0.2 s."}}
    first = check.start()
    assert check.start() is first and len(runs) == 1, "a hung check was started again"
    release.set()
    assert first.result(TIMEOUT) == {"up": True}
    second = check.start()  # the hung run is over: the next request runs it again
    assert second is not first
    assert results_within({"database": second}, TIMEOUT) == {"database": {"up": True}}
    assert len(runs) == 2
