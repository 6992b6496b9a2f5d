"""Call statistics for the wallboard and reports (pure): what happened to the calls of a period.

*Service level* is the share of calls that reached the queue and were answered within the threshold
(20 s by default, the 80/20 convention) among those answered or abandoned in the queue; calls ended by
the system or failed count in neither. Waits run from queueing to answer (or to the caller hanging up).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cases.model import CallOutcome

DEFAULT_THRESHOLD = timedelta(seconds=20)


@dataclass(frozen=True)
class CallRecord:
    started_at: datetime
    queued_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    outcome: CallOutcome | None


@dataclass(frozen=True)
class CallStats:
    offered: int
    """Calls that started in the period."""
    in_progress: int
    answered: int
    abandoned: int
    unanswered: int
    """Ended by the system with nobody to take them (``no_agent``) or failed."""
    answered_within: int
    service_level: float | None
    """0..1, ``None`` with no answered or abandoned call yet."""
    average_wait_s: float | None
    longest_wait_s: float | None


def call_stats(calls: Iterable[CallRecord], threshold: timedelta = DEFAULT_THRESHOLD) -> CallStats:
    offered = in_progress = answered = abandoned = unanswered = within = 0
    waits: list[float] = []
    for call in calls:
        offered += 1
        if call.ended_at is None and call.outcome is None:
            in_progress += 1
        if call.answered_at is not None:
            answered += 1
            if call.queued_at is not None:
                wait = max(0.0, (call.answered_at - call.queued_at).total_seconds())
                waits.append(wait)
                within += wait <= threshold.total_seconds()
            else:
                within += 1
        elif call.outcome is CallOutcome.ABANDONED:
            abandoned += 1
            if call.queued_at is not None and call.ended_at is not None:
                waits.append(max(0.0, (call.ended_at - call.queued_at).total_seconds()))
        elif call.outcome in (CallOutcome.NO_AGENT, CallOutcome.FAILED, CallOutcome.INTERRUPTED):
            unanswered += 1
    settled = answered + abandoned
    return CallStats(
        offered=offered, in_progress=in_progress, answered=answered, abandoned=abandoned, unanswered=unanswered,
        answered_within=within, service_level=within / settled if settled else None,
        average_wait_s=sum(waits) / len(waits) if waits else None, longest_wait_s=max(waits) if waits else None,
    )
