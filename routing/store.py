"""RoutingStore: the queue event log and the agents' transitions in the database, and what a restart
needs back from them (agents' pauses, callbacks still waiting, calls a crash left open); and the queue
settings supervisors changed, with the audit of every change.

It is the ``routing.ports.Journal`` the distributor writes through: each batch in one transaction, so a
batch is stored whole or not at all (and then sent again). Each method uses its own connection, so one
store can be shared by threads.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Integer, and_, cast, delete, func, insert, or_, select, update

from routing import orm
from routing.acd import PendingCallback
from routing.agents import Action, AgentState, Transition
from routing.events import TERMINAL, EventKind, QueueEvent
from routing.queues import QueueChange

_SHIFT_ACTIONS = (Action.SHIFT_START.value, Action.SHIFT_END.value)


@dataclass(frozen=True)
class Recovered:
    """What a restart takes back: each agent's last state and reason, callbacks still waiting in their
    place, the last sequence number, and the calls that were left open (now logged as interrupted)."""

    states: dict[str, tuple[AgentState, str]]
    callbacks: list[PendingCallback]
    last_seq: int
    interrupted: list[str]


def _event(row: Any) -> QueueEvent:
    return QueueEvent(row.seq, row.at, EventKind(row.kind), row.call_id, row.queue, row.agent, dict(row.detail))


def _transition(row: Any) -> Transition:
    return Transition(row.extension, row.at, AgentState(row.before), AgentState(row.after), Action(row.action),
                      row.by, row.reason)


class RoutingStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # --- the journal -------------------------------------------------------------------------
    def record(self, events: list[QueueEvent], transitions: list[Transition]) -> None:
        with self._engine.begin() as conn:
            if events:
                conn.execute(insert(orm.queue_events), [
                    {"seq": e.seq, "at": e.at, "kind": e.kind.value, "call_id": e.call_id, "queue": e.queue,
                     "agent": e.agent, "detail": e.detail} for e in events])
            if transitions:
                conn.execute(insert(orm.agent_transitions), [
                    {"extension": t.extension, "at": t.at, "before": t.before.value, "after": t.after.value,
                     "action": t.action.value, "by": t.by, "reason": t.reason[:500]} for t in transitions])

    # --- reads -------------------------------------------------------------------------------
    def events(self, start: datetime, end: datetime) -> list[QueueEvent]:
        q = orm.queue_events
        with self._engine.connect() as conn:
            rows = conn.execute(select(q).where(q.c.at >= start, q.c.at < end).order_by(q.c.seq)).all()
        return [_event(r) for r in rows]

    def arrivals(self, start: datetime, end: datetime, step: timedelta) -> dict[datetime, int]:
        """Calls that entered a queue (``enter`` events) in ``[start, end)``, per interval of ``step`` from
        ``start``, keyed by the interval's start; intervals without calls are left out. Counted by the
        database (one grouped query, no event loaded): ``shifts.staffing.CallHistory`` for the staffing
        forecast. A call refused by a closed queue never entered and is not counted. Bucketing is to the
        whole second: ``step`` must be whole seconds; ``start`` and ``end`` must be aware."""
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("arrivals needs timezone-aware start and end")
        step_s = step.total_seconds()
        if step_s <= 0 or step_s != int(step_s):
            raise ValueError(f"The interval must be a positive whole number of seconds, got {step}.")
        q = orm.queue_events
        origin = int(start.timestamp())
        if self._engine.dialect.name == "sqlite":  # stored as naive UTC text; %s is its exact Unix time
            bucket: Any = (cast(func.strftime("%s", q.c.at), Integer) - origin) / int(step_s)
        else:
            bucket = func.floor((func.extract("epoch", q.c.at) - origin) / int(step_s))
        bucket = cast(bucket, Integer).label("bucket")
        query = (select(bucket, func.count().label("calls"))
                 .where(q.c.kind == EventKind.ENTER.value, q.c.at >= start, q.c.at < end)
                 .group_by(bucket))
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return {start + int(r.bucket) * step: int(r.calls) for r in rows}

    def call_events(self, call_id: str) -> list[QueueEvent]:
        q = orm.queue_events
        with self._engine.connect() as conn:
            rows = conn.execute(select(q).where(q.c.call_id == call_id).order_by(q.c.seq)).all()
        return [_event(r) for r in rows]

    def transitions(self, start: datetime, end: datetime) -> list[Transition]:
        """Transitions in [start, end), preceded by each agent's last state change and last shift record
        before ``start`` (what the window opened with)."""
        t = orm.agent_transitions
        is_shift = t.c.action.in_(_SHIFT_ACTIONS)
        before_state = select(func.max(t.c.id)).where(t.c.at < start, ~is_shift).group_by(t.c.extension)
        before_shift = select(func.max(t.c.id)).where(t.c.at < start, is_shift).group_by(t.c.extension)
        with self._engine.connect() as conn:
            rows = conn.execute(select(t).where(or_(
                and_(t.c.at >= start, t.c.at < end), t.c.id.in_(before_state), t.c.id.in_(before_shift),
            )).order_by(t.c.at, t.c.id)).all()
        return [_transition(r) for r in rows]

    # --- queue settings changed by supervisors --------------------------------------------------
    def record_queue_change(self, change: QueueChange) -> QueueChange:
        """Keep ``change`` (its new values join the queue's overrides) and audit it, in one transaction;
        returns it with its audit id."""
        o = orm.queue_overrides
        with self._engine.begin() as conn:
            current = conn.execute(select(o.c.settings).where(o.c.queue == change.queue)).scalar_one_or_none()
            values = {"settings": {**(current or {}), **change.after}, "updated_at": change.at,
                      "updated_by": change.by}
            if current is None:
                conn.execute(insert(o).values(queue=change.queue, **values))
            else:
                conn.execute(update(o).where(o.c.queue == change.queue).values(**values))
            new_id = self._audit_queue_change(conn, change)
        return replace(change, id=new_id)

    def reset_queue_settings(self, change: QueueChange) -> QueueChange:
        """The queue is back to the queue file: its overrides go, the reset is audited (one transaction)."""
        with self._engine.begin() as conn:
            conn.execute(delete(orm.queue_overrides).where(orm.queue_overrides.c.queue == change.queue))
            new_id = self._audit_queue_change(conn, change)
        return replace(change, id=new_id)

    @staticmethod
    def _audit_queue_change(conn: Connection, change: QueueChange) -> int:
        key = conn.execute(insert(orm.queue_changes).values(
            queue=change.queue, at=change.at, by=change.by, action=change.action, before=dict(change.before),
            after=dict(change.after))).inserted_primary_key
        assert key is not None
        return int(key[0])

    def queue_overrides(self) -> dict[str, dict[str, Any]]:
        """The settings supervisors changed, per queue (``routing.queues.with_overrides`` applies them)."""
        o = orm.queue_overrides
        with self._engine.connect() as conn:
            return {r.queue: dict(r.settings) for r in conn.execute(select(o.c.queue, o.c.settings))}

    def queue_changes(self, queue: str | None = None, limit: int = 100) -> list[QueueChange]:
        """The audit of settings changes, newest first; of one queue, or of all."""
        c = orm.queue_changes
        query = select(c).order_by(c.c.id.desc()).limit(limit)
        if queue is not None:
            query = query.where(c.c.queue == queue)
        with self._engine.connect() as conn:
            return [QueueChange(r.queue, r.at, r.by, dict(r.before), dict(r.after), r.id, r.action)
                    for r in conn.execute(query)]

    # --- restart -----------------------------------------------------------------------------
    def recover(self, now: datetime) -> Recovered:
        """Read back what routing needs after a restart, and log every call that was still in routing's
        hands (not a waiting callback) as interrupted: no call is lost from the log."""
        q, t = orm.queue_events, orm.agent_transitions
        terminal = [k.value for k in TERMINAL]
        with self._engine.begin() as conn:
            last_seq = conn.execute(select(func.coalesce(func.max(q.c.seq), 0))).scalar_one()
            latest = select(func.max(t.c.id)).where(~t.c.action.in_(_SHIFT_ACTIONS)).group_by(t.c.extension)
            states = {r.extension: (AgentState(r.after), r.reason)
                      for r in conn.execute(select(t.c.extension, t.c.after, t.c.reason).where(t.c.id.in_(latest)))}
            closed = select(q.c.call_id).where(q.c.kind.in_(terminal))
            open_ids = select(q.c.call_id).where(q.c.call_id != "", q.c.call_id.not_in(closed)).distinct()
            rows = conn.execute(select(q).where(q.c.call_id.in_(open_ids)).order_by(q.c.seq)).all()
            by_call: dict[str, list[QueueEvent]] = defaultdict(list)
            for row in rows:
                by_call[row.call_id].append(_event(row))
            callbacks: list[PendingCallback] = []
            interrupted: list[str] = []
            for call_id, evs in by_call.items():
                callback = _pending_callback(evs)
                if callback is not None:
                    callbacks.append(callback)
                    continue
                last_seq += 1
                conn.execute(insert(q).values(seq=last_seq, at=now, kind=EventKind.INTERRUPTED.value, call_id=call_id,
                                              queue=evs[-1].queue, agent=None, detail={"reason": "restart"}))
                interrupted.append(call_id)
        return Recovered(states, callbacks, last_seq, interrupted)


def _pending_callback(events: list[QueueEvent]) -> PendingCallback | None:
    """The callback an open call still waits for: it asked for one and no agent has taken it yet."""
    enter = next((e for e in events if e.kind is EventKind.ENTER), None)
    asked = next((e for e in reversed(events) if e.kind is EventKind.CALLBACK_REQUESTED), None)
    if enter is None or asked is None or any(e.kind is EventKind.ANSWER for e in events):
        return None
    queue = enter.queue
    for e in events:
        if e.kind in (EventKind.OVERFLOW, EventKind.TRANSFER) and e.detail.get("to"):
            queue = str(e.detail["to"])
    return PendingCallback(enter.call_id, queue, str(enter.detail.get("caller", "")), str(asked.detail["number"]),
                           int(enter.detail.get("priority", 0)), enter.at, enter.seq,
                           str(enter.detail.get("category", "")))
