"""Staffing check: per 15- or 30-minute interval, the agents Erlang C asks for against the agents rostered.
Pure; the volume comes from a supervisor's forecast or from history through the :class:`CallHistory` port.

Rostered counts the agents on shift and not absent throughout the interval (its minimum); breaks are left
to the shrinkage, which turns the agents needed on the phones into the agents to roster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from shifts.erlang import Staffing, StaffingError, agents_needed
from shifts.rota import Rota, merge, require_aware, subtract, zone

INTERVALS = (timedelta(minutes=15), timedelta(minutes=30))


class CallHistory(Protocol):
    """Past call volume (the queue log, in routing's keeping): calls that arrived in ``[start, end)``
    per interval of ``step``, keyed by the interval's start; an interval without calls may be left out."""

    def arrivals(self, start: datetime, end: datetime, step: timedelta) -> Mapping[datetime, int]: ...


@dataclass(frozen=True)
class Demand:
    """Calls expected in the interval starting at ``start``."""

    start: datetime
    calls: float


@dataclass(frozen=True)
class Targets:
    """Average handling time, the service level (``service_level`` of calls answered within ``answer_s``),
    and the shrinkage (share of rostered time not on the phones: breaks, training, absence)."""

    aht_s: float = 180.0
    service_level: float = 0.8
    answer_s: float = 20.0
    shrinkage: float = 0.3


@dataclass(frozen=True)
class IntervalStaffing:
    start: datetime
    end: datetime
    calls: float
    needed: Staffing
    rostered: int

    @property
    def short(self) -> int:
        """Agents missing from the roster (0 when staffed)."""
        return max(0, self.needed.rostered - self.rostered)

    @property
    def understaffed(self) -> bool:
        return self.short > 0


def check_interval(step: timedelta) -> timedelta:
    if step not in INTERVALS:
        raise StaffingError(f"The interval must be 15 or 30 minutes, got {step}.")
    return step


def forecast_from_history(history: CallHistory, start: datetime, end: datetime, step: timedelta,
                          weeks: int = 4, timezone: str = "UTC") -> list[Demand]:
    """Expected calls per interval of ``[start, end)``: the mean of the same interval (same weekday and
    wall-clock time in ``timezone``, the site's: callers keep their local hours across a DST change)
    over the ``weeks`` weeks before ``start``."""
    require_aware(start, "The start of the period")
    check_interval(step)
    if weeks < 1:
        raise StaffingError(f"At least one week of history is needed, got {weeks}.")
    tz = zone(timezone)

    def weeks_before(instant: datetime, k: int) -> datetime:
        # fold=0: a wall-clock time the clocks skip moves past the gap, a repeated one is the first.
        wall = instant.astimezone(tz).replace(tzinfo=None) - timedelta(weeks=k)
        return wall.replace(tzinfo=tz).astimezone(UTC)

    starts = []
    t = start
    while t < end:
        starts.append(t)
        t += step
    if not starts:
        return []
    totals = [0.0] * len(starts)
    for k in range(1, weeks + 1):
        keys = [weeks_before(t, k) for t in starts]
        counts = history.arrivals(min(keys), max(keys) + step, step)
        for i, key in enumerate(keys):
            totals[i] += counts.get(key, 0)
    return [Demand(t, total / weeks) for t, total in zip(starts, totals, strict=True)]


def rostered(rota: Rota, start: datetime, end: datetime) -> int:
    """Agents on shift and not absent during the whole of ``[start, end)``."""
    count = 0
    worked: dict[str, list[tuple[datetime, datetime]]] = {}
    away: dict[str, list[tuple[datetime, datetime]]] = {}
    for shift in rota.shifts:
        if shift.start < end and shift.end > start:
            worked.setdefault(shift.extension, []).append((shift.start, shift.end))
    for absence in rota.absences:
        if absence.start < end and absence.end > start:
            away.setdefault(absence.extension, []).append((absence.start, absence.end))
    for extension, spans in worked.items():
        free = subtract(merge(spans), merge(away.get(extension, ())))
        if any(a <= start and end <= b for a, b in free):
            count += 1
    return count


def staffing_check(rota: Rota, demand: Sequence[Demand], step: timedelta,
                   targets: Targets | None = None) -> list[IntervalStaffing]:
    """For each interval of ``demand``: the agents needed (Erlang C) and the agents ``rota`` rosters."""
    check_interval(step)
    targets = targets or Targets()
    result = []
    for item in demand:
        require_aware(item.start, "The interval start")
        needed = agents_needed(item.calls, targets.aht_s, step.total_seconds(), target_sl=targets.service_level,
                               target_s=targets.answer_s, shrinkage=targets.shrinkage)
        result.append(IntervalStaffing(item.start, item.start + step, item.calls, needed,
                                       rostered(rota, item.start, item.start + step)))
    return result
