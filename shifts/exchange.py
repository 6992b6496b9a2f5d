"""Rota in and out as iCalendar (RFC 5545) and CSV: the one module that imports ``icalendar``.

iCalendar: one VEVENT per shift and per absence, instants in UTC, the agent's extension in
``X-HOTLINE-AGENT``, the entry type in ``X-HOTLINE-TYPE`` (``shift`` or ``absence``) and its kind in
``CATEGORIES``. Events from other calendars need ``X-HOTLINE-AGENT``; an all-day event (a leave entered
in a mail calendar) is an absence (or shift) of whole days in the agent's time zone, as the API's
``first_day``/``last_day`` are (in UTC for an agent the reader is not told of).

CSV: a header ``type,agent,start,end,timezone,kind,note``; ``start``/``end`` are ISO 8601 (without an
offset, wall-clock times in ``timezone``). Errors name the row or event and the field.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import icalendar

from shifts.rota import Absence, Agent, RotaError, Shift, localize, zone

PRODID = "-//hotline//rota//EN"
CSV_FIELDS = ("type", "agent", "start", "end", "timezone", "kind", "note")


@dataclass(frozen=True)
class Entries:
    """What a file holds: one-off shifts and absences."""

    shifts: tuple[Shift, ...]
    absences: tuple[Absence, ...]


def to_ical(agents: Iterable[Agent], shifts: Iterable[Shift], absences: Iterable[Absence]) -> bytes:
    names = {agent.extension: agent.name for agent in agents}
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    stamp = datetime(2000, 1, 1, tzinfo=UTC)
    for shift in shifts:
        event = icalendar.Event()
        event.add("uid", f"shift-{shift.extension}-{shift.start:%Y%m%dT%H%M%SZ}@hotline")
        event.add("dtstamp", stamp)
        event.add("dtstart", shift.start)
        event.add("dtend", shift.end)
        event.add("summary", f"{names.get(shift.extension, shift.extension)} ({shift.extension}): {shift.kind}")
        event.add("categories", [shift.kind])
        event.add("x-hotline-agent", shift.extension)
        event.add("x-hotline-type", "shift")
        event.add("x-hotline-timezone", shift.timezone)
        if shift.note:
            event.add("description", shift.note)
        calendar.add_component(event)
    for absence in absences:
        event = icalendar.Event()
        event.add("uid", f"absence-{absence.extension}-{absence.start:%Y%m%dT%H%M%SZ}@hotline")
        event.add("dtstamp", stamp)
        event.add("dtstart", absence.start)
        event.add("dtend", absence.end)
        event.add("summary", f"{names.get(absence.extension, absence.extension)} ({absence.extension}): "
                             f"{absence.kind}")
        event.add("categories", [absence.kind])
        event.add("x-hotline-agent", absence.extension)
        event.add("x-hotline-type", "absence")
        if absence.note:
            event.add("description", absence.note)
        calendar.add_component(event)
    return bytes(calendar.to_ical())


def _instant(value: Any, where: str, field: str, days_in: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise RotaError(f"{where}: {field} {value.isoformat()} has no time zone; give it in UTC or with a TZID.")
        return value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, datetime.min.time(), tzinfo=days_in).astimezone(UTC)
    raise RotaError(f"{where}: {field} is missing.")


def _category(event: Any) -> str | None:
    categories = event.get("categories")
    if categories is None:
        return None
    if isinstance(categories, list):
        categories = categories[0]
    cats = getattr(categories, "cats", None)
    return str(cats[0]) if cats else None


def from_ical(data: bytes, timezones: Mapping[str, str] | None = None) -> Entries:
    """The shifts and absences of an iCalendar file; :class:`RotaError` naming the event if one is bad.
    ``timezones`` gives the agents' zones (by extension), in which all-day events are whole days."""
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except ValueError as error:
        raise RotaError(f"The file is not valid iCalendar: {error}") from None
    shifts: list[Shift] = []
    absences: list[Absence] = []
    for index, event in enumerate(calendar.walk("VEVENT")):
        where = f"Event {index + 1} ({event.get('summary') or event.get('uid') or 'untitled'})"
        agent = event.get("x-hotline-agent")
        if agent is None:
            raise RotaError(f"{where} has no X-HOTLINE-AGENT property naming the agent's extension.")
        try:
            days_in = zone((timezones or {}).get(str(agent), "UTC"))
        except RotaError as error:
            raise RotaError(f"{where}: {error}") from None
        start = _instant(event.decoded("dtstart", None), where, "DTSTART", days_in)
        raw_end = event.decoded("dtend", None)
        if raw_end is None and event.get("duration") is not None:
            end = start + event.decoded("duration")
        else:
            end = _instant(raw_end, where, "DTEND", days_in)
        kind = _category(event)
        note = str(event.get("description") or "")
        try:
            if str(event.get("x-hotline-type", "shift")).lower() == "absence":
                absences.append(Absence(str(agent), start, end, kind or "leave", note))
            else:
                timezone = str(event.get("x-hotline-timezone") or "UTC")
                shifts.append(Shift(str(agent), start, end, timezone, note=note, kind=kind or "duty"))
        except RotaError as error:
            raise RotaError(f"{where}: {error}") from None
    return Entries(tuple(shifts), tuple(absences))


def to_csv(shifts: Iterable[Shift], absences: Iterable[Absence]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for s in shifts:
        writer.writerow(("shift", s.extension, s.start.isoformat(), s.end.isoformat(), s.timezone, s.kind, s.note))
    for a in absences:
        writer.writerow(("absence", a.extension, a.start.isoformat(), a.end.isoformat(), "UTC", a.kind, a.note))
    return out.getvalue()


def from_csv(text: str) -> Entries:
    """The shifts and absences of a CSV file written as :func:`to_csv` writes it."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [f for f in ("agent", "start", "end") if f not in (reader.fieldnames or ())]
    if missing:
        raise RotaError(f"The CSV header lacks the column {missing[0]!r}; columns are {', '.join(CSV_FIELDS)}.")
    shifts: list[Shift] = []
    absences: list[Absence] = []
    for number, row in enumerate(reader, start=2):
        where = f"CSV line {number}"
        try:
            timezone = row.get("timezone") or "UTC"
            tz = zone(timezone)
            start, end = (_parse(row.get(f) or "", f) for f in ("start", "end"))
            kind, note, agent = row.get("kind") or "", row.get("note") or "", row.get("agent") or ""
            if (row.get("type") or "shift") == "absence":
                absences.append(Absence(agent, localize(start, tz), localize(end, tz), kind or "leave", note))
            elif (row.get("type") or "shift") == "shift":
                shifts.append(Shift.local(agent, start, end, timezone, note=note, kind=kind or "duty"))
            else:
                raise RotaError(f"type {row.get('type')!r} is neither shift nor absence.")
        except RotaError as error:
            raise RotaError(f"{where}: {error}") from None
    return Entries(tuple(shifts), tuple(absences))


def _parse(value: str, field: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise RotaError(f"{field} {value!r} is not an ISO 8601 date-time such as 2026-10-24T22:00.") from None

