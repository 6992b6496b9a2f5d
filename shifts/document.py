"""The rota document: the YAML or JSON form a supervisor writes, read into domain objects.

Pure: takes an already-parsed mapping (``shifts.rotafile`` reads files) and ``now`` as an argument::

    agents:  [{extension: "1001", name: Alice, level: 1}]
    shifts:  [{agent: "1001", start: "2026-10-24T22:00", end: "2026-10-25T06:00", timezone: Europe/Paris}]
    weekly:  [{agent: "1001", days: [mon, tue], start: "22:00", end: "06:00", timezone: Europe/Paris}]

Every key is optional. ``level`` defaults to 1, ``skills`` to none, an agent's ``timezone`` to UTC,
``note`` of a shift to "". A shift's ``start`` and ``end`` are ISO 8601; without a UTC offset they are
wall-clock times in its ``timezone``. Weekly entries become weekly patterns (:mod:`shifts.plan`), kept as
patterns and expanded on demand. Errors are :class:`RotaError` naming the entry, e.g. ``shifts[2].start``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from shifts.plan import (
    BreakRule,
    OnCallRotation,
    Pattern,
    RotatingPattern,
    ShiftTemplate,
    WeeklyPattern,
    weekly,
)
from shifts.rota import Agent, RotaError, Shift, require_aware

_SECTIONS = ("agents", "shifts", "weekly")


@dataclass(frozen=True)
class RotaDocument:
    """A document read into the domain: agents to upsert, one-off shifts and weekly patterns."""

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


def parse_document(document: Mapping[str, Any], now: datetime) -> RotaDocument:
    """Read ``document`` into agents, shifts and weekly patterns; shifts that ended by ``now`` are dropped
    (they are history, not rota)."""
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
            agents.append(Agent(_text(entry, "extension", where), _text(entry, "name", where), level,
                                skills=entry.get("skills") or (),
                                timezone=_text(entry, "timezone", where, required=False) or "UTC"))
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

    patterns: list[WeeklyPattern] = []
    for where, entry in _entries(document, "weekly"):
        try:
            pattern = weekly(_text(entry, "agent", where), entry.get("days") or (),
                             _text(entry, "start", where), _text(entry, "end", where),
                             _text(entry, "timezone", where))
        except RotaError as error:
            raise _located(where, error) from None
        patterns.append(pattern)

    return RotaDocument(tuple(agents), tuple(shifts), tuple(patterns))


# --- templates and patterns as plain data (the store's JSON and the API's bodies) --------------------


def template_to_spec(template: ShiftTemplate) -> dict[str, Any]:
    return {"id": template.id, "name": template.name, "start": template.start, "end": template.end,
            "kind": template.kind,
            "breaks": [{"after_minutes": int(b.after.total_seconds() // 60),
                        "minutes": int(b.length.total_seconds() // 60)} for b in template.breaks]}


def template_from_spec(spec: Mapping[str, Any], id: int | None = None) -> ShiftTemplate:
    where = f"Template {spec.get('name')!r}"
    breaks = []
    for index, entry in enumerate(spec.get("breaks") or ()):
        after, minutes = entry.get("after_minutes"), entry.get("minutes")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (after, minutes)):
            raise RotaError(f"{where}: breaks[{index}] needs whole numbers after_minutes and minutes.")
        breaks.append(BreakRule(timedelta(minutes=after), timedelta(minutes=minutes)))
    return ShiftTemplate(_text(spec, "name", where), _text(spec, "start", where), _text(spec, "end", where),
                         tuple(breaks), kind=spec.get("kind") or "duty", id=id)


def _day(spec: Mapping[str, Any], key: str, where: str) -> date | None:
    value = spec.get(key)
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise RotaError(f"{where}: {key} {value!r} is not a date written YYYY-MM-DD.") from None


def _template(templates: Mapping[str, ShiftTemplate], name: object, where: str) -> ShiftTemplate:
    if not isinstance(name, str) or name not in templates:
        known = ", ".join(sorted(templates)) or "none defined"
        raise RotaError(f"{where} names template {name!r}, which does not exist (templates: {known}).")
    return templates[name]


def pattern_from_spec(spec: Mapping[str, Any], templates: Mapping[str, ShiftTemplate],
                      id: int | None = None) -> Pattern:
    """A pattern from its plain form; templates are named and looked up in ``templates``.

    ``{"kind": "weekly", "agent", "days", "template", "timezone", "valid_from"?, "valid_until"?,
    "skip_holidays"?}``; ``rotating`` has ``cycle`` (template names, null for a day off) and ``anchor``
    instead of ``days`` and ``template``; ``on_call`` has ``agents``, ``template``, ``anchor``,
    ``turn_days`` (7) and ``level`` (2).
    """
    kind = spec.get("kind")
    where = f"The {kind} pattern" if isinstance(kind, str) else "A pattern"
    common: dict[str, Any] = {"timezone": _text(spec, "timezone", where), "id": id,
                              "valid_from": _day(spec, "valid_from", where),
                              "valid_until": _day(spec, "valid_until", where),
                              "skip_holidays": bool(spec.get("skip_holidays", False))}
    if kind == "weekly":
        return WeeklyPattern(agent=_text(spec, "agent", where), days=spec.get("days") or (),
                             template=_template(templates, spec.get("template"), where), **common)
    anchor = _day(spec, "anchor", where)
    if anchor is None and kind in ("rotating", "on_call"):
        raise RotaError(f"{where} needs an anchor date (YYYY-MM-DD), the first day of its cycle.")
    if kind == "rotating":
        cycle = spec.get("cycle")
        if not isinstance(cycle, list):
            raise RotaError(f"{where} needs a cycle: a list of template names, null for a day off.")
        return RotatingPattern(agent=_text(spec, "agent", where), anchor=anchor,  # type: ignore[arg-type]
                               cycle=tuple(None if n is None else _template(templates, n, where) for n in cycle),
                               **common)
    if kind == "on_call":
        agents = spec.get("agents")
        if not isinstance(agents, list) or not all(isinstance(a, str) for a in agents):
            raise RotaError(f"{where} needs agents: a list of extensions taking turns.")
        return OnCallRotation(agents=tuple(agents), template=_template(templates, spec.get("template"), where),
                              anchor=anchor, turn_days=spec.get("turn_days", 7),  # type: ignore[arg-type]
                              level=spec.get("level", 2), **common)
    raise RotaError(f"A pattern has kind {kind!r}; kinds are weekly, rotating and on_call.")


def pattern_to_spec(pattern: Pattern) -> dict[str, Any]:
    common: dict[str, Any] = {"id": pattern.id, "timezone": pattern.timezone,
                              "valid_from": pattern.valid_from.isoformat() if pattern.valid_from else None,
                              "valid_until": pattern.valid_until.isoformat() if pattern.valid_until else None,
                              "skip_holidays": pattern.skip_holidays}
    if isinstance(pattern, WeeklyPattern):
        assert pattern.template is not None
        return {"kind": "weekly", "agent": pattern.agent, "days": list(pattern.days),
                "template": pattern.template.name, **common}
    if isinstance(pattern, RotatingPattern):
        return {"kind": "rotating", "agent": pattern.agent, "anchor": pattern.anchor.isoformat(),
                "cycle": [t.name if t is not None else None for t in pattern.cycle], **common}
    assert pattern.template is not None
    return {"kind": "on_call", "agents": list(pattern.agents), "template": pattern.template.name,
            "anchor": pattern.anchor.isoformat(), "turn_days": pattern.turn_days, "level": pattern.level, **common}
