"""RotaStore: the rota plan in the database, every edit validated in the domain and audited.

Each method runs in its own transaction on its own connection, so one store can be shared by threads.
An edit is applied inside its transaction, the plan re-read and checked (:mod:`shifts.plan` refuses what
cannot be expanded, :mod:`shifts.rules` finds rule breaks over the next ``check_days``); if the edit adds
a finding of severity ``error`` it is rolled back and :class:`~shifts.rules.RuleViolation` says why.
Every edit writes one ``rota_audit`` row: actor, action, before and after.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Row, Table, delete, func, insert, select, update

from shifts import orm
from shifts.document import (
    parse_document,
    pattern_from_spec,
    pattern_to_spec,
    template_from_spec,
    template_to_spec,
)
from shifts.plan import CopiedWeek, Holiday, Pattern, RotaPlan, ShiftTemplate, Swap, copy_week
from shifts.rota import Absence, Agent, Break, Rota, RotaError, Shift, require_aware
from shifts.rotafile import read_rota_file
from shifts.rules import Finding, Rules, RuleViolation, Severity, check, errors


class NotFoundError(LookupError):
    """No rota entry has the given id or name."""


class ShiftNotFoundError(NotFoundError):
    """No shift has the given id."""


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    before: Any
    after: Any


@dataclass(frozen=True)
class ImportSummary:
    """What an import did: agents upserted, shifts written, future shifts it replaced, patterns set."""

    agents: int
    shifts: int
    replaced: int
    patterns: int = 0


_T = TypeVar("_T")
# A swap names a shift by its start; the shift it moves lies within this of that start.
_SWAPPED_SHIFT = timedelta(days=1)


def utc_now() -> datetime:
    return datetime.now(UTC)


def agent_json(agent: Agent) -> dict[str, Any]:
    return {"extension": agent.extension, "name": agent.name, "level": agent.level,
            "skills": list(agent.skills), "timezone": agent.timezone}


def shift_json(shift: Shift) -> dict[str, Any]:
    return {"id": shift.id, "agent": shift.extension, "start": shift.start.isoformat(),
            "end": shift.end.isoformat(), "timezone": shift.timezone, "note": shift.note, "kind": shift.kind}


def absence_json(absence: Absence) -> dict[str, Any]:
    return {"id": absence.id, "agent": absence.extension, "start": absence.start.isoformat(),
            "end": absence.end.isoformat(), "kind": absence.kind, "note": absence.note}


def break_json(item: Break) -> dict[str, Any]:
    return {"id": item.id, "agent": item.extension, "start": item.start.isoformat(), "end": item.end.isoformat()}


def holiday_json(holiday: Holiday) -> dict[str, Any]:
    return {"id": holiday.id, "day": holiday.day.isoformat(), "name": holiday.name}


def swap_json(swap: Swap) -> dict[str, Any]:
    return {"id": swap.id, "agent": swap.extension, "start": swap.start.isoformat(), "to": swap.to,
            "note": swap.note}


def _union(a: Shift | Absence | Break, b: Shift | Absence | Break) -> tuple[datetime, datetime]:
    """The span from the earlier start to the later end of an entry before and after an edit."""
    return min(a.start, b.start), max(a.end, b.end)


def _days_span(first: date, last: date) -> tuple[datetime, datetime]:
    """The UTC instants of local dates ``first`` to ``last`` in any time zone (UTC-12 to UTC+14 and a
    night shift starting the day before)."""
    return (datetime.combine(first, datetime.min.time(), tzinfo=UTC) - timedelta(days=1),
            datetime.combine(last, datetime.min.time(), tzinfo=UTC) + timedelta(days=2))


def _agent(row: Any) -> Agent:
    return Agent(row.extension, row.name, row.level, skills=tuple(row.skills or ()), timezone=row.timezone)


def _shift(row: Any) -> Shift:
    return Shift(row.extension, row.start_utc, row.end_utc, row.timezone, id=row.id, note=row.note, kind=row.kind)


_SHIFT_COLUMNS = (orm.shifts.c.id, orm.agents.c.extension, orm.shifts.c.start_utc, orm.shifts.c.end_utc,
                  orm.shifts.c.timezone, orm.shifts.c.note, orm.shifts.c.kind)


DEFAULT_RULES = Rules()
_EDIT_WARNINGS: ContextVar[list[Finding] | None] = ContextVar("rota_edit_warnings", default=None)


class RotaStore:
    """The rota in the database. ``clock`` gives "now" where a caller does not; ``rules`` are the rules
    edits are checked against over the ``check_days`` from now (and over the edited entry's own span)."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = utc_now, rules: Rules = DEFAULT_RULES,
                 check_days: int = 28) -> None:
        self._engine = engine
        self._clock = clock
        self.rules = rules
        self.check_days = check_days
        self._write_lock = threading.Lock()  # edits validate-then-write; one at a time in this process

    def now(self) -> datetime:
        return require_aware(self._clock(), "The store's clock returned")

    # --- reading the plan --------------------------------------------------------------------------

    def plan(self, start: datetime | None = None, end: datetime | None = None) -> RotaPlan:
        """Everything defined; one-off entries limited to those overlapping ``[start, end]`` when given."""
        with self._engine.connect() as conn:
            return self._plan(conn, start, end)

    def rota(self, start: datetime, end: datetime) -> Rota:
        """The concrete rota of ``[start, end]``: for routing, coverage and the scheduler."""
        require_aware(start, "The start of the period")
        require_aware(end, "The end of the period")
        return self.plan(start, end).expand(start, end)

    def on_shift(self, now: datetime | None = None) -> list[Agent]:
        """The agents on shift at ``now`` (default: the store's clock), by extension."""
        now = self.now() if now is None else require_aware(now, "The instant")
        rota = self.rota(now - timedelta(days=1), now + timedelta(days=1))
        return [rota.agents[extension] for extension in sorted(rota.on_shift(now))]

    def validate(self, start: datetime, end: datetime) -> list[Finding]:
        return check(self.rota(start - timedelta(days=1), end + timedelta(days=1)), self.rules, start=start, end=end)

    def _plan(self, conn: Connection, start: datetime | None, end: datetime | None) -> RotaPlan:
        agents = tuple(_agent(row) for row in conn.execute(select(orm.agents).order_by(orm.agents.c.extension)))
        templates = self._templates(conn)
        patterns = tuple(pattern_from_spec(row.spec, templates, row.id)
                         for row in conn.execute(select(orm.rota_patterns).order_by(orm.rota_patterns.c.id)))
        return RotaPlan(
            agents, patterns, tuple(self._shifts(conn, start, end)),
            absences=tuple(self._absences(conn, start, end)),
            holidays=tuple(Holiday(r.day, r.name, r.id) for r in conn.execute(select(orm.holidays))),
            swaps=tuple(self._swaps(conn)),
            breaks=tuple(self._breaks(conn, start, end)))

    # --- agents ------------------------------------------------------------------------------------

    def upsert_agent(self, agent: Agent, actor: str) -> Agent:
        """Add ``agent``, or update the one with its extension (name, level, skills, timezone)."""
        def apply(conn: Connection) -> tuple[Any, Any, None]:
            before = self._agent_row(conn, agent.extension, lock=True)
            self._upsert(conn, agent, before)
            return (agent_json(_agent(before)) if before else None), agent_json(agent), None
        self._edit("upsert_agent", actor, apply)
        return agent

    def delete_agent(self, extension: str, actor: str) -> Agent:
        """Remove an agent with their shifts, absences, breaks and swaps; refused while a pattern names them."""
        def apply(conn: Connection) -> tuple[Any, Any, None]:
            row = self._agent_row(conn, extension, lock=True)
            if row is None:
                raise NotFoundError(f"There is no agent with extension {extension!r}.")
            naming = [r.id for r in conn.execute(select(orm.rota_patterns).order_by(orm.rota_patterns.c.id))
                      if extension == r.spec.get("agent") or extension in (r.spec.get("agents") or ())]
            if naming:
                listed = ", ".join(str(i) for i in naming)
                plural = len(naming) > 1
                raise RotaError(f"Agent {extension} is named by pattern{'s' if plural else ''} {listed}; change or "
                                f"delete {'them' if plural else 'it'} first.")
            conn.execute(delete(orm.agents).where(orm.agents.c.id == row.id))
            return agent_json(_agent(row)), None, None
        before, _ = self._edit("delete_agent", actor, apply)
        return Agent(before["extension"], before["name"], before["level"], tuple(before["skills"]),
                     before["timezone"])

    def list_agents(self) -> list[Agent]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(orm.agents).order_by(orm.agents.c.extension))
            return [_agent(row) for row in rows]

    def get_agent(self, extension: str) -> Agent | None:
        with self._engine.connect() as conn:
            row = self._agent_row(conn, extension)
            return _agent(row) if row is not None else None

    # --- templates and patterns --------------------------------------------------------------------

    def list_templates(self) -> list[ShiftTemplate]:
        with self._engine.connect() as conn:
            return sorted(self._templates(conn).values(), key=lambda t: t.name)

    def save_template(self, template: ShiftTemplate, actor: str) -> ShiftTemplate:
        """Add a template, or replace the one with ``template.id`` (patterns using it follow the change)."""
        values = {"name": template.name, "start": template.start, "end": template.end, "kind": template.kind,
                  "breaks": template_to_spec(template)["breaks"]}

        def apply(conn: Connection) -> tuple[Any, Any, tuple[datetime, datetime] | None]:
            clash = conn.execute(select(orm.shift_templates.c.id).where(
                orm.shift_templates.c.name == template.name)).first()
            if clash is not None and clash.id != template.id:
                raise RotaError(f"A template called {template.name!r} exists already (id {clash.id}).")
            if template.id is None:
                result = conn.execute(insert(orm.shift_templates).values(**values))
                new_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
                return None, template_to_spec(template) | {"id": new_id}, None
            before = self._row(conn, orm.shift_templates, template.id, "template")
            old_name = before.name
            conn.execute(update(orm.shift_templates).where(orm.shift_templates.c.id == template.id).values(**values))
            if old_name != template.name:
                self._rename_template(conn, old_name, template.name)
            return (template_to_spec(template_from_spec(dict(before._mapping), before.id)),
                    template_to_spec(template) | {"id": template.id}, self._first_days_of_users(conn, template.name))
        _, after = self._edit("save_template", actor, apply)
        return template_from_spec(after, after["id"])

    def delete_template(self, template_id: int, actor: str) -> ShiftTemplate:
        def apply(conn: Connection) -> tuple[Any, Any, None]:
            row = self._row(conn, orm.shift_templates, template_id, "template")
            conn.execute(delete(orm.shift_templates).where(orm.shift_templates.c.id == template_id))
            return template_to_spec(template_from_spec(dict(row._mapping), row.id)), None, None
        before, _ = self._edit("delete_template", actor, apply)
        return template_from_spec(before, before["id"])

    def list_patterns(self) -> list[Pattern]:
        with self._engine.connect() as conn:
            templates = self._templates(conn)
            return [pattern_from_spec(row.spec, templates, row.id)
                    for row in conn.execute(select(orm.rota_patterns).order_by(orm.rota_patterns.c.id))]

    def save_pattern(self, spec: Mapping[str, Any], actor: str, pattern_id: int | None = None) -> Pattern:
        """Add a pattern from its plain form (:func:`shifts.document.pattern_from_spec`), or replace the one
        with ``pattern_id``. A pattern that starts after the checked window is checked over its first
        ``check_days``."""
        def apply(conn: Connection) -> tuple[Any, Any, tuple[datetime, datetime] | None]:
            pattern = pattern_from_spec(spec, self._templates(conn))
            stored = {k: v for k, v in pattern_to_spec(pattern).items() if k != "id"}
            first = pattern.valid_from
            span = _days_span(first, first + timedelta(days=self.check_days)) if first is not None else None
            if pattern_id is None:
                result = conn.execute(insert(orm.rota_patterns).values(kind=stored["kind"], spec=stored))
                new_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
                return None, stored | {"id": new_id}, span
            before = self._row(conn, orm.rota_patterns, pattern_id, "pattern")
            conn.execute(update(orm.rota_patterns).where(orm.rota_patterns.c.id == pattern_id)
                         .values(kind=stored["kind"], spec=stored))
            return dict(before.spec) | {"id": pattern_id}, stored | {"id": pattern_id}, span
        _, after = self._edit("save_pattern", actor, apply)
        with self._engine.connect() as conn:
            return pattern_from_spec(after, self._templates(conn), after["id"])

    def delete_pattern(self, pattern_id: int, actor: str) -> dict[str, Any]:
        def apply(conn: Connection) -> tuple[Any, Any, None]:
            row = self._row(conn, orm.rota_patterns, pattern_id, "pattern")
            conn.execute(delete(orm.rota_patterns).where(orm.rota_patterns.c.id == pattern_id))
            return dict(row.spec) | {"id": pattern_id}, None, None
        before, _ = self._edit("delete_pattern", actor, apply)
        return dict(before)

    # --- one-off shifts ----------------------------------------------------------------------------

    def add_shift(self, shift: Shift, actor: str) -> Shift:
        """Store ``shift`` and return it with its id; :class:`RotaError` if the agent is unknown,
        :class:`RuleViolation` if it breaks an error rule (too long, overlapping another shift)."""
        return self.add_shifts([shift], actor, action="add_shift")[0]

    def add_shifts(self, shifts: list[Shift], actor: str, action: str = "add_shifts") -> list[Shift]:
        return self.add_entries(shifts, [], actor, action)[0]

    def add_entries(self, shifts: list[Shift], absences: list[Absence], actor: str,
                    action: str = "import_entries") -> tuple[list[Shift], list[Absence]]:
        """Add one-off shifts and absences in one edit, all or nothing."""
        stored: list[Shift] = []
        stored_absences: list[Absence] = []

        def apply(conn: Connection) -> tuple[Any, Any, tuple[datetime, datetime] | None]:
            stored.clear()
            stored_absences.clear()
            ids = self._agent_ids(conn)
            entries: list[Shift | Absence] = [*shifts, *absences]
            for entry in entries:
                if entry.extension not in ids:
                    raise RotaError(f"{type(entry).__name__} from {entry.start.isoformat()} to {entry.end.isoformat()} "
                                    f"is for agent {entry.extension}, who is not in the rota.")
            stored.extend(self._insert_shifts(conn, ids, shifts))
            for absence in absences:
                result = conn.execute(insert(orm.absences).values(
                    agent_id=ids[absence.extension], start_utc=absence.start, end_utc=absence.end, kind=absence.kind,
                    note=absence.note))
                new_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
                stored_absences.append(Absence(absence.extension, absence.start, absence.end, absence.kind,
                                               absence.note, new_id))
            spans = [(e.start, e.end) for e in entries]
            span = (min(a for a, _ in spans), max(b for _, b in spans)) if spans else None
            after: Any = (shift_json(stored[0]) if len(stored) == 1 and not absences
                          else {"shifts": [shift_json(s) for s in stored],
                                "absences": [absence_json(a) for a in stored_absences]})
            return None, after, span
        self._edit(action, actor, apply)
        return stored, stored_absences

    def delete_shift(self, shift_id: int, actor: str) -> Shift:
        """Remove the shift with ``shift_id`` and return it; :class:`ShiftNotFoundError` if there is none."""
        def apply(conn: Connection) -> tuple[Any, Any, None]:
            row = conn.execute(select(*_SHIFT_COLUMNS).join(orm.agents).where(orm.shifts.c.id == shift_id)).first()
            if row is None:
                raise ShiftNotFoundError(f"There is no shift with id {shift_id}.")
            conn.execute(delete(orm.shifts).where(orm.shifts.c.id == shift_id))
            return shift_json(_shift(row)), None, None
        before, _ = self._edit("delete_shift", actor, apply)
        return Shift(before["agent"], datetime.fromisoformat(before["start"]), datetime.fromisoformat(before["end"]),
                     before["timezone"], id=before["id"], note=before["note"], kind=before["kind"])

    def update_shift(self, shift_id: int, shift: Shift, actor: str) -> Shift:
        """Replace the shift with ``shift_id`` by ``shift`` (agent, times, zone, kind, note), same id."""
        def apply(conn: Connection) -> tuple[Any, Any, tuple[datetime, datetime]]:
            row = conn.execute(select(*_SHIFT_COLUMNS).join(orm.agents).where(orm.shifts.c.id == shift_id)).first()
            if row is None:
                raise ShiftNotFoundError(f"There is no shift with id {shift_id}.")
            before = _shift(row)
            conn.execute(update(orm.shifts).where(orm.shifts.c.id == shift_id).values(
                agent_id=self._agent_id(conn, shift.extension), start_utc=shift.start, end_utc=shift.end,
                timezone=shift.timezone, note=shift.note, kind=shift.kind))
            return shift_json(before), shift_json(shift) | {"id": shift_id}, _union(before, shift)
        self._edit("update_shift", actor, apply)
        return Shift(shift.extension, shift.start, shift.end, shift.timezone, id=shift_id, note=shift.note,
                     kind=shift.kind)

    def list_shifts(self, start: datetime, end: datetime) -> list[Shift]:
        """The one-off shifts that overlap ``[start, end)``, by start time."""
        require_aware(start, "The start of the period")
        require_aware(end, "The end of the period")
        with self._engine.connect() as conn:
            return [s for s in self._shifts(conn, start, end) if s.end > start and s.start < end]

    def copy_week(self, source_monday: date, target_monday: date, actor: str) -> CopiedWeek:
        """Copy the hand-made schedule of a week (one-off shifts and breaks) onto another week, as
        :func:`shifts.plan.copy_week` says; one edit, all or nothing. Returns what was stored (with ids)."""
        stored: list[CopiedWeek] = []

        def week(monday: date) -> tuple[datetime, datetime]:
            # A local week lies within UTC-12..UTC+14 of its UTC dates; a night or 24 h shift runs over.
            midnight = datetime.combine(monday, datetime.min.time(), tzinfo=UTC)
            return midnight - timedelta(days=2), midnight + timedelta(days=9)

        def apply(conn: Connection) -> tuple[Any, Any, tuple[datetime, datetime] | None]:
            target_span = week(target_monday)
            target = self._plan(conn, *target_span).expand(*target_span)
            copied = copy_week(self._plan(conn, *week(source_monday)), source_monday, target_monday, target)
            ids = self._agent_ids(conn)
            shifts = self._insert_shifts(conn, ids, copied.shifts)
            breaks = []
            for item in copied.breaks:
                result = conn.execute(insert(orm.breaks).values(agent_id=ids[item.extension], start_utc=item.start,
                                                                end_utc=item.end))
                assert result.inserted_primary_key is not None
                breaks.append(Break(item.extension, item.start, item.end, result.inserted_primary_key[0]))
            stored[:] = [CopiedWeek(tuple(shifts), tuple(breaks), copied.skipped)]
            after = {"source_monday": source_monday.isoformat(), "target_monday": target_monday.isoformat(),
                     "shifts": [shift_json(s) for s in shifts], "breaks": [break_json(b) for b in breaks],
                     "skipped": list(copied.skipped)}
            return None, after, target_span
        self._edit("copy_week", actor, apply)
        return stored[0]

    # --- absences, breaks, holidays, swaps ---------------------------------------------------------

    def add_absence(self, absence: Absence, actor: str) -> Absence:
        def apply(conn: Connection) -> tuple[Any, Any, tuple[datetime, datetime]]:
            agent_id = self._agent_id(conn, absence.extension)
            result = conn.execute(insert(orm.absences).values(
                agent_id=agent_id, start_utc=absence.start, end_utc=absence.end, kind=absence.kind,
                note=absence.note))
            new_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
            return None, absence_json(absence) | {"id": new_id}, (absence.start, absence.end)
        _, after = self._edit("add_absence", actor, apply)
        return Absence(absence.extension, absence.start, absence.end, absence.kind, absence.note, after["id"])

    def update_absence(self, absence_id: int, absence: Absence, actor: str) -> Absence:
        """Replace the absence with ``absence_id`` (to end a sickness early, extend leave...), same id."""
        def apply(conn: Connection) -> tuple[Any, Any, tuple[datetime, datetime]]:
            before = self._one(self._absences(conn, None, None, entry_id=absence_id), "absence", absence_id)
            conn.execute(update(orm.absences).where(orm.absences.c.id == absence_id).values(
                agent_id=self._agent_id(conn, absence.extension), start_utc=absence.start, end_utc=absence.end,
                kind=absence.kind, note=absence.note))
            return absence_json(before), absence_json(absence) | {"id": absence_id}, _union(before, absence)
        self._edit("update_absence", actor, apply)
        return Absence(absence.extension, absence.start, absence.end, absence.kind, absence.note, absence_id)

    def add_break(self, item: Break, actor: str) -> Break:
        def apply(conn: Connection) -> tuple[Any, Any, tuple[datetime, datetime]]:
            agent_id = self._agent_id(conn, item.extension)
            result = conn.execute(insert(orm.breaks).values(agent_id=agent_id, start_utc=item.start,
                                                            end_utc=item.end))
            new_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
            return None, break_json(item) | {"id": new_id}, (item.start, item.end)
        _, after = self._edit("add_break", actor, apply)
        return Break(item.extension, item.start, item.end, after["id"])

    def update_break(self, break_id: int, item: Break, actor: str) -> Break:
        """Replace the break with ``break_id`` (move it, lengthen it, give it to another agent), same id."""
        def apply(conn: Connection) -> tuple[Any, Any, tuple[datetime, datetime]]:
            before = self._one(self._spans(conn, orm.breaks, None, None, entry_id=break_id), "break", break_id)
            conn.execute(update(orm.breaks).where(orm.breaks.c.id == break_id).values(
                agent_id=self._agent_id(conn, item.extension), start_utc=item.start, end_utc=item.end))
            old = Break(before.extension, before.start_utc, before.end_utc, break_id)
            return break_json(old), break_json(item) | {"id": break_id}, _union(old, item)
        self._edit("update_break", actor, apply)
        return Break(item.extension, item.start, item.end, break_id)

    def add_holiday(self, holiday: Holiday, actor: str) -> Holiday:
        def apply(conn: Connection) -> tuple[Any, Any, None]:
            if conn.execute(select(orm.holidays.c.id).where(orm.holidays.c.day == holiday.day)).first():
                raise RotaError(f"{holiday.day} is already a holiday.")
            result = conn.execute(insert(orm.holidays).values(day=holiday.day, name=holiday.name))
            new_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
            return None, holiday_json(holiday) | {"id": new_id}, None
        _, after = self._edit("add_holiday", actor, apply)
        return Holiday(holiday.day, holiday.name, after["id"])

    def update_holiday(self, holiday_id: int, holiday: Holiday, actor: str) -> Holiday:
        """Replace the holiday with ``holiday_id`` (another day or name), same id. Shifts skipped on the
        old day come back and are checked like any edit."""
        def apply(conn: Connection) -> tuple[Any, Any, tuple[datetime, datetime]]:
            row = self._row(conn, orm.holidays, holiday_id, "holiday")
            clash = conn.execute(select(orm.holidays.c.id).where(orm.holidays.c.day == holiday.day)).first()
            if clash is not None and clash.id != holiday_id:
                raise RotaError(f"{holiday.day} is already a holiday (id {clash.id}).")
            conn.execute(update(orm.holidays).where(orm.holidays.c.id == holiday_id).values(
                day=holiday.day, name=holiday.name))
            old = Holiday(row.day, row.name, holiday_id)
            first, last = sorted((old.day, holiday.day))
            return holiday_json(old), holiday_json(holiday) | {"id": holiday_id}, _days_span(first, last)
        self._edit("update_holiday", actor, apply)
        return Holiday(holiday.day, holiday.name, holiday_id)

    def add_swap(self, swap: Swap, actor: str) -> Swap:
        def apply(conn: Connection) -> tuple[Any, Any, tuple[datetime, datetime]]:
            result = conn.execute(insert(orm.swaps).values(
                agent_id=self._agent_id(conn, swap.extension), to_agent_id=self._agent_id(conn, swap.to),
                start_utc=swap.start, note=swap.note))
            new_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
            return None, swap_json(swap) | {"id": new_id}, (swap.start, swap.start + _SWAPPED_SHIFT)
        _, after = self._edit("add_swap", actor, apply)
        return Swap(swap.extension, swap.start, swap.to, swap.note, after["id"])

    def update_swap(self, swap_id: int, swap: Swap, actor: str) -> Swap:
        """Replace the swap with ``swap_id`` (another shift, another agent taking it, a new note), same id."""
        def apply(conn: Connection) -> tuple[Any, Any, tuple[datetime, datetime]]:
            before = self._one([s for s in self._swaps(conn) if s.id == swap_id], "swap", swap_id)
            conn.execute(update(orm.swaps).where(orm.swaps.c.id == swap_id).values(
                agent_id=self._agent_id(conn, swap.extension), to_agent_id=self._agent_id(conn, swap.to),
                start_utc=swap.start, note=swap.note))
            first, last = sorted((before.start, swap.start))
            return swap_json(before), swap_json(swap) | {"id": swap_id}, (first, last + _SWAPPED_SHIFT)
        self._edit("update_swap", actor, apply)
        return Swap(swap.extension, swap.start, swap.to, swap.note, swap_id)

    def list_absences(self, start: datetime, end: datetime) -> list[Absence]:
        with self._engine.connect() as conn:
            return self._absences(conn, start, end)

    def list_breaks(self, start: datetime, end: datetime) -> list[Break]:
        with self._engine.connect() as conn:
            return self._breaks(conn, start, end)

    def list_holidays(self) -> list[Holiday]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(orm.holidays).order_by(orm.holidays.c.day))
            return [Holiday(r.day, r.name, r.id) for r in rows]

    def list_swaps(self) -> list[Swap]:
        with self._engine.connect() as conn:
            return self._swaps(conn)

    def delete_entry(self, kind: str, entry_id: int, actor: str) -> Any:
        """Remove an absence, break, holiday or swap by id; the audit keeps what it was."""
        tables = {"absence": orm.absences, "break": orm.breaks, "holiday": orm.holidays, "swap": orm.swaps}
        if kind not in tables:
            raise NotFoundError(f"There is no kind of rota entry called {kind!r}.")
        table = tables[kind]

        def apply(conn: Connection) -> tuple[Any, Any, tuple[datetime, datetime] | None]:
            row = self._row(conn, table, entry_id, kind)
            conn.execute(delete(table).where(table.c.id == entry_id))
            # Removing a holiday or a swap brings shifts back, to be checked where they are.
            span = (_days_span(row.day, row.day) if kind == "holiday"
                    else (row.start_utc, row.start_utc + _SWAPPED_SHIFT) if kind == "swap" else None)
            return ({k: (v.isoformat() if isinstance(v, (date, datetime)) else v) for k, v in row._mapping.items()},
                    None, span)
        before, _ = self._edit(f"delete_{kind}", actor, apply)
        return before

    # --- documents ---------------------------------------------------------------------------------

    def import_rota(self, document: Mapping[str, Any], actor: str,
                    now: datetime | None = None) -> ImportSummary:
        """Apply a rota document (see :mod:`shifts.document`) all or nothing.

        Its agents are added or updated (agents it does not name are kept). From ``now`` on the document
        is the whole rota: one-off shifts that have not ended by ``now`` are replaced by the document's,
        and its weekly entries replace every pattern (templates named ``HH:MM-HH:MM`` are made as needed).
        """
        now = self.now() if now is None else require_aware(now, "The import time")
        parsed = parse_document(document, now)
        counts: dict[str, int] = {}

        def apply(conn: Connection) -> tuple[Any, Any, None]:
            existing = {row.extension: row for row in conn.execute(select(orm.agents))}
            replaced = [s for s in self._shifts(conn, now, None) if s.end > now]
            old_patterns = [dict(r.spec) for r in conn.execute(select(orm.rota_patterns))]
            changed_before = [agent_json(_agent(existing[a.extension])) for a in parsed.agents
                              if a.extension in existing]
            for agent in parsed.agents:
                self._upsert(conn, agent, existing.get(agent.extension))
            ids = self._agent_ids(conn)
            for shift in parsed.shifts:
                if shift.extension not in ids:
                    raise RotaError(f"Shift {shift.describe()} is for agent {shift.extension}, "
                                    "who is not in the rota.")
            conn.execute(delete(orm.shifts).where(orm.shifts.c.end_utc > now))
            stored = self._insert_shifts(conn, ids, sorted(parsed.shifts, key=lambda s: (s.start, s.extension)))
            conn.execute(delete(orm.rota_patterns))
            templates = self._templates(conn)
            specs = []
            for pattern in parsed.patterns:
                assert pattern.template is not None
                if pattern.template.name not in templates:
                    conn.execute(insert(orm.shift_templates).values(
                        name=pattern.template.name, start=pattern.template.start, end=pattern.template.end,
                        kind="duty", breaks=[]))
                    templates[pattern.template.name] = pattern.template
                spec = {k: v for k, v in pattern_to_spec(pattern).items() if k != "id"}
                conn.execute(insert(orm.rota_patterns).values(kind="weekly", spec=spec))
                specs.append(spec)
            counts.update(agents=len(parsed.agents), shifts=len(stored), replaced=len(replaced),
                          patterns=len(specs))
            return ({"agents": changed_before, "shifts": [shift_json(s) for s in replaced], "patterns": old_patterns},
                    {"agents": [agent_json(a) for a in parsed.agents], "shifts": [shift_json(s) for s in stored],
                     "patterns": specs}, None)
        self._edit("import_rota", actor, apply, now=now)
        return ImportSummary(**counts)

    def load_file(self, path: Path | str, actor: str, now: datetime | None = None) -> ImportSummary:
        """Import the YAML or JSON rota document in ``path`` (see :meth:`import_rota`)."""
        document = read_rota_file(Path(path))
        if not isinstance(document, Mapping):
            raise RotaError(f"The rota file {path} must hold a mapping with agents, shifts and weekly.")
        return self.import_rota(document, actor, now)

    def audit(self, limit: int = 100) -> list[AuditEntry]:
        """The latest rota edits, newest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(orm.rota_audit).order_by(orm.rota_audit.c.id.desc()).limit(limit))
            return [AuditEntry(row.at, row.actor, row.action, row.before, row.after) for row in rows]

    # --- the edit transaction ----------------------------------------------------------------------

    @staticmethod
    @contextmanager
    def collecting_warnings() -> Iterator[list[Finding]]:
        """Collect, in the list this yields, the findings of severity ``warning`` that the edits made inside
        the block add: they are accepted, unlike errors, but the supervisor should hear of them."""
        found: list[Finding] = []
        token = _EDIT_WARNINGS.set(found)
        try:
            yield found
        finally:
            _EDIT_WARNINGS.reset(token)

    def _edit(self, action: str, actor: str,
              apply: Callable[[Connection], tuple[Any, Any, tuple[datetime, datetime] | None]],
              now: datetime | None = None) -> tuple[Any, Any]:
        """Run ``apply`` in one transaction, refuse it if the plan no longer expands or it adds an error
        finding, audit it; the warnings it adds go to :meth:`collecting_warnings`.

        Findings are compared before and after the edit over the checked window (now - 1 day .. now +
        ``check_days``) and over the span ``apply`` says the edit touches. That span is known only once
        ``apply`` has run: when it reaches outside the window, the transaction is rolled back, the span
        checked as it was, and ``apply`` run again (so it must be re-runnable); so a finding that was
        there before never blocks an unrelated edit, however far ahead.
        """
        now = self.now() if now is None else now
        window = (now - timedelta(days=1), now + timedelta(days=self.check_days))
        regions = [window]
        with self._write_lock:
            while True:
                with self._engine.connect() as conn, conn.begin() as transaction:
                    def findings() -> dict[tuple[str, str, datetime, datetime], Finding]:
                        found: dict[tuple[str, str, datetime, datetime], Finding] = {}
                        for start, end in regions:
                            margin = timedelta(days=1)
                            rota = self._plan(conn, start - margin, end + margin).expand(start - margin,
                                                                                         end + margin)
                            found |= {f.key: f for f in check(rota, self.rules, start=start, end=end)}
                        return found
                    before_found = findings()
                    last_shift_id = conn.execute(select(func.max(orm.shifts.c.id))).scalar() or 0
                    before, after, span = apply(conn)
                    if span is not None and not any(a <= span[0] and span[1] <= b for a, b in regions):
                        transaction.rollback()
                        regions.append(span)
                        continue
                    added = sorted((f for key, f in findings().items() if key not in before_found),
                                   key=lambda f: (f.start, f.extension, f.rule))
                    refused = errors(added)
                    if refused:
                        # A shift this edit inserted is rolled back with it: its id would name nothing.
                        raise RuleViolation([replace(f, shifts=tuple(
                            replace(s, id=None) if (s.id or 0) > last_shift_id else s for s in f.shifts))
                            for f in refused])
                    self._audit(conn, actor, action, before, after)
                break
        collector = _EDIT_WARNINGS.get()
        if collector is not None:
            collector.extend(f for f in added if f.severity is Severity.WARNING)
        return before, after

    # --- helpers -----------------------------------------------------------------------------------

    def _templates(self, conn: Connection) -> dict[str, ShiftTemplate]:
        rows = conn.execute(select(orm.shift_templates))
        return {row.name: template_from_spec(dict(row._mapping), row.id) for row in rows}

    def _first_days_of_users(self, conn: Connection, name: str) -> tuple[datetime, datetime] | None:
        """The first ``check_days`` of the patterns using template ``name`` that have a start date (a
        change far ahead is checked where it first shows), as one span; ``None`` if none has."""
        firsts = [date.fromisoformat(row.spec["valid_from"]) for row in conn.execute(select(orm.rota_patterns))
                  if row.spec.get("valid_from")
                  and (row.spec.get("template") == name or name in (row.spec.get("cycle") or ()))]
        if not firsts:
            return None
        return _days_span(min(firsts), max(firsts) + timedelta(days=self.check_days))

    def _rename_template(self, conn: Connection, old: str, new: str) -> None:
        for row in conn.execute(select(orm.rota_patterns)).all():
            spec = dict(row.spec)
            if spec.get("template") == old:
                spec["template"] = new
            if "cycle" in spec:
                spec["cycle"] = [new if name == old else name for name in spec["cycle"]]
            conn.execute(update(orm.rota_patterns).where(orm.rota_patterns.c.id == row.id).values(spec=spec))

    @staticmethod
    def _row(conn: Connection, table: Table, entry_id: int, what: str) -> Row[Any]:
        row = conn.execute(select(table).where(table.c.id == entry_id)).first()
        if row is None:
            raise NotFoundError(f"There is no {what} with id {entry_id}.")
        return row

    @staticmethod
    def _agent_ids(conn: Connection) -> dict[str, int]:
        return {ext: id_ for ext, id_ in conn.execute(select(orm.agents.c.extension, orm.agents.c.id))}

    def _agent_id(self, conn: Connection, extension: str) -> int:
        row = self._agent_row(conn, extension)
        if row is None:
            raise RotaError(f"There is no agent with extension {extension!r} in the rota.")
        return int(row.id)

    @staticmethod
    def _agent_row(conn: Connection, extension: str, *, lock: bool = False) -> Row[Any] | None:
        query = select(orm.agents).where(orm.agents.c.extension == extension)
        return conn.execute(query.with_for_update() if lock else query).first()

    @staticmethod
    def _upsert(conn: Connection, agent: Agent, before: Row[Any] | None) -> None:
        values = {"name": agent.name, "level": agent.level, "skills": list(agent.skills), "timezone": agent.timezone}
        if before is None:
            conn.execute(insert(orm.agents).values(extension=agent.extension, created_at=utc_now(), **values))
        else:
            conn.execute(update(orm.agents).where(orm.agents.c.id == before.id).values(**values))

    @staticmethod
    def _shifts(conn: Connection, start: datetime | None, end: datetime | None) -> list[Shift]:
        """One-off shifts overlapping or touching ``[start, end]`` (an open side when ``None``)."""
        query = (select(*_SHIFT_COLUMNS).join(orm.agents)
                 .order_by(orm.shifts.c.start_utc, orm.agents.c.extension))
        if end is not None:
            query = query.where(orm.shifts.c.start_utc <= end)
        if start is not None:
            query = query.where(orm.shifts.c.end_utc >= start)
        return [_shift(row) for row in conn.execute(query)]

    @staticmethod
    def _one(found: list[_T], what: str, entry_id: int) -> _T:
        if not found:
            raise NotFoundError(f"There is no {what} with id {entry_id}.")
        return found[0]

    @staticmethod
    def _spans(conn: Connection, table: Table, start: datetime | None, end: datetime | None,
               entry_id: int | None = None) -> list[Row[Any]]:
        query = select(table, orm.agents.c.extension).join(orm.agents, orm.agents.c.id == table.c.agent_id)
        if entry_id is not None:
            query = query.where(table.c.id == entry_id)
        if end is not None:
            query = query.where(table.c.start_utc <= end)
        if start is not None:
            query = query.where(table.c.end_utc >= start)
        return list(conn.execute(query.order_by(table.c.start_utc)))

    def _absences(self, conn: Connection, start: datetime | None, end: datetime | None,
                  entry_id: int | None = None) -> list[Absence]:
        return [Absence(r.extension, r.start_utc, r.end_utc, r.kind, r.note, r.id)
                for r in self._spans(conn, orm.absences, start, end, entry_id)]

    def _breaks(self, conn: Connection, start: datetime | None, end: datetime | None) -> list[Break]:
        return [Break(r.extension, r.start_utc, r.end_utc, r.id) for r in self._spans(conn, orm.breaks, start, end)]

    @staticmethod
    def _swaps(conn: Connection) -> list[Swap]:
        to_agent = orm.agents.alias("to_agent")
        query = (select(orm.swaps, orm.agents.c.extension, to_agent.c.extension.label("to_extension"))
                 .join(orm.agents, orm.agents.c.id == orm.swaps.c.agent_id)
                 .join(to_agent, to_agent.c.id == orm.swaps.c.to_agent_id).order_by(orm.swaps.c.start_utc))
        return [Swap(r.extension, r.start_utc, r.to_extension, r.note, r.id) for r in conn.execute(query)]

    @staticmethod
    def _insert_shifts(conn: Connection, agent_ids: Mapping[str, int], shifts: Iterable[Shift]) -> list[Shift]:
        stored = []
        for shift in shifts:
            result = conn.execute(insert(orm.shifts).values(
                agent_id=agent_ids[shift.extension], start_utc=shift.start, end_utc=shift.end,
                timezone=shift.timezone, note=shift.note, kind=shift.kind))
            assert result.inserted_primary_key is not None
            stored.append(Shift(shift.extension, shift.start, shift.end, shift.timezone,
                                id=result.inserted_primary_key[0], note=shift.note, kind=shift.kind))
        return stored

    def _audit(self, conn: Connection, actor: str, action: str, before: Any, after: Any) -> None:
        conn.execute(insert(orm.rota_audit).values(at=self.now(), actor=actor, action=action,
                                                   before=before, after=after))
