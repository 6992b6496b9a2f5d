"""The rota plan: shift templates, recurring patterns, one-off shifts, exceptions, swaps and breaks,
expanded into the concrete :class:`~shifts.rota.Rota` of any period. Pure: no I/O, dates passed in.

- A :class:`ShiftTemplate` is a wall-clock span such as early 06:00-14:00, late 14:00-22:00 or night
  22:00-06:00 (an end at or before the start crosses midnight; ``24:00`` is the midnight closing the day),
  with breaks at fixed offsets from its start.
- Patterns put templates on days: :class:`WeeklyPattern` (the same days each week),
  :class:`RotatingPattern` (a cycle of templates and days off from an anchor date, e.g. a 3x8 rotation)
  and :class:`OnCallRotation` (agents of at least a level take turns of ``turn_days``).
- Each pattern is defined in a time zone (the site's): a template on a local date gives the instants its
  wall-clock times denote there, so a 22:00-06:00 night lasts 7 h across the spring-forward night and 9 h
  across the fall-back one, and a week of nights covers every instant exactly once. A start the clocks
  skip moves past the gap; a repeated wall-clock time means its first occurrence.
- Public holidays (:class:`Holiday`) remove the shifts of patterns marked ``skip_holidays`` that start on
  that local date. Absences (leave, sickness, partial days) and breaks are kept beside the shifts: the
  agent stays rostered but is not available.
- A :class:`Swap` hands one shift (named by its agent and start instant) to another agent; two swaps make
  an exchange.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from shifts.rota import (
    SHIFT_KINDS,
    Absence,
    Agent,
    Break,
    Rota,
    RotaError,
    Shift,
    check_extension,
    format_duration,
    require_aware,
    zone,
)

DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])|24:00")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._:-]{0,63}")


def parse_hhmm(value: object, what: str) -> time | None:
    """``"HH:MM"`` as a time; ``"24:00"`` gives ``None`` (the midnight ending the day)."""
    if not isinstance(value, str) or not _HHMM.fullmatch(value):
        raise RotaError(f"{what} {value!r} is not a time of day written HH:MM (00:00 to 24:00).")
    if value == "24:00":
        return None
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise RotaError(f"{what} name {name!r} is not valid: use 1 to 64 letters, digits, spaces, "
                        "'.', '_', ':' or '-', starting with a letter or digit.")
    return name


# --- templates ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BreakRule:
    """A break ``length`` long, ``after`` the start of each shift made from the template."""

    after: timedelta
    length: timedelta


@dataclass(frozen=True)
class ShiftTemplate:
    """A named wall-clock span; ``kind`` is ``duty`` or ``on_call``."""

    name: str
    start: str
    end: str
    breaks: tuple[BreakRule, ...] = ()
    kind: str = "duty"
    id: int | None = None

    def __post_init__(self) -> None:
        _check_name(self.name, "Template")
        if parse_hhmm(self.start, f"Template {self.name}: start") is None:
            raise RotaError(f"Template {self.name} starts at 24:00; write 00:00 of the next day.")
        parse_hhmm(self.end, f"Template {self.name}: end")
        if self.kind not in SHIFT_KINDS:
            raise RotaError(f"Template {self.name} has kind {self.kind!r}; kinds are {', '.join(SHIFT_KINDS)}.")
        object.__setattr__(self, "breaks", tuple(sorted(self.breaks, key=lambda b: b.after)))
        nominal = self.nominal_length
        previous_end = timedelta(0)
        for rule in self.breaks:
            if rule.length <= timedelta(0) or rule.after <= timedelta(0):
                raise RotaError(f"Template {self.name}: a break needs a positive offset and length "
                                f"(got {format_duration(rule.after)} after the start, {rule.length}).")
            if rule.after < previous_end:
                raise RotaError(f"Template {self.name}: breaks overlap at {format_duration(rule.after)} "
                                "after the start.")
            if rule.after + rule.length >= nominal:
                raise RotaError(f"Template {self.name}: the break {format_duration(rule.after)} after the start "
                                f"does not end before the shift ends ({format_duration(nominal)} long).")
            previous_end = rule.after + rule.length

    @property
    def crosses_midnight(self) -> bool:
        end = parse_hhmm(self.end, "end")
        start = parse_hhmm(self.start, "start")
        assert start is not None
        return end is None or end <= start

    @property
    def nominal_length(self) -> timedelta:
        """Its length on a day without a clock change."""
        start, end = parse_hhmm(self.start, "start"), parse_hhmm(self.end, "end")
        assert start is not None
        end_minutes = 24 * 60 if end is None else end.hour * 60 + end.minute
        length = end_minutes - (start.hour * 60 + start.minute)
        return timedelta(minutes=length if length > 0 else length + 24 * 60)

    def span(self, day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The UTC instants of the template worked on local ``day`` in ``tz``."""
        start_time, end_time = parse_hhmm(self.start, "start"), parse_hhmm(self.end, "end")
        assert start_time is not None
        if end_time is None:
            end_day, end_clock = day + timedelta(days=1), time(0, 0)
        else:
            end_day, end_clock = (day if end_time > start_time else day + timedelta(days=1)), end_time
        # fold=0: a wall-clock time skipped by DST maps past the gap, a repeated one to its first occurrence.
        start = datetime.combine(day, start_time, tzinfo=tz).astimezone(UTC)
        end = datetime.combine(end_day, end_clock, tzinfo=tz).astimezone(UTC)
        return start, end

    def shift(self, extension: str, day: date, timezone: str, note: str = "") -> tuple[Shift, list[Break]] | None:
        """The shift worked on local ``day``, with its breaks; ``None`` if the clocks skip all of it (a
        02:00-02:30 shift on a night that jumps from 02:00 to 02:30)."""
        start, end = self.span(day, zone(timezone))
        if end <= start:
            return None
        shift = Shift(extension, start, end, timezone, note=note, kind=self.kind)
        breaks = [Break(extension, start + rule.after, start + rule.after + rule.length) for rule in self.breaks
                  if start + rule.after + rule.length < end]  # a DST-shortened night keeps the breaks that fit
        return shift, breaks


@dataclass(frozen=True)
class ShiftWindow:
    """A template as worked on one local date: the span the wallboard reports per shift."""

    name: str
    start: datetime
    end: datetime


def local_midnight(day: date, tz: tzinfo) -> datetime:
    """The UTC instant that opens local ``day`` in ``tz`` (fold=0: a midnight the clocks skip maps past the
    gap, to the first instant of the day)."""
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)


def day_windows(templates: Iterable[ShiftTemplate], day: date, tz: ZoneInfo) -> list[ShiftWindow]:
    """The duty templates' spans that overlap local ``day`` in ``tz``, by start: the night that began the
    evening before, then the day's own (the night that begins this evening included). On-call templates
    are not duty windows; a span the clocks skip entirely does not exist."""
    midnight, next_midnight = local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)
    windows = []
    for template in templates:
        if template.kind != "duty":
            continue
        for worked_on in (day - timedelta(days=1), day):
            start, end = template.span(worked_on, tz)
            if start < end and start < next_midnight and end > midnight:
                windows.append(ShiftWindow(template.name, start, end))
    return sorted(windows, key=lambda w: (w.start, w.end, w.name))


# --- patterns ----------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _Recurrence:
    """What every pattern has: a time zone, the dates it is valid on (inclusive) and the holiday policy.
    Patterns are built with keywords only."""

    timezone: str = "UTC"
    valid_from: date | None = None
    valid_until: date | None = None
    skip_holidays: bool = False
    id: int | None = None

    def _check_common(self, what: str) -> None:
        zone(self.timezone)
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise RotaError(f"{what} is valid until {self.valid_until}, before it starts on {self.valid_from}.")

    def _days(self, first: date, last: date) -> Iterator[date]:
        if self.valid_from is not None:
            first = max(first, self.valid_from)
        if self.valid_until is not None:
            last = min(last, self.valid_until)
        day = first
        while day <= last:
            yield day
            day += timedelta(days=1)


@dataclass(frozen=True, kw_only=True)
class WeeklyPattern(_Recurrence):
    """``agent`` works ``template`` on ``days`` (mon..sun) every week."""

    agent: str = ""
    days: Sequence[str] = ()
    template: ShiftTemplate | None = None

    def __post_init__(self) -> None:
        check_extension(self.agent)
        what = f"Weekly pattern of {self.agent}"
        if isinstance(self.days, str) or not self.days:
            raise RotaError(f"{what} needs a list of days out of {', '.join(DAYS)}; got {self.days!r}.")
        names = [d.lower() if isinstance(d, str) else d for d in self.days]
        unknown = [d for d in names if d not in DAYS]
        if unknown:
            raise RotaError(f"{what} has unknown day {unknown[0]!r}; days are {', '.join(DAYS)}.")
        object.__setattr__(self, "days", tuple(d for d in DAYS if d in names))
        if self.template is None:
            raise RotaError(f"{what} needs a shift template.")
        self._check_common(what)

    def assignments(self, first: date, last: date) -> Iterator[tuple[str, date, ShiftTemplate]]:
        assert self.template is not None
        weekdays = {DAYS.index(d) for d in self.days}
        for day in self._days(first, last):
            if day.weekday() in weekdays:
                yield self.agent, day, self.template

    @property
    def agents(self) -> tuple[str, ...]:
        return (self.agent,)


@dataclass(frozen=True, kw_only=True)
class RotatingPattern(_Recurrence):
    """``agent`` follows ``cycle`` (a template, or ``None`` for a day off, per day) from ``anchor`` on,
    repeating; ``anchor`` is day 0 of the cycle. A 3x8 rotation: early, early, late, late, night, night,
    off, off, with agents anchored two days apart."""

    agent: str = ""
    cycle: tuple[ShiftTemplate | None, ...] = ()
    anchor: date = date(2026, 1, 5)

    def __post_init__(self) -> None:
        check_extension(self.agent)
        what = f"Rotating pattern of {self.agent}"
        if not self.cycle or all(t is None for t in self.cycle):
            raise RotaError(f"{what} needs a cycle with at least one shift template.")
        if len(self.cycle) > 366:
            raise RotaError(f"{what} has a cycle of {len(self.cycle)} days; the longest allowed is 366.")
        self._check_common(what)

    def assignments(self, first: date, last: date) -> Iterator[tuple[str, date, ShiftTemplate]]:
        for day in self._days(first, last):
            template = self.cycle[(day - self.anchor).days % len(self.cycle)]
            if template is not None:
                yield self.agent, day, template

    @property
    def agents(self) -> tuple[str, ...]:
        return (self.agent,)


@dataclass(frozen=True, kw_only=True)
class OnCallRotation(_Recurrence):
    """``agents`` take turns of ``turn_days`` days working ``template`` every day of their turn, in order
    from ``anchor``; every agent must have at least ``level``. The shifts are of kind ``on_call``."""

    agents: tuple[str, ...] = ()
    template: ShiftTemplate | None = None
    anchor: date = date(2026, 1, 5)
    turn_days: int = 7
    level: int = 2

    def __post_init__(self) -> None:
        what = "On-call rotation"
        if not self.agents:
            raise RotaError(f"{what} needs at least one agent.")
        for agent in self.agents:
            check_extension(agent)
        if self.template is None:
            raise RotaError(f"{what} needs a shift template.")
        if isinstance(self.turn_days, bool) or not isinstance(self.turn_days, int) or not 1 <= self.turn_days <= 366:
            raise RotaError(f"{what}: a turn lasts 1 to 366 days, got {self.turn_days!r}.")
        if isinstance(self.level, bool) or not isinstance(self.level, int) or self.level < 1:
            raise RotaError(f"{what}: the level is a whole number >= 1, got {self.level!r}.")
        self._check_common(what)

    def assignments(self, first: date, last: date) -> Iterator[tuple[str, date, ShiftTemplate]]:
        assert self.template is not None
        on_call = ShiftTemplate(self.template.name, self.template.start, self.template.end, self.template.breaks,
                                kind="on_call")
        for day in self._days(first, last):
            turn = ((day - self.anchor).days // self.turn_days) % len(self.agents)
            yield self.agents[turn], day, on_call


Pattern = WeeklyPattern | RotatingPattern | OnCallRotation


def weekly(agent: str, days: Sequence[str], start: str, end: str, timezone: str) -> WeeklyPattern:
    """A weekly pattern with a template named ``start-end`` (the rota document's short form)."""
    return WeeklyPattern(agent=agent, days=days, template=ShiftTemplate(f"{start}-{end}", start, end),
                         timezone=timezone)


# --- exceptions and swaps ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Holiday:
    """A public holiday of the site's calendar (a local date)."""

    day: date
    name: str
    id: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip() or len(self.name) > 200:
            raise RotaError(f"Holiday on {self.day} needs a name of 1 to 200 characters.")


@dataclass(frozen=True)
class Swap:
    """The shift of ``extension`` starting at ``start`` is worked by ``to`` instead."""

    extension: str
    start: datetime
    to: str
    note: str = ""
    id: int | None = None

    def __post_init__(self) -> None:
        check_extension(self.extension)
        check_extension(self.to)
        require_aware(self.start, f"Swap of {self.extension}: the shift start")
        object.__setattr__(self, "start", self.start.astimezone(UTC))
        if self.to == self.extension:
            raise RotaError(f"Swap of the shift of {self.extension} at {self.start.isoformat()} hands it to "
                            "the same agent.")


# --- the plan ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RotaPlan:
    """Everything a supervisor defines; :meth:`expand` gives the concrete rota of a period."""

    agents: tuple[Agent, ...]
    patterns: tuple[Pattern, ...] = ()
    shifts: tuple[Shift, ...] = ()
    absences: tuple[Absence, ...] = ()
    holidays: tuple[Holiday, ...] = ()
    swaps: tuple[Swap, ...] = ()
    breaks: tuple[Break, ...] = ()
    _holiday_days: frozenset[date] = field(default=frozenset(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_extension = {agent.extension: agent for agent in self.agents}
        if len(by_extension) != len(self.agents):
            raise RotaError("An agent appears twice in the rota.")
        for pattern in self.patterns:
            for extension in pattern.agents:
                if extension not in by_extension:
                    raise RotaError(f"{_describe(pattern)} names agent {extension}, who is not in the rota.")
            if isinstance(pattern, OnCallRotation):
                for extension in pattern.agents:
                    if by_extension[extension].level < pattern.level:
                        raise RotaError(f"{_describe(pattern)} needs level {pattern.level} or more, but agent "
                                        f"{extension} has level {by_extension[extension].level}.")
        for swap in self.swaps:
            for extension in (swap.extension, swap.to):
                if extension not in by_extension:
                    raise RotaError(f"Swap of the shift at {swap.start.isoformat()} names agent {extension}, "
                                    "who is not in the rota.")
        object.__setattr__(self, "_holiday_days", frozenset(h.day for h in self.holidays))

    def pattern_shifts(self, start: datetime, end: datetime) -> list[tuple[Shift, list[Break]]]:
        """The shifts (with their template breaks) the patterns give that overlap ``[start, end]``."""
        require_aware(start, "The start of the period")
        require_aware(end, "The end of the period")
        found = []
        for pattern in self.patterns:
            tz = zone(pattern.timezone)
            # A shift starting up to two local days earlier may still run (nights, 24 h on-call).
            first = start.astimezone(tz).date() - timedelta(days=2)
            last = end.astimezone(tz).date()
            for extension, day, template in pattern.assignments(first, last):
                if pattern.skip_holidays and day in self._holiday_days:
                    continue
                made = template.shift(extension, day, pattern.timezone, note=template.name)
                if made is not None and made[0].end >= start and made[0].start <= end:
                    found.append(made)
        return found

    def expand(self, start: datetime, end: datetime) -> Rota:
        """The concrete rota of ``[start, end]``: every shift, absence and break overlapping it (touching
        included, so a chain of shifts is seen whole), with swaps applied."""
        made = self.pattern_shifts(start, end)
        made.extend((s, []) for s in self.shifts if s.end >= start and s.start <= end)
        swaps = {(swap.extension, swap.start): swap for swap in self.swaps}
        used: set[tuple[str, datetime]] = set()
        shifts: list[Shift] = []
        breaks: list[Break] = [b for b in self.breaks if b.end >= start and b.start <= end]
        for shift, shift_breaks in made:
            swap = swaps.get((shift.extension, shift.start))
            if swap is not None:
                used.add((shift.extension, shift.start))
                note = f"swapped from {shift.extension}" + (f": {swap.note}" if swap.note else "")
                shift = Shift(swap.to, shift.start, shift.end, shift.timezone, id=shift.id, note=note,
                              kind=shift.kind)
                shift_breaks = [Break(swap.to, b.start, b.end) for b in shift_breaks]
            shifts.append(shift)
            breaks.extend(shift_breaks)
        issues = [f"Swap of the shift of {swap.extension} starting {swap.start.isoformat()} matches no shift."
                  for key, swap in swaps.items() if key not in used and start <= swap.start <= end]
        absences = [a for a in self.absences if a.end >= start and a.start <= end]
        return Rota(self.agents, shifts, absences=absences, breaks=breaks, issues=issues)


def _describe(pattern: Pattern) -> str:
    if isinstance(pattern, WeeklyPattern):
        return f"Weekly pattern of {pattern.agent}"
    if isinstance(pattern, RotatingPattern):
        return f"Rotating pattern of {pattern.agent}"
    return "On-call rotation"


@dataclass(frozen=True)
class CopiedWeek:
    """What copying a week gives: one-off shifts and breaks for the target week, and in ``skipped`` a
    sentence for each entry of the source week left out."""

    shifts: tuple[Shift, ...]
    breaks: tuple[Break, ...]
    skipped: tuple[str, ...]


def copy_week(plan: RotaPlan, source_monday: date, target_monday: date, target: Rota) -> CopiedWeek:
    """The schedule a supervisor set by hand for the week of ``source_monday``, as one-off entries for the
    week of ``target_monday`` at the same local wall-clock times (a week copied across a DST change keeps
    its hours on the clock).

    Copied: the one-off shifts of ``plan`` that start in the source week (a local date in the shift's own
    zone), and its one-off breaks taken during a shift (one-off or from a pattern) that starts in that
    week. Not copied: the shifts patterns give, with their template breaks (they recur by themselves),
    absences (leave and sickness are dated events, not a schedule), swaps (one-time exchanges) and
    holidays. Left out with a sentence in ``skipped``: an entry already in ``target`` (the target week's
    rota as it is: copying twice adds nothing), a shift the clocks skip in the target week, a break the
    agent has no shift around in the target week. Refuses a date that is not a Monday.
    """
    for what, day in (("source", source_monday), ("target", target_monday)):
        if day.weekday() != 0:
            raise RotaError(f"The {what} week must be given by its Monday; {day} is a {DAYS[day.weekday()]}.")
    offset = target_monday - source_monday

    def in_week(shift: Shift) -> bool:
        return source_monday <= shift.start.astimezone(zone(shift.timezone)).date() < source_monday + timedelta(7)

    def move(instant: datetime, tz: ZoneInfo) -> datetime:
        # fold=0 as in ShiftTemplate.span: a skipped time moves past the gap, a repeated one is the first.
        return (instant.astimezone(tz).replace(tzinfo=None) + offset).replace(tzinfo=tz)

    def around(item: Break, shifts: Iterable[Shift]) -> Shift | None:
        return next((s for s in shifts if s.extension == item.extension and s.start <= item.start
                     and item.end <= s.end), None)

    taken = {(s.extension, s.start, s.end) for s in target.shifts}
    shifts: list[Shift] = []
    skipped: list[str] = []
    for shift in sorted(plan.shifts, key=lambda s: (s.start, s.extension)):
        if not in_week(shift):
            continue
        tz = zone(shift.timezone)
        try:
            copy = Shift(shift.extension, move(shift.start, tz), move(shift.end, tz), shift.timezone,
                         note=shift.note, kind=shift.kind)
        except RotaError:
            skipped.append(f"Shift of {shift.extension} {shift.describe()}: the clocks skip all of it in the "
                           "target week.")
            continue
        if (copy.extension, copy.start, copy.end) in taken:
            skipped.append(f"Shift of {copy.extension} {copy.describe()} is in the target week already.")
            continue
        taken.add((copy.extension, copy.start, copy.end))
        shifts.append(copy)

    week = (datetime.combine(source_monday, time(0), tzinfo=UTC) - timedelta(days=2),
            datetime.combine(source_monday, time(0), tzinfo=UTC) + timedelta(days=9))
    source_shifts = plan.expand(*week).shifts
    on_target = [*target.shifts, *shifts]
    taken_breaks = {(b.extension, b.start, b.end) for b in target.breaks}
    breaks: list[Break] = []
    for item in sorted(plan.breaks, key=lambda b: (b.start, b.extension)):
        found = around(item, source_shifts)
        if found is None or not in_week(found):
            continue  # not part of that week's schedule (outside any shift, or in one of another week)
        tz = zone(found.timezone)
        moved = Break(item.extension, move(item.start, tz), move(item.end, tz))
        local = f"{moved.start.astimezone(tz):%a %Y-%m-%d %H:%M} to {moved.end.astimezone(tz):%H:%M} {tz.key}"
        if (moved.extension, moved.start, moved.end) in taken_breaks:
            skipped.append(f"Break of {moved.extension} {local} is in the target week already.")
        elif around(moved, on_target) is None:
            skipped.append(f"Break of {moved.extension} {local}: the agent has no shift around it in the "
                           "target week.")
        else:
            breaks.append(moved)
    return CopiedWeek(tuple(shifts), tuple(breaks), tuple(skipped))


def expand(pattern: Pattern, from_date: date, days: int) -> list[Shift]:
    """The shifts of ``pattern`` starting on the ``days`` local dates from ``from_date`` on (holidays and
    swaps are the plan's business, see :meth:`RotaPlan.expand`)."""
    last = from_date + timedelta(days=days - 1)
    made = (template.shift(extension, day, pattern.timezone, note=template.name)
            for extension, day, template in pattern.assignments(from_date, last))
    return [shift for shift, _ in filter(None, made)]


def absence_for_days(extension: str, first: date, last: date, timezone: str, kind: str = "leave",
                     note: str = "") -> Absence:
    """An absence of the whole local days ``first`` to ``last`` (inclusive) in ``timezone``: leave or
    sickness as a supervisor enters it."""
    if last < first:
        raise RotaError(f"Absence of {extension} ends on {last}, before it starts on {first}.")
    tz = zone(timezone)
    start = datetime.combine(first, time(0, 0), tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), time(0, 0), tzinfo=tz)
    return Absence(extension, start, end, kind, note)
