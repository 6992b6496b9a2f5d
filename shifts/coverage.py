"""Coverage of a period: where nobody is available (gaps in 24/7 coverage) and where fewer agents than a
minimum are, per level and per skill (queue). Pure: a sweep over the agents' availability.

Available means on shift and neither absent nor on a break (:meth:`shifts.rota.Rota.available_intervals`).
An agent counts towards every level up to their own (a level-2 agent can take level-1 calls) and towards
each of their skills.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from shifts.rota import Rota, RotaError, format_duration, require_aware


@dataclass(frozen=True)
class Staffing:
    """Minimum agents available at every instant: ``total`` overall, ``levels[L]`` of level L or more,
    ``skills[s]`` with skill ``s``."""

    total: int = 1
    levels: Mapping[int, int] = field(default_factory=dict)
    skills: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for what, value in (("total", self.total), *((f"level {k}", v) for k, v in self.levels.items()),
                            *((f"skill {k}", v) for k, v in self.skills.items())):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise RotaError(f"The minimum staffing for {what} must be a whole number >= 0, got {value!r}.")
        for level in self.levels:
            if isinstance(level, bool) or not isinstance(level, int) or level < 1:
                raise RotaError(f"Minimum staffing names level {level!r}; a level is a whole number >= 1.")


@dataclass(frozen=True)
class Gap:
    """Nobody available during ``[start, end)``."""

    start: datetime
    end: datetime

    @property
    def message(self) -> str:
        return (f"Nobody is available from {self.start.isoformat()} to {self.end.isoformat()} "
                f"({format_duration(self.end - self.start)}).")


@dataclass(frozen=True)
class Shortfall:
    """During ``[start, end)`` fewer than ``needed`` agents count for ``what`` (``total``, ``level 2``,
    ``skill network``); ``lowest`` is the fewest available at any instant of it."""

    what: str
    start: datetime
    end: datetime
    needed: int
    lowest: int

    @property
    def message(self) -> str:
        return (f"{self.what}: {self.lowest} available where {self.needed} are needed, from "
                f"{self.start.isoformat()} to {self.end.isoformat()} ({format_duration(self.end - self.start)}).")


@dataclass(frozen=True)
class Coverage:
    start: datetime
    end: datetime
    gaps: tuple[Gap, ...]
    shortfalls: tuple[Shortfall, ...]

    @property
    def covered(self) -> bool:
        return not self.gaps and not self.shortfalls


def coverage(rota: Rota, start: datetime, end: datetime, staffing: Staffing = Staffing()) -> Coverage:
    """Gaps and shortfalls of ``rota`` within ``[start, end)``."""
    require_aware(start, "The start of the period")
    require_aware(end, "The end of the period")
    if end <= start:
        raise RotaError(f"The period ends at {end.isoformat()}, which is not after its start {start.isoformat()}.")
    # Counters: index 0 is the total, then one per level, then one per skill.
    names = ["total", *(f"level {lvl}" for lvl in sorted(staffing.levels)),
             *(f"skill {s}" for s in sorted(staffing.skills))]
    needed = [staffing.total, *(staffing.levels[lvl] for lvl in sorted(staffing.levels)),
              *(staffing.skills[s] for s in sorted(staffing.skills))]
    levels = sorted(staffing.levels)
    skills = sorted(staffing.skills)
    counts_for: dict[str, list[int]] = {}
    for extension, agent in rota.agents.items():
        counts_for[extension] = [0, *(1 + i for i, lvl in enumerate(levels) if agent.level >= lvl),
                                 *(1 + len(levels) + i for i, s in enumerate(skills) if s in agent.skills)]
    deltas: dict[datetime, list[int]] = {}
    for extension, spans in rota.available_intervals().items():
        for a, b in spans:
            a, b = max(a, start), min(b, end)
            if a >= b:
                continue
            for index in counts_for[extension]:
                deltas.setdefault(a, [0] * len(names))[index] += 1
                deltas.setdefault(b, [0] * len(names))[index] -= 1
    deltas.setdefault(start, [0] * len(names))
    instants = sorted(deltas)
    current = [0] * len(names)
    open_since: list[datetime | None] = [None] * len(names)
    lowest = [0] * len(names)
    gap_since: datetime | None = None
    gaps: list[Gap] = []
    shortfalls: list[Shortfall] = []
    for t in [*instants, end]:
        if t >= end:
            t = end
        else:
            for i, d in enumerate(deltas[t]):
                current[i] += d
        for i in range(len(names)):
            short = current[i] < needed[i] and t < end
            since = open_since[i]
            if short and since is None:
                open_since[i], lowest[i] = t, current[i]
            elif short:
                lowest[i] = min(lowest[i], current[i])
            elif since is not None:
                if i > 0 or needed[0] > 1:  # a total of 1 missed is a gap, reported as such
                    shortfalls.append(Shortfall(names[i], since, t, needed[i], lowest[i]))
                open_since[i] = None
        if current[0] == 0 and t < end:
            gap_since = gap_since or t
        elif gap_since is not None:
            gaps.append(Gap(gap_since, t))
            gap_since = None
        if t >= end:
            break
    shortfalls.sort(key=lambda s: (s.start, s.what))
    return Coverage(start, end, tuple(gaps), tuple(shortfalls))

