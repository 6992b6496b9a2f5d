"""The rota document: the YAML or JSON form a supervisor writes, read into domain objects.

Pure: takes an already-parsed mapping (``shifts.rotafile`` reads files) and ``now`` as an argument::

    agents:  [{extension: "1001", name: Alice, level: 1}]
    shifts:  [{agent: "1001", start: "2026-10-24T22:00", end: "2026-10-25T06:00", timezone: Europe/Paris}]
    weekly:  [{agent: "1001", days: [mon, tue], start: "22:00", end: "06:00", timezone: Europe/Paris}]

Every key is optional. ``level`` defaults to 1, ``note`` of a shift to "". A shift's ``start`` and ``end``
are ISO 8601; without a UTC offset they are wall-clock times in its ``timezone``. Weekly patterns are
expanded into concrete shifts covering at least ``days`` days from ``now`` (including a night shift that
began the day before and is still running). Errors are :class:`RotaError` naming the entry, e.g. ``shifts[2].start``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shifts.rota import Agent, RotaError, Shift, WeeklyPattern, expand, require_aware, zone

_SECTIONS = ("agents", "shifts", "weekly")


@dataclass(frozen=True)
class RotaDocument:
    """A document read into the domain: agents to upsert and the concrete shifts it defines."""

    agents: tuple[Agent, ...]
    shifts: tuple[Shift, ...]
    patterns: tuple[WeeklyPattern, ...]


def _text(entry: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str:
    value = entry.get(key)
    if value is None and not required:
        return ""
    if isinstance(value, int) and not isinstance(value, bool) and key in ("extension", "agent"):
        return str(value)
    if not isinstance(value, str):
        missing = "is missing" if value is None else f"must be a string, got {value!r}"
        raise RotaError(f"{where}.{key} {missing}.")
    return value


def _instant(entry: Mapping[str, Any], key: str, where: str) -> datetime:
    value = entry.get(key)
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        missing = "is missing" if value is None else f"must be an ISO 8601 date-time, got {value!r}"
        raise RotaError(f"{where}.{key} {missing}.")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise RotaError(f"{where}.{key} {value!r} is not an ISO 8601 date-time "
                        "such as 2026-10-24T22:00 or 2026-10-24T22:00+02:00.") from None


def _entries(document: Mapping[str, Any], section: str) -> list[tuple[str, Mapping[str, Any]]]:
    items = document.get(section) or []
    if not isinstance(items, Sequence) or isinstance(items, str):
        raise RotaError(f"{section} must be a list, got {items!r}.")
    entries = []
    for index, item in enumerate(items):
        where = f"{section}[{index}]"
        if not isinstance(item, Mapping):
            raise RotaError(f"{where} must be a mapping, got {item!r}.")
        entries.append((where, item))
    return entries


def _located(where: str, error: RotaError) -> RotaError:
    return RotaError(f"{where}: {error}")


def parse_document(document: Mapping[str, Any], now: datetime, days: int = 14) -> RotaDocument:
    """Read ``document`` into agents, shifts and expanded weekly patterns; shifts that ended by ``now``
    are dropped (they are history, not rota)."""
    require_aware(now, "The import time")
    if not isinstance(document, Mapping):
        raise RotaError(f"A rota document is a mapping with agents, shifts and weekly; got {document!r}.")
    unknown = sorted(set(document) - set(_SECTIONS))
    if unknown:
        raise RotaError(f"Unknown section {unknown[0]!r} in the rota document; "
                        f"sections are {', '.join(_SECTIONS)}.")

    agents = []
    for where, entry in _entries(document, "agents"):
        level = entry.get("level", 1)
        try:
            agents.append(Agent(_text(entry, "extension", where), _text(entry, "name", where), level))
        except RotaError as error:
            raise _located(where, error) from None

    shifts: list[Shift] = []
    for where, entry in _entries(document, "shifts"):
        try:
            shift = Shift.local(_text(entry, "agent", where), _instant(entry, "start", where),
                                _instant(entry, "end", where), _text(entry, "timezone", where),
                                note=_text(entry, "note", where, required=False))
        except RotaError as error:
            raise _located(where, error) from None
        if shift.end > now:
            shifts.append(shift)

    patterns = []
    for where, entry in _entries(document, "weekly"):
        try:
            pattern = WeeklyPattern(_text(entry, "agent", where), entry.get("days") or (),
                                    _text(entry, "start", where), _text(entry, "end", where),
                                    _text(entry, "timezone", where))
        except RotaError as error:
            raise _located(where, error) from None
        patterns.append(pattern)
        local_today = now.astimezone(zone(pattern.timezone)).date()
        # From yesterday (a night shift may still run) to the day ``days`` from now, inclusive.
        expanded = expand(pattern, local_today - timedelta(days=1), days + 2)
        shifts.extend(shift for shift in expanded if shift.end > now)

    return RotaDocument(tuple(agents), tuple(shifts), tuple(patterns))
