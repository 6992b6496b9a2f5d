"""RotaStore: agents and shifts in the database, every edit validated in the domain and audited.

Each method runs in its own transaction on its own connection, so one store can be shared by threads.
Edits are validated by building a :class:`~shifts.rota.Rota` of what the database would hold afterwards;
nothing is written unless it is valid, and each edit writes one ``rota_audit`` row (actor, before, after).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Row, delete, insert, select, update

from shifts import orm
from shifts.document import parse_document
from shifts.rota import DEFAULT_MAX_SHIFT, Agent, Rota, RotaError, Shift, require_aware
from shifts.rotafile import read_rota_file


class ShiftNotFoundError(LookupError):
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
    """What an import did: agents upserted, shifts written, future shifts it replaced."""

    agents: int
    shifts: int
    replaced: int


def utc_now() -> datetime:
    return datetime.now(UTC)


def _agent_json(agent: Agent) -> dict[str, Any]:
    return {"extension": agent.extension, "name": agent.name, "level": agent.level}


def _shift_json(shift: Shift) -> dict[str, Any]:
    return {"id": shift.id, "agent": shift.extension, "start": shift.start.isoformat(),
            "end": shift.end.isoformat(), "timezone": shift.timezone, "note": shift.note}


def _agent(row: Any) -> Agent:
    return Agent(row.extension, row.name, row.level)


def _shift(row: Any) -> Shift:
    return Shift(row.extension, row.start_utc, row.end_utc, row.timezone, id=row.id, note=row.note)


_SHIFT_COLUMNS = (orm.shifts.c.id, orm.agents.c.extension, orm.shifts.c.start_utc, orm.shifts.c.end_utc,
                  orm.shifts.c.timezone, orm.shifts.c.note)


class RotaStore:
    """The rota in the database. ``clock`` gives "now" where a caller does not; ``max_shift`` bounds a
    shift's length; ``weekly_days`` is how many days of weekly patterns an import expands."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = utc_now,
                 max_shift: timedelta = DEFAULT_MAX_SHIFT, weekly_days: int = 14) -> None:
        self._engine = engine
        self._clock = clock
        self.max_shift = max_shift
        self.weekly_days = weekly_days
        self._write_lock = threading.Lock()  # edits validate-then-write; one at a time in this process

    def now(self) -> datetime:
        return require_aware(self._clock(), "The store's clock returned")

    # --- agents ------------------------------------------------------------------------------------

    def upsert_agent(self, agent: Agent, actor: str) -> Agent:
        """Add ``agent``, or update the name and level of the agent with its extension."""
        with self._write_lock, self._engine.begin() as conn:
            before = self._agent_row(conn, agent.extension, lock=True)
            self._upsert(conn, agent, before)
            self._audit(conn, actor, "upsert_agent", _agent_json(_agent(before)) if before else None,
                        _agent_json(agent))
        return agent

    def list_agents(self) -> list[Agent]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(orm.agents).order_by(orm.agents.c.extension))
            return [_agent(row) for row in rows]

    def get_agent(self, extension: str) -> Agent | None:
        with self._engine.connect() as conn:
            row = self._agent_row(conn, extension)
            return _agent(row) if row is not None else None

    # --- shifts ------------------------------------------------------------------------------------

    def add_shift(self, shift: Shift, actor: str) -> Shift:
        """Store ``shift`` and return it with its id; :class:`RotaError` if the agent is unknown, the shift
        too long or overlapping another shift of the same agent."""
        with self._write_lock, self._engine.begin() as conn:
            agent_row = self._agent_row(conn, shift.extension, lock=True)
            agents = [_agent(agent_row)] if agent_row is not None else []
            neighbours = self._shifts(conn, shift.start, shift.end, extension=shift.extension)
            Rota(agents, [*neighbours, shift], max_shift=self.max_shift)
            assert agent_row is not None  # Rota refuses a shift of an unknown agent
            stored = self._insert_shifts(conn, {shift.extension: agent_row.id}, [shift])[0]
            self._audit(conn, actor, "add_shift", None, _shift_json(stored))
        return stored

    def delete_shift(self, shift_id: int, actor: str) -> Shift:
        """Remove the shift with ``shift_id`` and return it; :class:`ShiftNotFoundError` if there is none."""
        with self._write_lock, self._engine.begin() as conn:
            row = conn.execute(select(*_SHIFT_COLUMNS).join(orm.agents)
                               .where(orm.shifts.c.id == shift_id)).first()
            if row is None:
                raise ShiftNotFoundError(f"There is no shift with id {shift_id}.")
            conn.execute(delete(orm.shifts).where(orm.shifts.c.id == shift_id))
            shift = _shift(row)
            self._audit(conn, actor, "delete_shift", _shift_json(shift), None)
        return shift

    def list_shifts(self, start: datetime, end: datetime) -> list[Shift]:
        """The shifts that overlap ``[start, end)``, by start time."""
        require_aware(start, "The start of the period")
        require_aware(end, "The end of the period")
        with self._engine.connect() as conn:
            return self._shifts(conn, start, end)

    def rota(self, start: datetime, end: datetime) -> Rota:
        """A snapshot for routing: every agent, and the shifts that overlap ``[start, end)``."""
        require_aware(start, "The start of the period")
        require_aware(end, "The end of the period")
        with self._engine.connect() as conn:
            agents = [_agent(row) for row in conn.execute(select(orm.agents))]
            return Rota(agents, self._shifts(conn, start, end), max_shift=timedelta.max)

    def on_shift(self, now: datetime | None = None) -> list[Agent]:
        """The agents on shift at ``now`` (default: the store's clock), by extension."""
        now = self.now() if now is None else require_aware(now, "The instant")
        rota = self.rota(now, now + timedelta(microseconds=1))
        return [rota.agents[extension] for extension in sorted(rota.on_shift(now))]

    # --- documents ---------------------------------------------------------------------------------

    def import_rota(self, document: Mapping[str, Any], actor: str,
                    now: datetime | None = None) -> ImportSummary:
        """Apply a rota document (see :mod:`shifts.document`) all or nothing.

        Its agents are added or updated (agents it does not name are kept). From ``now`` on the document
        is the whole rota: every shift that has not ended by ``now`` is replaced by the document's shifts,
        which are validated together with the shifts kept from the past before anything is written.
        """
        now = self.now() if now is None else require_aware(now, "The import time")
        parsed = parse_document(document, now, self.weekly_days)
        with self._write_lock, self._engine.begin() as conn:
            existing = {row.extension: row for row in conn.execute(select(orm.agents))}
            merged = {ext: _agent(row) for ext, row in existing.items()}
            merged.update({agent.extension: agent for agent in parsed.agents})
            kept = self._shifts(conn, None, now, ended=True)
            replaced = self._shifts(conn, now, None)
            self._check_new(merged.values(), kept, parsed.shifts)

            changed_before = [_agent_json(_agent(existing[a.extension])) for a in parsed.agents
                              if a.extension in existing]
            for agent in parsed.agents:
                self._upsert(conn, agent, existing.get(agent.extension))
            ids = {ext: id_ for ext, id_ in conn.execute(select(orm.agents.c.extension, orm.agents.c.id))}
            conn.execute(delete(orm.shifts).where(orm.shifts.c.end_utc > now))
            new = sorted(parsed.shifts, key=lambda s: (s.start, s.extension))
            stored = self._insert_shifts(conn, ids, new)
            self._audit(conn, actor, "import_rota",
                        {"agents": changed_before, "shifts": [_shift_json(s) for s in replaced]},
                        {"agents": [_agent_json(a) for a in parsed.agents],
                         "shifts": [_shift_json(s) for s in stored],
                         "weekly": [{"agent": p.agent, "days": list(p.days), "start": p.start, "end": p.end,
                                     "timezone": p.timezone} for p in parsed.patterns]})
        return ImportSummary(agents=len(parsed.agents), shifts=len(stored), replaced=len(replaced))

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

    # --- helpers -----------------------------------------------------------------------------------

    def _check_new(self, agents: Iterable[Agent], kept: list[Shift], new: Iterable[Shift]) -> None:
        """Validate ``new`` shifts (length, agents, overlaps) together with the ``kept`` past ones."""
        new = list(new)
        Rota(agents, new, max_shift=self.max_shift)
        Rota(agents, [*kept, *new], max_shift=timedelta.max)

    @staticmethod
    def _agent_row(conn: Connection, extension: str, *, lock: bool = False) -> Row[Any] | None:
        query = select(orm.agents).where(orm.agents.c.extension == extension)
        return conn.execute(query.with_for_update() if lock else query).first()

    @staticmethod
    def _upsert(conn: Connection, agent: Agent, before: Row[Any] | None) -> None:
        if before is None:
            conn.execute(insert(orm.agents).values(extension=agent.extension, name=agent.name,
                                                   level=agent.level, created_at=utc_now()))
        else:
            conn.execute(update(orm.agents).where(orm.agents.c.id == before.id)
                         .values(name=agent.name, level=agent.level))

    @staticmethod
    def _shifts(conn: Connection, start: datetime | None, end: datetime | None, *,
                extension: str | None = None, ended: bool = False) -> list[Shift]:
        """Shifts overlapping ``[start, end)`` (an open side when ``None``); with ``ended``, those that
        ended by ``end`` instead."""
        query = (select(*_SHIFT_COLUMNS).join(orm.agents)
                 .order_by(orm.shifts.c.start_utc, orm.agents.c.extension))
        if ended and end is not None:
            query = query.where(orm.shifts.c.end_utc <= end)
        elif end is not None:
            query = query.where(orm.shifts.c.start_utc < end)
        if start is not None:
            query = query.where(orm.shifts.c.end_utc > start)
        if extension is not None:
            query = query.where(orm.agents.c.extension == extension)
        return [_shift(row) for row in conn.execute(query)]

    @staticmethod
    def _insert_shifts(conn: Connection, agent_ids: Mapping[str, int], shifts: list[Shift]) -> list[Shift]:
        stored = []
        for shift in shifts:
            result = conn.execute(insert(orm.shifts).values(
                agent_id=agent_ids[shift.extension], start_utc=shift.start, end_utc=shift.end,
                timezone=shift.timezone, note=shift.note))
            assert result.inserted_primary_key is not None
            stored.append(Shift(shift.extension, shift.start, shift.end, shift.timezone,
                                id=result.inserted_primary_key[0], note=shift.note))
        return stored

    def _audit(self, conn: Connection, actor: str, action: str, before: Any, after: Any) -> None:
        conn.execute(insert(orm.rota_audit).values(at=self.now(), actor=actor, action=action,
                                                   before=before, after=after))
