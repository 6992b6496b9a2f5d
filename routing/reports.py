"""Reads for screens: queues with their live figures and metrics, agents with their states. Plain query
functions over the ACD (under the distributor's lock) and the stored log."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime, timedelta, tzinfo
from typing import Any, Protocol

from routing.acd import Acd
from routing.agents import Transition
from routing.events import QueueEvent
from routing.metrics import IntervalRow, agent_metrics, interval_metrics, queue_metrics
from routing.queues import QueueSettings

SETTLE = timedelta(hours=12)
"""How long after a report's window its calls' outcomes are read: a call arriving just before the end
is counted with its answer or abandon, its talk and wrap-up, if they came within this time."""


class LogReader(Protocol):
    def events(self, start: datetime, end: datetime) -> list[QueueEvent]: ...

    def transitions(self, start: datetime, end: datetime) -> list[Transition]: ...


def queue_views(acd: Acd, now: datetime) -> list[dict[str, Any]]:
    """Each queue's settings and live figures (calls waiting, longest wait, staffed, available)."""
    live = acd.queue_stats(now)
    return [{
        "name": q.name, "numbers": list(q.numbers), "priority": q.priority, "strategy": q.strategy.value,
        "tiers": [{"level": t.level, "skill": t.skill, "extensions": list(t.extensions)} for t in q.tiers],
        "max_wait": q.max_wait, "at_max_wait": q.at_max_wait.value, "overflow_to": q.overflow_to,
        "service_level_s": q.service_level, "live": live[q.name], "settings": q.document(),
        "calls": [{"call_id": c.call_id, "position": i, "caller": c.caller, "priority": c.priority,
                   "waited": (now - c.arrived).total_seconds(), "ringing": sorted(c.ringing),
                   "callback": c.callback is not None, "category": c.category}
                  for i, c in enumerate(acd.waiting(q.name), start=1)],
    } for q in acd.config.queues.values()]


def agent_views(acd: Acd) -> list[dict[str, Any]]:
    return [{
        "extension": a.extension, "level": a.profile.level, "skills": sorted(a.profile.skills),
        "state": a.state.value, "since": a.since, "reason": a.reason, "on_shift": a.extension in acd.on_shift,
        "call_id": a.call_id, "calls_taken": a.calls_taken, "missed_in_a_row": a.misses,
    } for a in acd.agents()]


def queue_report(queues: Mapping[str, QueueSettings], log: LogReader, start: datetime,
                 end: datetime) -> dict[str, dict[str, Any]]:
    """Metrics per queue over [start, end) from the stored log."""
    metrics = queue_metrics(log.events(start, end), start, end, queues)
    return {name: asdict(m) for name, m in metrics.items()}


def agent_report(log: LogReader, start: datetime, end: datetime) -> dict[str, dict[str, Any]]:
    metrics = agent_metrics(log.events(start, end), log.transitions(start, end), start, end)
    return {ext: asdict(m) for ext, m in metrics.items()}


def interval_report(queues: Mapping[str, QueueSettings], log: LogReader, start: datetime, end: datetime,
                    step: timedelta, tz: tzinfo, queue: str | None = None) -> tuple[list[IntervalRow], IntervalRow]:
    """Rows per interval of [start, end) in ``tz``'s clock, and the total, from the stored log
    (``routing.metrics.interval_metrics``: each call in the interval it arrived in)."""
    return interval_metrics(log.events(start, end + SETTLE), start, end, step, tz, queues, queue)
