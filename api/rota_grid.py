"""The supervisor's rota editor as the screen shows it: one week, one row per agent, one column per day of
the site's time zone (a plain read over the rota store, as ``cosmicpython`` reads for screens).

- Days are local days of the site: a week across a DST change is 167 or 169 hours long, and a night shift
  22:00-06:00 shows on both days it touches (marked as continuing into the next day, and continued from
  the one before).
- Every shift says where it comes from: a *one-off* shift (numbered, draggable to another day or agent:
  the console moves it with ``PUT /api/v1/shifts/{id}``, same local start time in the shift's own zone and
  same length; :attr:`Block.moves` holds those targets, computed here with ``zoneinfo`` so the browser needs
  no time-zone arithmetic), a *pattern's* shift (named by its template), or a *swap* (a shift handed to
  another agent). A pattern's shift does not move to another day (a pattern has no per-date exception in
  the domain: change the pattern); dropped on another agent's row the same day it is handed over with a
  swap, which the domain models exactly (``shifts.plan.Swap``).
- Absences and breaks are shown in the cells; the last row lists the coverage gaps of each day (nobody
  available); the Erlang C staffing check runs for a flat volume per 30 minutes, in local intervals.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shifts.coverage import Staffing, coverage
from shifts.document import pattern_to_spec
from shifts.plan import local_midnight
from shifts.rota import Shift, format_duration, zone
from shifts.staffing import Demand, IntervalStaffing, Targets, staffing_check

STEP = timedelta(minutes=30)
DASH = "\u2013"  # the en dash between two times
TARGETS = Targets(180, 0.8, 20, 0.3)
ABSENCE_LABELS = {"leave": "leave", "sickness": "sick", "training": "training", "other": "away"}


@dataclass
class Block:
    """One entry of a cell: a shift (or the part of it on that day), an absence or a break."""

    what: str  # shift, absence, break
    label: str  # what the cell says: "22:00-06:00", "leave (all day)", "break 10:00-10:30"
    kind: str = ""  # duty / on_call for a shift, the absence's kind
    source: str = ""  # one-off, pattern, swap (shifts only)
    id: int | None = None  # one-off shift, absence or one-off break
    note: str = ""
    continues: bool = False  # goes on past midnight into the next day
    continued: bool = False  # began on the day before
    data: dict[str, str] = field(default_factory=dict)  # data-* attributes the drag and drop reads


@dataclass
class Week:
    zone: str
    monday: date
    days: list[date]
    today: date
    agents: list[Any]
    grid: dict[str, dict[date, list[Block]]]
    gaps_by_day: dict[date, list[str]]
    gaps: list[str]
    staffing: list[IntervalStaffing] | None
    calls: float | None
    templates: list[Any]
    patterns: list[tuple[int | None, str]]
    start: datetime
    end: datetime

    def local(self, instant: datetime, fmt: str = "%a %H:%M") -> str:
        """``instant`` on the site's clock."""
        return instant.astimezone(zone(self.zone)).strftime(fmt)

    @property
    def previous(self) -> date:
        return self.monday - timedelta(days=7)

    @property
    def next(self) -> date:
        return self.monday + timedelta(days=7)


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _hhmm(instant: datetime, tz_name: str, day_end: datetime | None = None) -> str:
    if day_end is not None and instant == day_end:
        return "24:00"
    return instant.astimezone(zone(tz_name)).strftime("%H:%M")


def moves(shift: Shift, days: range = range(-7, 8)) -> dict[str, list[str]]:
    """Where a one-off shift lands when moved by ``n`` days: the same wall-clock start in its own zone (a
    start the clocks skip moves past the gap, a repeated one is the first, as templates do) and the same
    length; ISO 8601 with the UTC offset, as ``PUT /api/v1/shifts/{id}`` takes them."""
    tz = zone(shift.timezone)
    local = shift.start.astimezone(tz)
    result = {}
    for n in days:
        if n == 0:
            continue
        start = datetime.combine(local.date() + timedelta(days=n), local.time(), tzinfo=tz).astimezone(UTC)
        result[str(n)] = [start.astimezone(tz).isoformat(), (start + shift.length).astimezone(tz).isoformat()]
    return result


def _pattern_label(spec: dict[str, Any]) -> str:
    who = spec.get("agent") or ", ".join(spec.get("agents") or [])
    what = spec.get("template") or " / ".join(t or "off" for t in spec.get("cycle") or [])
    days = " ".join(spec.get("days") or [])
    valid = ""
    if spec.get("valid_from") or spec.get("valid_until"):
        valid = f", {spec.get('valid_from') or '…'} to {spec.get('valid_until') or '…'}"
    return f"{spec.get('kind')}: {who} {what} {days} ({spec.get('timezone')}{valid})".replace("  ", " ")


def rota_week(store: Any, monday: date, site_zone: str, today: date, calls_per_interval: float | None) -> Week:
    """The week of ``monday`` (a local date of ``site_zone``) as the editor shows it."""
    days = [monday + timedelta(days=i) for i in range(7)]
    bounds = [local_midnight(d, zone(site_zone)) for d in [*days, monday + timedelta(days=7)]]
    start, end = bounds[0], bounds[-1]
    rota = store.rota(start - timedelta(days=1), end + timedelta(days=1))
    agents = sorted(rota.agents.values(), key=lambda a: (a.name, a.extension))
    grid: dict[str, dict[date, list[Block]]] = {a.extension: {d: [] for d in days} for a in agents}
    swaps = {(s.start, s.to): s for s in store.list_swaps()}

    def cells(first: datetime, last: datetime) -> list[tuple[date, datetime, datetime]]:
        return [(d, bounds[i], bounds[i + 1]) for i, d in enumerate(days) if first < bounds[i + 1] and last > bounds[i]]

    for shift in sorted(rota.shifts, key=lambda s: s.start):
        if shift.extension not in grid:
            continue
        swap = swaps.get((shift.start, shift.extension))
        source = "swap" if swap is not None else ("one-off" if shift.id is not None else "pattern")
        data = {"agent": shift.extension, "source": source, "start": shift.start.isoformat()}
        if swap is not None:
            data |= {"swap-id": str(swap.id), "origin": swap.extension, "swap-note": swap.note}
        elif shift.id is not None:
            site = zone(site_zone)  # the shift form takes wall-clock times of the site
            data |= {"shift-id": str(shift.id), "timezone": shift.timezone, "kind": shift.kind,
                     "note": shift.note, "end": shift.end.isoformat(), "moves": json.dumps(moves(shift)),
                     "local-start": shift.start.astimezone(site).strftime("%Y-%m-%dT%H:%M"),
                     "local-end": shift.end.astimezone(site).strftime("%Y-%m-%dT%H:%M")}
        for day, day_start, day_end in cells(shift.start, shift.end):
            label = f"{_hhmm(shift.start, site_zone)}{DASH}{_hhmm(shift.end, site_zone)}"
            grid[shift.extension][day].append(Block(
                "shift", label, shift.kind, source, shift.id, shift.note,
                continues=shift.end > day_end, continued=shift.start < day_start, data=data | {"day": day.isoformat()}))

    for absence in rota.absences:
        if absence.extension not in grid:
            continue
        for day, day_start, day_end in cells(absence.start, absence.end):
            whole = absence.start <= day_start and absence.end >= day_end
            span = "all day" if whole else (f"{_hhmm(max(absence.start, day_start), site_zone)}{DASH}"
                                            f"{_hhmm(min(absence.end, day_end), site_zone, day_end)}")
            grid[absence.extension][day].append(Block(
                "absence", f"{ABSENCE_LABELS.get(absence.kind, absence.kind)} ({span})", absence.kind,
                id=absence.id, note=absence.note, continues=absence.end > day_end,
                continued=absence.start < day_start))

    for item in sorted(rota.breaks, key=lambda b: b.start):
        if item.extension not in grid:
            continue
        for day, _, day_end in cells(item.start, item.end):
            label = f"break {_hhmm(item.start, site_zone)}{DASH}{_hhmm(item.end, site_zone, day_end)}"
            grid[item.extension][day].append(Block("break", label, id=item.id))

    report = coverage(rota, start, end, Staffing(1, {}, {}))
    gaps_by_day: dict[date, list[str]] = {d: [] for d in days}
    gaps = []
    tz = zone(site_zone)
    for gap in report.gaps:
        gaps.append(f"Nobody is available from {gap.start.astimezone(tz):%a %Y-%m-%d %H:%M} to "
                    f"{gap.end.astimezone(tz):%a %Y-%m-%d %H:%M} {site_zone} ({format_duration(gap.end - gap.start)}).")
        for day, day_start, day_end in cells(gap.start, gap.end):
            gaps_by_day[day].append(f"{_hhmm(max(gap.start, day_start), site_zone)}{DASH}"
                                    f"{_hhmm(min(gap.end, day_end), site_zone, day_end)}")

    staffing = None
    if calls_per_interval is not None:
        count = int((end - start) / STEP)
        demand = [Demand(start + i * STEP, calls_per_interval) for i in range(count)]
        staffing = [row for row in staffing_check(rota, demand, STEP, TARGETS) if row.understaffed]

    patterns = [(p.id, _pattern_label(pattern_to_spec(p))) for p in store.list_patterns()]
    return Week(site_zone, monday, days, today, agents, grid, gaps_by_day, gaps, staffing, calls_per_interval,
                store.list_templates(), patterns, start, end)

