"""Contact-centre metrics computed from the queue event log and the agents' transitions, over a window
(a shift, a day, the last hour). Pure: the same log always gives the same figures.

- **Service level**, two variants: answered within T seconds over answered; and over answered plus
  abandoned, not counting short abandons (callers who hung up within the queue's ``short_abandon``
  seconds, typically wrong numbers), so long abandons count against the service level.
- **ASA**: mean wait of answered calls (since first arrival, overflow and callbacks included).
- **Abandonment rate**: abandoned over answered plus abandoned.
- **AHT**: mean talk plus wrap-up per completed call.
- **Occupancy** per agent: time on calls or in wrap-up over time on shift, logged in and not paused
  (a call that runs past the end of a shift counts as worked).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from routing.agents import Action, AgentState, Transition
from routing.events import EventKind, QueueEvent
from routing.queues import QueueSettings


@dataclass(frozen=True)
class QueueMetrics:
    queue: str
    offered: int
    answered: int
    abandoned: int
    short_abandoned: int
    answered_within_sl: int
    service_level: float | None  # answered within T / answered
    service_level_with_abandons: float | None  # answered within T / (answered + abandoned - short abandons)
    asa: float | None
    abandonment_rate: float | None
    aht: float | None
    overflowed: int
    callbacks: int


@dataclass(frozen=True)
class AgentMetrics:
    extension: str
    calls: int
    talk: float
    wrap_up: float
    working: float  # seconds on shift, logged in and not paused, plus calls past the shift's end
    occupancy: float | None


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def queue_metrics(events: Iterable[QueueEvent], start: datetime, end: datetime,
                  queues: Mapping[str, QueueSettings]) -> dict[str, QueueMetrics]:
    """Per queue, for events in [start, end)."""
    inside = sorted((e for e in events if start <= e.at < end), key=lambda e: e.seq)
    wraps = {e.call_id: float(e.detail.get("wrap", 0.0)) for e in inside if e.kind is EventKind.WRAP_UP_END}
    by_queue: dict[str, list[QueueEvent]] = defaultdict(list)
    for e in inside:
        by_queue[e.queue].append(e)
    out: dict[str, QueueMetrics] = {}
    for name in sorted(set(queues) | set(by_queue)):
        evs = by_queue.get(name, [])
        q = queues.get(name)
        sl = q.service_level if q else 20.0
        short = q.short_abandon if q else 5.0
        answered = [float(e.detail.get("wait", 0.0)) for e in evs if e.kind is EventKind.ANSWER]
        abandoned = [float(e.detail.get("wait", 0.0)) for e in evs if e.kind is EventKind.ABANDON]
        shorts = sum(1 for w in abandoned if w <= short)
        within = sum(1 for w in answered if w <= sl)
        handled = [float(e.detail.get("talk", 0.0)) + wraps.get(e.call_id, 0.0)
                   for e in evs if e.kind is EventKind.COMPLETE]
        offered = sum(1 for e in evs if e.kind in (EventKind.ENTER, EventKind.REFUSED)) + sum(
            1 for e in inside if e.kind in (EventKind.OVERFLOW, EventKind.TRANSFER) and e.detail.get("to") == name)
        out[name] = QueueMetrics(
            queue=name, offered=offered, answered=len(answered), abandoned=len(abandoned), short_abandoned=shorts,
            answered_within_sl=within, service_level=_ratio(within, len(answered)),
            service_level_with_abandons=_ratio(within, len(answered) + len(abandoned) - shorts),
            asa=_mean(answered), abandonment_rate=_ratio(len(abandoned), len(answered) + len(abandoned)),
            aht=_mean(handled), overflowed=sum(1 for e in evs if e.kind is EventKind.OVERFLOW),
            callbacks=sum(1 for e in evs if e.kind is EventKind.CALLBACK_REQUESTED),
        )
    return out


_WORKING = frozenset({AgentState.AVAILABLE, AgentState.RINGING, AgentState.ON_CALL, AgentState.WRAP_UP})
_BUSY = frozenset({AgentState.ON_CALL, AgentState.WRAP_UP})


def agent_metrics(events: Iterable[QueueEvent], transitions: Iterable[Transition], start: datetime,
                  end: datetime) -> dict[str, AgentMetrics]:
    """Per agent, for [start, end): calls answered, talk and wrap-up seconds, occupancy. Transitions
    before ``start`` tell the state each agent was in when the window opened."""
    working: dict[str, float] = defaultdict(float)
    busy: dict[str, float] = defaultdict(float)
    current: dict[str, tuple[AgentState, bool, datetime]] = {}  # state, on shift, since

    def close(ext: str, until: datetime) -> None:
        state, on_shift, since = current[ext]
        lo, hi = max(since, start), min(until, end)
        if hi <= lo:
            return
        if state in _BUSY:
            busy[ext] += (hi - lo).total_seconds()
        if state in _BUSY or (on_shift and state in _WORKING):
            working[ext] += (hi - lo).total_seconds()

    for t in sorted(transitions, key=lambda t: t.at):
        if t.at >= end:
            break
        on_shift = current[t.extension][1] if t.extension in current else False
        if t.extension in current:
            close(t.extension, t.at)
        if t.action is Action.SHIFT_START:
            on_shift = True
        elif t.action is Action.SHIFT_END:
            on_shift = False
        current[t.extension] = (t.after, on_shift, t.at)
    for ext in current:
        close(ext, end)
    calls: dict[str, int] = defaultdict(int)
    talk: dict[str, float] = defaultdict(float)
    wrap: dict[str, float] = defaultdict(float)
    for e in events:
        if e.agent is None or not start <= e.at < end:
            continue
        if e.kind is EventKind.ANSWER:
            calls[e.agent] += 1
        elif e.kind is EventKind.COMPLETE:
            talk[e.agent] += float(e.detail.get("talk", 0.0))
        elif e.kind is EventKind.WRAP_UP_END:
            wrap[e.agent] += float(e.detail.get("wrap", 0.0))
    out: dict[str, AgentMetrics] = {}
    for ext in sorted(set(current) | set(calls)):
        out[ext] = AgentMetrics(ext, calls[ext], talk[ext], wrap[ext], working[ext], _ratio(busy[ext], working[ext]))
    return out


# --- intervals (the supervisor's reports) ---------------------------------------------------------------

INTERVAL_GRID = timedelta(minutes=15)
"""Interval boundaries are looked for on this UTC grid: every time zone in use today is offset from UTC by a
whole number of quarter hours (+05:45, -09:30...), so each local hour or half hour starts on it."""


@dataclass(frozen=True)
class IntervalRow:
    """What happened to the calls that *arrived* in [start, end) (see :func:`interval_metrics`)."""

    start: datetime  # aware, in the report's zone
    end: datetime
    offered: int
    answered: int
    abandoned: int
    short_abandoned: int
    answered_within_sl: int
    service_level: float | None  # answered within T / answered
    service_level_with_abandons: float | None  # answered within T / (answered + abandoned - short abandons)
    abandonment_rate: float | None  # abandoned / (answered + abandoned)
    asa: float | None  # mean wait of the answered calls, seconds
    aht: float | None  # mean talk + wrap-up of the completed calls, seconds
    longest_wait: float | None  # the longest wait until answer or abandon, seconds


def interval_starts(start: datetime, end: datetime, step: timedelta, tz: tzinfo) -> list[datetime]:
    """The instants that open each interval of [start, end): ``start`` itself, then every instant whose
    wall-clock time in ``tz`` is a multiple of ``step`` after midnight. Buckets follow the local clock, so
    a day when the clocks go forward has 23 hourly intervals and one when they go back 25 (the repeated
    hour is two intervals, one per UTC offset). ``step`` is a whole number of quarter hours dividing a day."""
    if step <= timedelta(0) or step % INTERVAL_GRID or timedelta(days=1) % step:
        raise ValueError(f"An interval of {step} does not divide a day into whole quarter hours.")
    if end <= start:
        raise ValueError(f"The window {start.isoformat()} to {end.isoformat()} is empty.")
    start, end = start.astimezone(UTC), end.astimezone(UTC)  # arithmetic on instants, not wall-clock times
    minutes = int(step.total_seconds()) // 60
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    t = start - (start - epoch) % INTERVAL_GRID
    starts = [start]
    while True:
        t += INTERVAL_GRID
        if t >= end:
            return starts
        local = t.astimezone(tz)
        if (local.hour * 60 + local.minute) % minutes == 0 and local.second == 0:
            starts.append(t)


@dataclass
class _Call:
    arrived: datetime
    queues: set[str]
    seen_arriving: bool = False  # its enter or refused came at its first event's instant
    outcome: QueueEvent | None = None  # the answer or the abandon
    talk: float | None = None
    wrap: float = 0.0


def _calls(events: Iterable[QueueEvent]) -> list[_Call]:
    """The calls whose arrival is among ``events``. A call arrives with ``enter`` or ``refused``, after
    the ``overflow`` events of closed or empty queues at the same instant; a call whose first event read
    is anything else arrived before the events read."""
    calls: dict[str, _Call] = {}
    for e in sorted(events, key=lambda e: e.seq):
        call = calls.get(e.call_id)
        if call is None:
            call = calls[e.call_id] = _Call(e.at, set())
        call.queues.add(e.queue)
        if e.kind in (EventKind.ENTER, EventKind.REFUSED) and e.at == call.arrived:
            call.seen_arriving = True
        elif e.kind in (EventKind.OVERFLOW, EventKind.TRANSFER) and e.detail.get("to"):
            call.queues.add(str(e.detail["to"]))
        elif e.kind in (EventKind.ANSWER, EventKind.ABANDON) and call.outcome is None:
            call.outcome = e
        elif e.kind is EventKind.COMPLETE:
            call.talk = float(e.detail.get("talk", 0.0))
        elif e.kind is EventKind.WRAP_UP_END:
            call.wrap = float(e.detail.get("wrap", 0.0))
    return [c for c in calls.values() if c.seen_arriving]


def _interval_row(calls: list[_Call], start: datetime, end: datetime, tz: tzinfo,
                  queues: Mapping[str, QueueSettings], queue: str | None) -> IntervalRow:
    offered = within = shorts = 0
    answered: list[float] = []
    abandoned: list[float] = []
    handled: list[float] = []
    for call in calls:
        if not start <= call.arrived < end or (queue is not None and queue not in call.queues):
            continue
        offered += 1
        out = call.outcome
        if out is None or (queue is not None and out.queue != queue):
            continue
        wait = float(out.detail.get("wait", 0.0))
        settings = queues.get(out.queue)
        if out.kind is EventKind.ANSWER:
            answered.append(wait)
            within += wait <= (settings.service_level if settings else 20.0)
            if call.talk is not None:
                handled.append(call.talk + call.wrap)
        else:
            abandoned.append(wait)
            shorts += wait <= (settings.short_abandon if settings else 5.0)
    settled = len(answered) + len(abandoned)
    return IntervalRow(
        start=start.astimezone(tz), end=end.astimezone(tz), offered=offered, answered=len(answered),
        abandoned=len(abandoned), short_abandoned=shorts, answered_within_sl=within,
        service_level=_ratio(within, len(answered)), service_level_with_abandons=_ratio(within, settled - shorts),
        abandonment_rate=_ratio(len(abandoned), settled), asa=_mean(answered), aht=_mean(handled),
        longest_wait=max(answered + abandoned, default=None))


def interval_metrics(events: Iterable[QueueEvent], start: datetime, end: datetime, step: timedelta, tz: tzinfo,
                     queues: Mapping[str, QueueSettings], queue: str | None = None
                     ) -> tuple[list[IntervalRow], IntervalRow]:
    """Rows per interval of [start, end) (see :func:`interval_starts`; empty intervals are rows of zeros)
    and the total over the window.

    **A call counts in the interval it arrived in** (its first ``enter`` or ``refused``), whatever the
    interval its answer, abandon or hang-up falls in: a call arriving at 09:59 and abandoning at 10:01 is
    offered and abandoned in the 09:00 row, so each row's answered + abandoned never exceeds its offered.
    ``events`` must therefore reach past ``end`` by as long as a call may wait and talk, and start at
    ``start``: calls that arrived before it are left out (their later events alone do not make a call).
    With ``queue``, the calls that reached that queue (dialled or chosen in the menu, moved there by an
    overflow or a transfer, or sent on by it while it was closed) are offered there, and answered or
    abandoned there only if that happened in that queue; without, each call counts once.
    A call's service-level threshold and short-abandon time are those of the queue it was answered or
    abandoned in; its wait runs from its first arrival."""
    calls = [c for c in _calls(events) if start <= c.arrived < end]
    starts = interval_starts(start, end, step, tz)
    rows = [_interval_row(calls, s, e, tz, queues, queue) for s, e in zip(starts, [*starts[1:], end], strict=True)]
    return rows, _interval_row(calls, start, end, tz, queues, queue)
