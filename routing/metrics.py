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
from datetime import datetime

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
