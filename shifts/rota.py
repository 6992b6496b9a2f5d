"""The rota: agents, their concrete shifts, absences and breaks, and who may take calls at an instant.

Pure domain: no I/O, no third-party imports, and time always comes in as an argument. Instants are
timezone-aware ``datetime`` objects; a shift keeps the IANA zone it was defined in so that it can be shown
and re-expanded in local wall-clock time, but its ``start`` and ``end`` are stored in UTC.

A shift contains the instants ``start <= t < end``. An agent is *available* while on shift and neither
absent (leave, sickness, a partial day off) nor on a break; shifts of one agent that touch or overlap are
one span, so the boundary between them is no change. An agent is *routable* (may be given a NEW call)
while available and not within ``grace`` of the end of that availability: ``[a, b)`` available gives
``[a, b - grace)`` routable. A call already in progress is never cut by the rota; routing decides that.
The recurring side (templates, patterns, swaps, holidays) lives in :mod:`shifts.plan`, which expands
into a :class:`Rota`.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_MAX_SHIFT = timedelta(hours=16)
SHIFT_KINDS: tuple[str, ...] = ("duty", "on_call")
ABSENCE_KINDS: tuple[str, ...] = ("leave", "sickness", "training", "other")

_EXTENSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
_SKILL = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


class RotaError(ValueError):
    """A rota, shift, agent or pattern is invalid; the message says exactly what is wrong."""


# --- values ------------------------------------------------------------------------------------------


def check_extension(extension: object) -> str:
    """``extension`` if it is a valid SIP user name for an agent's phone, else :class:`RotaError`."""
    if not isinstance(extension, str) or not _EXTENSION.fullmatch(extension):
        raise RotaError(f"Extension {extension!r} is not a valid SIP user: use 1 to 32 letters, digits, "
                        "'.', '_' or '-', starting with a letter or digit.")
    return extension


def zone(name: object) -> ZoneInfo:
    """The IANA time zone called ``name``, or :class:`RotaError` if there is none."""
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    raise RotaError(f"Unknown timezone {name!r}: give an IANA time zone name "
                    "such as 'Europe/Paris' or 'UTC'.")


def require_aware(value: datetime, what: str) -> datetime:
    """``value`` if it is timezone-aware, else :class:`RotaError` naming ``what``."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise RotaError(f"{what} {value.isoformat()} is a naive datetime; give a timezone-aware datetime.")
    return value


def localize(wall: datetime, tz: ZoneInfo) -> datetime:
    """The instant a naive wall-clock time denotes in ``tz``, in UTC.

    Raises :class:`RotaError` when the wall-clock time does not exist in ``tz`` (skipped by a
    spring-forward change) or occurs twice (repeated by a fall-back change), because either way the
    caller must say which instant is meant.
    """
    if wall.tzinfo is not None:
        return wall.astimezone(UTC)
    first = wall.replace(tzinfo=tz, fold=0)
    second = wall.replace(tzinfo=tz, fold=1)
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != wall:
        raise RotaError(f"{wall.isoformat()} does not exist in {tz.key}: the clocks skip it "
                        "(daylight saving time starts); pick another time or give a UTC offset.")
    if first.utcoffset() != second.utcoffset():
        raise RotaError(f"{wall.isoformat()} happens twice in {tz.key} (daylight saving time ends); "
                        "give a UTC offset to say which one is meant.")
    return first.astimezone(UTC)


def format_duration(length: timedelta) -> str:
    minutes = int(length.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h" if not minutes else f"{hours} h {minutes:02d} min"




def check_skills(skills: object, what: str) -> tuple[str, ...]:
    """``skills`` as a sorted tuple of skill names (queues the agent can serve); :class:`RotaError` if bad."""
    if isinstance(skills, str) or not isinstance(skills, Iterable):
        raise RotaError(f"{what}: skills must be a list of names, got {skills!r}.")
    names = tuple(skills)
    for name in names:
        if not isinstance(name, str) or not _SKILL.fullmatch(name):
            raise RotaError(f"{what}: skill {name!r} is not a valid name: use 1 to 32 lower-case letters, "
                            "digits, '_' or '-', starting with a letter or digit.")
    return tuple(sorted(set(names)))


Interval = tuple[datetime, datetime]


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """The union of ``intervals`` as sorted, disjoint, non-touching ``[start, end)`` intervals."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def subtract(base: list[Interval], cuts: list[Interval]) -> list[Interval]:
    """``base`` minus ``cuts``; both sorted and disjoint (as :func:`merge` returns them)."""
    result: list[Interval] = []
    j = 0
    for start, end in base:
        while j < len(cuts) and cuts[j][1] <= start:
            j += 1
        k, cursor = j, start
        while k < len(cuts) and cuts[k][0] < end:
            if cuts[k][0] > cursor:
                result.append((cursor, cuts[k][0]))
            cursor = max(cursor, cuts[k][1])
            k += 1
        if cursor < end:
            result.append((cursor, end))
    return result


def _contains(intervals: list[Interval], starts: list[datetime], now: datetime) -> bool:
    i = bisect_right(starts, now) - 1
    return i >= 0 and now < intervals[i][1]


# --- agents and shifts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Agent:
    """Someone who answers calls. ``extension`` is the SIP user their phone registers as; ``skills`` name
    the queues they serve; ``timezone`` is where they live (whole-day leave is taken in it)."""

    extension: str
    name: str
    level: int = 1
    skills: tuple[str, ...] = ()
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        check_extension(self.extension)
        if not isinstance(self.name, str) or not self.name.strip() or len(self.name) > 200:
            raise RotaError(f"Agent {self.extension} needs a name of 1 to 200 characters, got {self.name!r}.")
        if isinstance(self.level, bool) or not isinstance(self.level, int) or self.level < 1:
            raise RotaError(f"Agent {self.extension} has level {self.level!r}; "
                            "a level is a whole number >= 1.")
        object.__setattr__(self, "skills", check_skills(self.skills, f"Agent {self.extension}"))
        zone(self.timezone)


def _span(owner: str, what: str, start: datetime, end: datetime) -> tuple[datetime, datetime]:
    require_aware(start, f"{what} of {owner} starts at")
    require_aware(end, f"{what} of {owner} ends at")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        raise RotaError(f"{what} of {owner} ends at {end.isoformat()}, which is not after "
                        f"its start at {start.isoformat()}.")
    return start, end


@dataclass(frozen=True)
class Shift:
    """A span of time ``[start, end)`` during which the agent with ``extension`` works.

    ``start`` and ``end`` must be timezone-aware and are normalised to UTC; ``timezone`` is the IANA zone
    the shift was defined in. ``kind`` is ``duty`` or ``on_call`` (an on-call shift counts for routing and
    coverage like a duty one; it is marked so supervisors see it). ``id`` is set for a stored one-off shift.
    """

    extension: str
    start: datetime
    end: datetime
    timezone: str
    id: int | None = None
    note: str = ""
    kind: str = "duty"

    def __post_init__(self) -> None:
        check_extension(self.extension)
        start, end = _span(self.extension, "Shift", self.start, self.end)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        zone(self.timezone)
        if self.kind not in SHIFT_KINDS:
            raise RotaError(f"Shift of {self.extension} has kind {self.kind!r}; kinds are {', '.join(SHIFT_KINDS)}.")
        if len(self.note) > 500:
            raise RotaError(f"Shift of {self.extension}: the note is longer than 500 characters.")

    @classmethod
    def local(cls, extension: str, start: datetime, end: datetime, timezone: str, *,
              note: str = "", id: int | None = None, kind: str = "duty") -> Shift:
        """A shift whose naive ``start``/``end`` are wall-clock times in ``timezone`` (aware ones are kept).

        Wall-clock times that do not exist or happen twice in ``timezone`` are refused (:func:`localize`).
        """
        tz = zone(timezone)
        return cls(extension, localize(start, tz), localize(end, tz), timezone, id=id, note=note, kind=kind)

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    def contains(self, now: datetime) -> bool:
        return self.start <= now < self.end

    def describe(self) -> str:
        tz = zone(self.timezone)
        start, end = self.start.astimezone(tz), self.end.astimezone(tz)
        local = f"{start:%a %Y-%m-%d %H:%M} to {end:%a %Y-%m-%d %H:%M} {self.timezone}"
        return local if self.timezone == "UTC" else f"{local} ({self.start:%Y-%m-%d %H:%M} UTC)"


@dataclass(frozen=True)
class Absence:
    """The agent with ``extension`` is away during ``[start, end)``: leave, sickness, training, other.

    It takes precedence over shifts: an absent agent gets no call. A partial day is just a shorter span.
    """

    extension: str
    start: datetime
    end: datetime
    kind: str = "leave"
    note: str = ""
    id: int | None = None

    def __post_init__(self) -> None:
        check_extension(self.extension)
        start, end = _span(self.extension, "Absence", self.start, self.end)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        if self.kind not in ABSENCE_KINDS:
            raise RotaError(f"Absence of {self.extension} has kind {self.kind!r}; "
                            f"kinds are {', '.join(ABSENCE_KINDS)}.")


@dataclass(frozen=True)
class Break:
    """A break of the agent with ``extension`` during ``[start, end)``: on shift, but taking no calls."""

    extension: str
    start: datetime
    end: datetime
    id: int | None = None

    def __post_init__(self) -> None:
        check_extension(self.extension)
        start, end = _span(self.extension, "Break", self.start, self.end)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)


# --- events ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BecameRoutable:
    """The agent with ``extension`` may receive new calls from ``at`` on (shift started, break or absence over)."""

    extension: str
    at: datetime


@dataclass(frozen=True)
class StoppedRoutable:
    """The agent with ``extension`` receives no new call from ``at`` on (end of shift minus the grace,
    a break, an absence). A call in progress goes on."""

    extension: str
    at: datetime


RotaEvent = BecameRoutable | StoppedRoutable


@dataclass(frozen=True)
class Boundary:
    """An instant at which the set of routable agents changes."""

    at: datetime
    started: frozenset[str] = field(default_factory=frozenset)
    ended: frozenset[str] = field(default_factory=frozenset)

    def events(self) -> tuple[RotaEvent, ...]:
        """What happened at this instant: the ends first, then the starts, each sorted by extension."""
        ended: list[RotaEvent] = [StoppedRoutable(extension, self.at) for extension in sorted(self.ended)]
        started: list[RotaEvent] = [BecameRoutable(extension, self.at) for extension in sorted(self.started)]
        return (*ended, *started)


# --- the rota ----------------------------------------------------------------------------------------


class Rota:
    """Agents and their concrete shifts, absences and breaks (a window of the plan, or a whole period).

    Raises :class:`RotaError` for an entry of an agent not in ``agents`` or two agents with one extension.
    Rules between shifts (overlaps, length, rest) are checked by :mod:`shifts.rules`, not here: a rota
    may break them and still be shown and routed. ``issues`` carries warnings found while expanding.
    """

    def __init__(self, agents: Iterable[Agent], shifts: Iterable[Shift], *, absences: Iterable[Absence] = (),
                 breaks: Iterable[Break] = (), issues: Iterable[str] = ()) -> None:
        by_extension: dict[str, Agent] = {}
        for agent in agents:
            if agent.extension in by_extension:
                raise RotaError(f"Agent {agent.extension} appears twice in the rota.")
            by_extension[agent.extension] = agent
        self.agents: Mapping[str, Agent] = by_extension
        self.shifts: tuple[Shift, ...] = tuple(sorted(shifts, key=lambda s: (s.start, s.end, s.extension)))
        self.absences: tuple[Absence, ...] = tuple(sorted(absences, key=lambda a: (a.start, a.extension)))
        self.breaks: tuple[Break, ...] = tuple(sorted(breaks, key=lambda b: (b.start, b.extension)))
        self.issues: tuple[str, ...] = tuple(issues)
        named: tuple[tuple[str, tuple[Shift | Absence | Break, ...]], ...] = (
            ("Shift", self.shifts), ("Absence", self.absences), ("Break", self.breaks))
        for what, entries in named:
            for entry in entries:
                if entry.extension not in by_extension:
                    raise RotaError(f"{what} from {entry.start.isoformat()} to {entry.end.isoformat()} is for "
                                    f"agent {entry.extension}, who is not in the rota.")
        self._available: dict[str, list[Interval]] | None = None
        self._routable: dict[timedelta, dict[str, tuple[list[Interval], list[datetime]]]] = {}

    # --- intervals per agent ---------------------------------------------------------------------

    def available_intervals(self) -> Mapping[str, list[Interval]]:
        """Per agent, when they are on shift and neither absent nor on a break (sorted, disjoint)."""
        if self._available is None:
            worked: dict[str, list[Interval]] = {}
            away: dict[str, list[Interval]] = {}
            for shift in self.shifts:
                worked.setdefault(shift.extension, []).append((shift.start, shift.end))
            gone: tuple[Absence | Break, ...] = (*self.absences, *self.breaks)
            for entry in gone:
                away.setdefault(entry.extension, []).append((entry.start, entry.end))
            self._available = {}
            for extension, spans in worked.items():
                free = subtract(merge(spans), merge(away.get(extension, ())))
                if free:
                    self._available[extension] = free
        return self._available

    def _routable_index(self, grace: timedelta) -> dict[str, tuple[list[Interval], list[datetime]]]:
        if grace < timedelta(0):
            raise RotaError(f"The end-of-shift grace must not be negative (got {grace}).")
        index = self._routable.get(grace)
        if index is None:
            index = {}
            for extension, spans in self.available_intervals().items():
                cut = [(start, end - grace) for start, end in spans if end - grace > start]
                if cut:
                    index[extension] = (cut, [start for start, _ in cut])
            self._routable[grace] = index
        return index

    # --- questions at an instant -----------------------------------------------------------------

    def on_shift(self, now: datetime) -> frozenset[str]:
        """Extensions of the agents whose shift contains ``now`` (start inclusive, end exclusive), absent
        or not: who is rostered."""
        require_aware(now, "The instant")
        return frozenset(shift.extension for shift in self.shifts if shift.contains(now))

    def absent(self, now: datetime) -> frozenset[str]:
        require_aware(now, "The instant")
        return frozenset(a.extension for a in self.absences if a.start <= now < a.end)

    def available(self, now: datetime) -> frozenset[str]:
        """On shift at ``now`` and neither absent nor on a break."""
        require_aware(now, "The instant")
        return frozenset(ext for ext, spans in self.available_intervals().items()
                         if _contains(spans, [s for s, _ in spans], now))

    def routable(self, now: datetime, grace: timedelta = timedelta(0)) -> frozenset[str]:
        """The extensions that may receive a NEW call at ``now``: available, and not within ``grace`` of
        the end of their availability (so a call taken now is unlikely to run past the shift)."""
        require_aware(now, "The instant")
        return frozenset(ext for ext, (spans, starts) in self._routable_index(grace).items()
                         if _contains(spans, starts, now))

    def _routable_just_before(self, at: datetime, grace: timedelta) -> frozenset[str]:
        found = set()
        for ext, (spans, starts) in self._routable_index(grace).items():
            i = bisect_right(starts, at) - 1
            while i >= 0 and spans[i][0] >= at:
                i -= 1
            if i >= 0 and spans[i][0] < at <= spans[i][1]:
                found.add(ext)
        return frozenset(found)

    def boundary_at(self, at: datetime, grace: timedelta = timedelta(0)) -> Boundary | None:
        """What changes at ``at``, or ``None`` if the routable set does not change there."""
        require_aware(at, "The instant")
        before, after = self._routable_just_before(at, grace), self.routable(at, grace)
        if before == after:
            return None
        return Boundary(at.astimezone(UTC), started=after - before, ended=before - after)

    def change_instants(self, after: datetime, until: datetime, grace: timedelta = timedelta(0)) -> list[datetime]:
        """Every instant ``t`` with ``after < t <= until`` at which the routable set may change, sorted."""
        require_aware(after, "The start of the window")
        require_aware(until, "The end of the window")
        return sorted({t for spans, _ in self._routable_index(grace).values() for span in spans for t in span
                       if after < t <= until})

    def next_boundaries(self, after: datetime, until: datetime,
                        grace: timedelta = timedelta(0)) -> list[Boundary]:
        """The boundaries ``b`` with ``after < b.at <= until``, sorted by time."""
        boundaries = (self.boundary_at(t, grace) for t in self.change_instants(after, until, grace))
        return [b for b in boundaries if b is not None]

