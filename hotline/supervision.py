"""The service's view of its SIP workers, and the checks ``/health`` makes without waiting on anything.

**Workers.** ``WorkerSupervisor`` starts the workers and owns a monitor thread that looks at each of them
every ``interval`` seconds the way a caller reaches it: one OPTIONS through the worker's real SIP socket
(``probe``), the worker's own word on its SIP and media threads (``failure``) and its registration (reported,
never a reason to restart it). The same round asks the SIP edge (Kamailio) how it is. What each round saw
is kept, so the health report reads it without any I/O of its own.

A worker that reports a failure, or answers none of ``misses`` probes in a row, is marked down at once
(logged as ``worker.down`` with the reason) and restarted in a thread of its own: its calls are ended
(``on_cut`` first, so the call flows record them as cut by the system, then their legs hung up), the old
worker is stopped and a new one started on the same SIP port and RTP range (``make`` builds both), then
registered. One missed probe is not enough: a single lost datagram must not cut twenty calls.

Why every 2 s and two misses by default: a deaf worker is then marked down within 4.5 s (two probes 2 s
apart, each given 0.5 s), inside the 5 s the health check promises, while a probe costs the worker one
OPTIONS answered in about a millisecond on loopback (Kamailio's dispatcher pings as often). A worker that
reports its own failure is down at the next round, within 2 s.

**Slots.** Calls are admitted here (``serve``): a worker holds at most ``max_calls`` at once, counted from
the INVITE to the end of the call flow (an INVITE waiting for its ACK holds a slot too), and a worker being
replaced takes none. A refused call is hung up, so the edge tries another worker.

**Bounded checks.** ``BoundedCheck`` runs a check that may block (the database, a lock) in a thread and
waits for it at most a given time; a check still running is not started again.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

import structlog

log = structlog.get_logger(__name__)

T = TypeVar("T")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Probed(Protocol):
    """What a probe returns: true only when the worker answered (``telephony.probe.ProbeResult``, or a bool)."""

    def __bool__(self) -> bool: ...


class Worker(Protocol):
    """What supervision needs of a SIP worker (``telephony.pyvoip.SipWorker``)."""

    @property
    def name(self) -> str: ...

    @property
    def registered(self) -> bool: ...

    @property
    def failure(self) -> str | None:
        """A sentence when one of its SIP or media threads died (it is then to be replaced), else None."""
        ...

    def probe(self, timeout: float) -> Probed:
        """One OPTIONS through its SIP socket; true only when the matching answer came within ``timeout``."""
        ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def wait_registered(self, timeout: float) -> bool: ...

    def status(self) -> dict[str, Any]: ...


class Call(Protocol):
    """A call a worker holds, as far as supervision is concerned: a caller's leg."""

    @property
    def call_id(self) -> str: ...

    def hangup(self) -> None: ...


W = TypeVar("W", bound=Worker)


def in_thread(fn: Callable[[], T], name: str) -> Future[T]:
    """``fn()`` in a daemon thread of its own; its future. (Not an executor: a thread stuck in a hung check
    must not keep the interpreter from exiting.)"""
    future: Future[T] = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(fn())
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future


class BoundedCheck(Generic[T]):
    """A check that may block, run in a thread of its own. ``start`` returns the run under way if there is
    one (a database that hangs holds one thread, not one per request), else starts one."""

    def __init__(self, fn: Callable[[], T], name: str) -> None:
        self._fn = fn
        self._name = name
        self._lock = threading.Lock()
        self._running: Future[T] | None = None

    def start(self) -> Future[T]:
        with self._lock:
            if self._running is None or self._running.done():
                self._running = in_thread(self._fn, f"check-{self._name}")
            return self._running


def results_within(futures: Mapping[str, Future[dict[str, Any]]], timeout: float) -> dict[str, dict[str, Any]]:
    """Each future's result, all waited for within ``timeout`` seconds together. A check that has not
    answered by then, or failed, is reported down with a sentence."""
    deadline = time.monotonic() + timeout
    results: dict[str, dict[str, Any]] = {}
    for name, future in futures.items():
        try:
            results[name] = future.result(max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            results[name] = {"up": False, "error": f"The {name} check did not answer within {timeout:g} s."}
        except Exception as exc:
            results[name] = {"up": False, "error": f"{type(exc).__name__}: {exc}"}
    return results


def verdict(*, edge_up: bool, database_up: bool, workers: list[dict[str, Any]]) -> dict[str, Any]:
    """Whether calls can be taken, and if not why, in sentences: a worker is up and registered with a free
    slot, the edge answers and the database answers."""
    reasons: list[str] = []
    live = [w for w in workers if w["up"]]
    if not live:
        reasons.append("No SIP worker is up.")
    elif not any(w["registered"] for w in live):
        reasons.append("No live SIP worker is registered with the SIP edge.")
    elif not sum(w["free_slots"] for w in live):
        calls = sum(w["calls"] for w in live)
        reasons.append(f"Every call slot of the live workers is taken ({calls} calls in progress).")
    if not edge_up:
        reasons.append("The SIP edge (Kamailio) does not answer.")
    if not database_up:
        reasons.append("The database does not answer.")
    return {"up": not reasons, "reasons": reasons}


@dataclass(frozen=True)
class Examined:
    """What one round saw of one worker."""

    at: datetime
    probe_ok: bool
    failure: str | None = None
    registered: bool = True


@dataclass
class _Slot(Generic[W]):
    """One worker position (name, SIP port, RTP range); its worker is replaced by each restart."""

    index: int
    worker: W
    reason: str | None = "not probed yet"  # why it is down; None while up
    down_since: datetime | None = None  # when it was marked down (for a restart)
    restarting: bool = False
    probe_ok: bool | None = None
    last_probe_at: datetime | None = None
    misses: int = 0
    unregistered: int = 0
    restarts: int = 0
    last_restart: dict[str, Any] | None = None
    examining: Future[Examined] | None = None
    calls: dict[str, Call] = field(default_factory=dict)


class WorkerSupervisor(Generic[W]):
    """Starts ``count`` workers built by ``make(index)``, admits their calls, watches them and restarts the
    dead ones (see the module's docstring). ``edge`` (optional) reports the SIP edge as a dict with ``up``;
    it is asked once a round. ``on_cut(call_id)`` is told of each call ended by a restart before its leg is
    hung up."""

    def __init__(self, make: Callable[[int], W], count: int, *, max_calls: int, interval: float = 2.0,
                 misses: int = 2, probe_timeout: float = 0.5, register_timeout: float = 5.0,
                 edge: Callable[[], dict[str, Any]] | None = None, on_cut: Callable[[str], None] | None = None,
                 clock: Callable[[], datetime] = _utc_now) -> None:
        if interval <= 0 or misses < 1 or probe_timeout <= 0 or max_calls < 1:
            raise ValueError("interval and probe_timeout must be positive, misses and max_calls at least 1.")
        self._make = make
        self._count = count
        self._max_calls = max_calls
        self._interval = interval
        self._misses = misses
        self._probe_timeout = probe_timeout
        self._register_timeout = register_timeout
        self._edge = edge
        self._on_cut = on_cut or (lambda _call_id: None)
        self._clock = clock
        self._lock = threading.Lock()
        self._slots: list[_Slot[W]] = []
        self._edge_view: dict[str, Any] = {"up": False, "error": "not checked yet"}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._restarters: list[threading.Thread] = []

    # --- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Start every worker, wait (bounded) until each is registered, look at them all once, then keep
        looking every ``interval`` seconds in the monitor thread."""
        for index in range(self._count):
            worker = self._make(index)
            with self._lock:
                self._slots.append(_Slot(index, worker))
            worker.start()
        for slot in self.slots():
            slot.worker.wait_registered(self._register_timeout)
        self.check()
        self._thread = threading.Thread(target=self._run, name="worker-monitor", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        next_at = time.monotonic() + self._interval
        while not self._stopping.wait(max(0.0, next_at - time.monotonic())):
            try:
                self.check()
            except Exception:  # the monitor must outlive any bug in one round
                log.exception("worker.monitor_failed")
            next_at = max(next_at + self._interval, time.monotonic())

    def stop(self) -> None:
        """Stop the monitor, let restarts under way finish, stop every worker (their calls end)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(self._probe_timeout + 5)
        for thread in list(self._restarters):
            thread.join(2 * self._register_timeout + 5)
        for slot in self.slots():
            try:
                slot.worker.stop()
            except Exception:
                log.exception("worker.stop_failed", worker=slot.worker.name)

    def slots(self) -> list[_Slot[W]]:
        with self._lock:
            return list(self._slots)

    @property
    def workers(self) -> list[W]:
        """The current worker of each position."""
        with self._lock:
            return [slot.worker for slot in self._slots]

    # --- calls -------------------------------------------------------------------------------------
    def serve(self, worker: W, call: Call, handle: Callable[[], None]) -> None:
        """Run ``handle()`` (the call flow of ``call``, which came in on ``worker``) holding one of the
        worker's slots. Refused, the leg hung up (the edge then tries another worker), when every slot is
        taken or when the worker is being replaced."""
        with self._lock:
            slot = next((s for s in self._slots if s.worker is worker), None)
            busy = len(slot.calls) if slot is not None else 0
            if slot is None or slot.restarting:
                refused = "worker.replaced"
            elif busy >= self._max_calls:
                refused = "worker.full"
            else:
                refused = ""
                slot.calls[call.call_id] = call
        if refused:
            log.warning(refused, worker=worker.name, call_id=call.call_id, calls=busy)
            call.hangup()
            return
        assert slot is not None
        try:
            handle()
        finally:
            with self._lock:
                if slot.calls.get(call.call_id) is call:
                    del slot.calls[call.call_id]

    def dialer(self) -> W | None:
        """A worker that is up and registered (to dial out, for a callback), or None."""
        with self._lock:
            for slot in self._slots:
                if slot.reason is None and not slot.restarting and slot.unregistered < self._misses:
                    return slot.worker
        return None

    # --- the monitor's round -----------------------------------------------------------------------
    def check(self) -> None:
        """One round: every worker not being restarted examined at once, and the edge asked; then act on
        what was seen."""
        with self._lock:
            todo = [(slot, slot.worker) for slot in self._slots if not slot.restarting]
            for slot, worker in todo:
                if slot.examining is None or slot.examining.done():
                    slot.examining = in_thread(functools.partial(self._examine, worker), f"probe-{worker.name}")
        edge = in_thread(self._edge, "probe-edge") if self._edge is not None else None
        deadline = time.monotonic() + self._probe_timeout + 1.0
        for slot, worker in todo:
            examining = slot.examining
            assert examining is not None
            try:
                seen = examining.result(max(0.0, deadline - time.monotonic()))
            except FutureTimeout:  # its probe has not returned (a bug there): a miss, and not asked again
                seen = Examined(self._clock(), probe_ok=False)
            except Exception as exc:
                seen = Examined(self._clock(), probe_ok=False, failure=f"examining it failed: {exc!r}")
            self._record(slot, worker, seen)
        if edge is not None:
            (view,) = results_within({"edge": edge}, max(0.0, deadline - time.monotonic())).values()
            with self._lock:
                self._edge_view = {**view, "checked_at": self._clock().isoformat()}

    def _examine(self, worker: W) -> Examined:
        # Registration is reported, never a reason to restart: a registrar that is down (the edge restarting)
        # is not cured by cutting the worker's calls.
        failure = worker.failure
        probe_ok = failure is None and bool(worker.probe(self._probe_timeout))
        return Examined(self._clock(), probe_ok=probe_ok, failure=failure, registered=worker.registered)

    def _record(self, slot: _Slot[W], worker: W, seen: Examined) -> None:
        with self._lock:
            if slot.worker is not worker or slot.restarting:
                return  # replaced while it was examined
            slot.last_probe_at, slot.probe_ok = seen.at, seen.probe_ok
            slot.unregistered = 0 if seen.registered else slot.unregistered + 1
            if seen.failure is None and seen.probe_ok:
                slot.misses = 0
                if slot.reason is not None:
                    log.info("worker.up", worker=worker.name, was=slot.reason)
                slot.reason = None
                return
            slot.misses += 1
            reason = seen.failure or (f"It answered none of the last {slot.misses} OPTIONS probes "
                                      f"(each given {self._probe_timeout:g} s).")
            if seen.failure is None and slot.misses < self._misses:
                return  # one lost datagram is not a dead worker
            slot.reason, slot.restarting, slot.down_since = reason, True, seen.at
            calls = list(slot.calls.values())
            slot.calls.clear()
            restarter = threading.Thread(target=self._restart, args=(slot, worker, calls, reason),
                                         name=f"restart-{worker.name}", daemon=True)
            self._restarters = [t for t in self._restarters if t.is_alive()] + [restarter]
        log.error("worker.down", worker=worker.name, reason=reason, calls=len(calls), hint="restarting it")
        restarter.start()

    def _restart(self, slot: _Slot[W], old: W, calls: list[Call], reason: str) -> None:
        started = time.monotonic()
        for call in calls:
            try:
                self._on_cut(call.call_id)
                call.hangup()
            except Exception:
                log.exception("worker.call_end_failed", worker=old.name, call_id=call.call_id)
        try:
            old.stop()
        except Exception:
            log.exception("worker.stop_failed", worker=old.name)
        if self._stopping.is_set():
            return
        try:
            new = self._make(slot.index)
            with self._lock:
                slot.worker = new
            new.start()
            registered = new.wait_registered(self._register_timeout)
            probe_ok = new.failure is None and bool(new.probe(self._probe_timeout))
        except Exception as exc:
            log.exception("worker.restart_failed", worker=old.name)
            with self._lock:
                slot.restarts += 1
                slot.restarting = False
                slot.reason = f"Restarting it failed: {type(exc).__name__}: {exc}"
            return
        took = round(time.monotonic() - started, 2)
        with self._lock:
            slot.restarts += 1
            slot.restarting = False
            slot.misses = 0
            slot.unregistered = 0 if registered else 1
            slot.probe_ok, slot.last_probe_at = probe_ok, self._clock()
            slot.reason = None if probe_ok else "It does not answer OPTIONS since its restart."
            down_at = slot.down_since.isoformat() if slot.down_since else None
            slot.last_restart = {"down_at": down_at, "at": slot.last_probe_at.isoformat(), "reason": reason,
                                 "took_s": took, "calls_ended": len(calls)}
            slot.down_since = None
            restarts = slot.restarts
        log.warning("worker.restarted", worker=new.name, restarts=restarts, registered=registered,
                    probe_ok=probe_ok, calls_ended=len(calls), took_s=took)

    # --- what health reads ---------------------------------------------------------------------------
    def view(self) -> list[dict[str, Any]]:
        """Each worker as the last round saw it, with its calls and free slots (no I/O)."""
        with self._lock:
            slots = list(self._slots)
            views = [self._view(slot) for slot in slots]
        for slot, view in zip(slots, views, strict=True):
            view["sip"] = slot.worker.status().get("sip")
        return views

    def _view(self, slot: _Slot[W]) -> dict[str, Any]:
        up = slot.reason is None and not slot.restarting
        registered = slot.unregistered < self._misses  # a re-REGISTER under way is not a lost registration
        calls = len(slot.calls)
        return {"name": slot.worker.name, "up": up, "registered": registered,
                "down_since": slot.down_since.isoformat() if slot.down_since else None,
                "last_probe_at": slot.last_probe_at.isoformat() if slot.last_probe_at else None,
                "probe_ok": slot.probe_ok, "misses": slot.misses, "restarts": slot.restarts,
                "failure": slot.reason, "last_restart": slot.last_restart, "calls": calls,
                "free_slots": max(0, self._max_calls - calls) if up and registered else 0}

    def edge_view(self) -> dict[str, Any]:
        """The edge as the last round saw it."""
        with self._lock:
            return dict(self._edge_view)
