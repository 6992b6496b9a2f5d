"""The rota: agents, their shifts, and who is on shift at a given instant.

Pure domain: no I/O, no third-party imports, and time always comes in as an argument. Instants are
timezone-aware ``datetime`` objects; a shift keeps the IANA zone it was defined in so that it can be shown
and re-expanded in local wall-clock time, but its ``start`` and ``end`` are stored in UTC.

A shift contains the instants ``start <= t < end``. Two shifts of one agent may touch (one ends when the
next starts) but not overlap; an agent covered without a gap is on shift throughout, and the boundary in
between is not a change (see :meth:`Rota.next_boundaries`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_MAX_SHIFT = timedelta(hours=16)
DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_EXTENSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
_HHMM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])|24:00")


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
    return f"{hours} h" if not minutes else f"{hours} h {minutes:02d} min"


# --- agents and shifts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Agent:
    """Someone who answers calls. ``extension`` is the SIP user their phone registers as."""

    extension: str
    name: str
    level: int = 1

    def __post_init__(self) -> None:
        check_extension(self.extension)
        if not isinstance(self.name, str) or not self.name.strip() or len(self.name) > 200:
            raise RotaError(f"Agent {self.extension} needs a name of 1 to 200 characters, got {self.name!r}.")
        if isinstance(self.level, bool) or not isinstance(self.level, int) or self.level < 1:
            raise RotaError(f"Agent {self.extension} has level {self.level!r}; "
                            "a level is a whole number >= 1.")


@dataclass(frozen=True)
class Shift:
    """A span of time ``[start, end)`` during which the agent with ``extension`` may receive calls.

    ``start`` and ``end`` must be timezone-aware and are normalised to UTC; ``timezone`` is the IANA zone
    the shift was defined in. ``id`` is set once the shift is stored.
    """

    extension: str
    start: datetime
    end: datetime
    timezone: str
    id: int | None = None
    note: str = ""

    def __post_init__(self) -> None:
        check_extension(self.extension)
        require_aware(self.start, f"Shift of {self.extension} starts at")
        require_aware(self.end, f"Shift of {self.extension} ends at")
        zone(self.timezone)
        object.__setattr__(self, "start", self.start.astimezone(UTC))
        object.__setattr__(self, "end", self.end.astimezone(UTC))
        if self.end <= self.start:
            raise RotaError(f"Shift of {self.extension} ends at {self.end.isoformat()}, which is not after "
                            f"its start at {self.start.isoformat()}.")

    @classmethod
    def local(cls, extension: str, start: datetime, end: datetime, timezone: str, *,
              note: str = "", id: int | None = None) -> Shift:
        """A shift whose naive ``start``/``end`` are wall-clock times in ``timezone`` (aware ones are kept).

        Wall-clock times that do not exist or happen twice in ``timezone`` are refused (:func:`localize`).
        """
        tz = zone(timezone)
        return cls(extension, localize(start, tz), localize(end, tz), timezone, id=id, note=note)

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    def contains(self, now: datetime) -> bool:
        return self.start <= now < self.end

    def describe(self) -> str:
        return f"{self.start.isoformat()} to {self.end.isoformat()}"


# --- events ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShiftStarted:
    """The agent with ``extension`` went on shift at ``at``: they may now receive calls."""

    extension: str
    at: datetime


@dataclass(frozen=True)
class ShiftEnded:
    """The agent with ``extension`` went off shift at ``at``: they take no new calls."""

    extension: str
    at: datetime


ShiftEvent = ShiftStarted | ShiftEnded


@dataclass(frozen=True)
class Boundary:
    """An instant at which the set of agents on shift changes."""

    at: datetime
    started: frozenset[str] = field(default_factory=frozenset)
    ended: frozenset[str] = field(default_factory=frozenset)

    def events(self) -> tuple[ShiftEvent, ...]:
        """What happened at this instant: the ends first, then the starts, each sorted by extension."""
        ended: list[ShiftEvent] = [ShiftEnded(extension, self.at) for extension in sorted(self.ended)]
        started: list[ShiftEvent] = [ShiftStarted(extension, self.at) for extension in sorted(self.started)]
        return (*ended, *started)


# --- the rota ----------------------------------------------------------------------------------------


class Rota:
    """Agents and their shifts, validated as a whole.

    Raises :class:`RotaError` for a shift of an agent not in ``agents``, a shift longer than
    ``max_shift``, overlapping shifts of one agent, or two agents with the same extension.
    """

    def __init__(self, agents: Iterable[Agent], shifts: Iterable[Shift], *,
                 max_shift: timedelta = DEFAULT_MAX_SHIFT) -> None:
        by_extension: dict[str, Agent] = {}
        for agent in agents:
            if agent.extension in by_extension:
                raise RotaError(f"Agent {agent.extension} appears twice in the rota.")
            by_extension[agent.extension] = agent
        self.agents: Mapping[str, Agent] = by_extension
        self.shifts: tuple[Shift, ...] = tuple(sorted(shifts, key=lambda s: (s.start, s.end, s.extension)))
        self.max_shift = max_shift
        self._validate()

    def _validate(self) -> None:
        last_of: dict[str, Shift] = {}
        for shift in self.shifts:
            if shift.extension not in self.agents:
                raise RotaError(f"Shift {shift.describe()} is for agent {shift.extension}, "
                                "who is not in the rota.")
            if shift.length > self.max_shift:
                raise RotaError(f"Shift of {shift.extension} from {shift.describe()} lasts "
                                f"{format_duration(shift.length)}, longer than the maximum of "
                                f"{format_duration(self.max_shift)}.")
            previous = last_of.get(shift.extension)
            if previous is not None and shift.start < previous.end:
                raise RotaError(f"Shifts of agent {shift.extension} overlap: {previous.describe()} "
                                f"and {shift.describe()}.")
            if previous is None or shift.end > previous.end:
                last_of[shift.extension] = shift

    def on_shift(self, now: datetime) -> frozenset[str]:
        """Extensions of the agents whose shift contains ``now`` (start inclusive, end exclusive)."""
        require_aware(now, "The instant")
        return frozenset(shift.extension for shift in self.shifts if shift.contains(now))

    def _on_shift_just_before(self, at: datetime) -> frozenset[str]:
        return frozenset(shift.extension for shift in self.shifts if shift.start < at <= shift.end)

    def boundary_at(self, at: datetime) -> Boundary | None:
        """What changes at ``at``, or ``None`` if the set of agents on shift does not change there."""
        before, after = self._on_shift_just_before(at), self.on_shift(at)
        if before == after:
            return None
        return Boundary(at.astimezone(UTC), started=after - before, ended=before - after)

    def next_boundaries(self, after: datetime, until: datetime) -> list[Boundary]:
        """The boundaries ``b`` with ``after < b.at <= until``, sorted by time.

        Where one shift of an agent ends as their next begins, the agent stays on shift and no boundary is
        reported for them.
        """
        require_aware(after, "The start of the window")
        require_aware(until, "The end of the window")
        instants = sorted({t for shift in self.shifts for t in (shift.start, shift.end)
                           if after < t <= until})
        boundaries = (self.boundary_at(t) for t in instants)
        return [b for b in boundaries if b is not None]

    def shifts_of(self, extension: str) -> list[Shift]:
        return [shift for shift in self.shifts if shift.extension == extension]


# --- weekly patterns ---------------------------------------------------------------------------------


def parse_hhmm(value: object, what: str) -> time | None:
    """``"HH:MM"`` as a time; ``"24:00"`` gives ``None`` (the midnight ending the day)."""
    if not isinstance(value, str) or not _HHMM.fullmatch(value):
        raise RotaError(f"{what} {value!r} is not a time of day written HH:MM (00:00 to 24:00).")
    if value == "24:00":
        return None
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class WeeklyPattern:
    """A shift repeated every week on ``days`` from ``start`` to ``end`` local time in ``timezone``.

    ``end`` at or before ``start`` means the shift crosses midnight; ``"24:00"`` ends at the midnight
    that closes the day. Lengths follow the wall clock, so a 22:00-06:00 night shift lasts 7 h across a
    spring-forward change and 9 h across a fall-back one.
    """

    agent: str
    days: Sequence[str]
    start: str
    end: str
    timezone: str

    def __post_init__(self) -> None:
        check_extension(self.agent)
        if isinstance(self.days, str) or not self.days:
            raise RotaError(f"Weekly pattern of {self.agent} needs a list of days out of {', '.join(DAYS)}; "
                            f"got {self.days!r}.")
        names = [d.lower() if isinstance(d, str) else d for d in self.days]
        unknown = [d for d in names if d not in DAYS]
        if unknown:
            raise RotaError(f"Weekly pattern of {self.agent} has unknown day {unknown[0]!r}; "
                            f"days are {', '.join(DAYS)}.")
        object.__setattr__(self, "days", tuple(d for d in DAYS if d in names))
        if parse_hhmm(self.start, f"Weekly pattern of {self.agent}: start") is None:
            raise RotaError(f"Weekly pattern of {self.agent} starts at 24:00; write 00:00 of the next day.")
        parse_hhmm(self.end, f"Weekly pattern of {self.agent}: end")
        zone(self.timezone)


def expand(pattern: WeeklyPattern, from_date: date, days: int) -> list[Shift]:
    """The concrete shifts of ``pattern`` that start on the ``days`` local dates from ``from_date`` on."""
    tz = zone(pattern.timezone)
    start_time = parse_hhmm(pattern.start, "start")
    end_time = parse_hhmm(pattern.end, "end")
    assert start_time is not None
    weekdays = {DAYS.index(d) for d in pattern.days}
    shifts = []
    for offset in range(days):
        day = from_date + timedelta(days=offset)
        if day.weekday() not in weekdays:
            continue
        if end_time is None:
            end_day, end_clock = day + timedelta(days=1), time(0, 0)
        else:
            end_day, end_clock = (day if end_time > start_time else day + timedelta(days=1)), end_time
        # fold=0: a wall-clock time skipped by DST maps past the gap, a repeated one to its first occurrence.
        start = datetime.combine(day, start_time, tzinfo=tz)
        end = datetime.combine(end_day, end_clock, tzinfo=tz)
        shifts.append(Shift(pattern.agent, start, end, pattern.timezone))
    return shifts
