"""Queues API: the queues with live figures, their metrics over a window, their settings changed live,
opening and closing.

``GET /queues``, ``GET /queues/{name}``, ``GET /queues/{name}/metrics``, ``PATCH /queues/{name}`` (the
settings a supervisor tunes), ``GET /queues/{name}/changes`` (the audit of those changes),
``POST /queues/{name}/close`` and ``/open`` (kept and audited like any other change), ``POST
/queues/{name}/reset`` (back to the queue file),
``POST /queue-calls/{call_id}/transfer``, ``GET /queue-log`` (the log of one call, or of a window). An
unknown queue or call is 404; a setting the domain refuses is 422 with its sentence. Metrics and the log
default to today (UTC) until now. Staff only (``api.app`` mounts the router so).
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.auth import Staff, actor
from api.deps import ServicesDep, routing_of
from routing.agents import RoutingError
from routing.metrics import QueueMetrics
from routing.queues import AtMaxWait, ConfigError, QueueChange, Strategy, unknown_queue
from routing.reports import queue_report

router = APIRouter(tags=["queues"])


class TierModel(BaseModel):
    """Agents of ``level`` (if set) having ``skill`` (if set), or the agents listed by extension."""

    model_config = ConfigDict(extra="forbid")
    level: int | None = None
    skill: str | None = Field(None, max_length=100)
    extensions: list[Annotated[str, Field(max_length=32)]] = Field(default_factory=list, max_length=500)


class QueueSettingsOut(BaseModel):
    """The settings a supervisor may change (times in seconds)."""

    priority: int
    strategy: str
    tiers: list[TierModel]
    tier_wait: float | None
    escalate_when_none_free: bool
    ring_timeout: float
    retry_delay: float
    wrap_up: float
    max_misses: int
    refusal_backoff: float
    max_wait: float | None
    at_max_wait: str
    overflow_to: str | None
    join_empty: bool
    leave_empty: bool
    closed: bool
    announce_every: float | None
    service_level: float
    short_abandon: float


_STRATEGIES = ", ".join(s.value for s in Strategy)


class QueueSettingsPatch(BaseModel):
    """Only the settings given change; the others keep their values. Times are seconds (at most a day).
    ``null`` switches off ``max_wait``, ``tier_wait`` and ``announce_every`` and clears ``overflow_to``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"ring_timeout": 20, "max_wait": 180, "at_max_wait": "overflow", "overflow_to": "general"}]})
    priority: int | None = Field(None, description="Higher: served first by agents of several queues.")
    strategy: str | None = Field(None, max_length=40, description=f"One of {_STRATEGIES}.")
    tiers: list[TierModel] | None = Field(None, max_length=20, description="Tried in order; the index is the "
                                          "penalty.")
    tier_wait: float | None = Field(None, description="Seconds per tier before the next one is allowed.")
    escalate_when_none_free: bool | None = None
    ring_timeout: float | None = Field(None, description="Seconds an agent's phone rings (>= 0.1).")
    retry_delay: float | None = Field(None, description="Seconds after a missed ring before the call is "
                                      "offered again.")
    wrap_up: float | None = Field(None, description="Seconds of after-call work.")
    max_misses: int | None = Field(None, description="Missed rings in a row before the agent is paused "
                                   "(0: never).")
    refusal_backoff: float | None = None
    max_wait: float | None = Field(None, description="Seconds in the queue before at_max_wait applies.")
    at_max_wait: str | None = Field(None, max_length=20,
                                    description=f"One of {', '.join(a.value for a in AtMaxWait)}.")
    overflow_to: str | None = Field(None, max_length=100)
    join_empty: bool | None = None
    leave_empty: bool | None = None
    closed: bool | None = None
    announce_every: float | None = Field(None, description="Seconds between position announcements.")
    service_level: float | None = Field(None, description="The T of 'answered within T seconds'.")
    short_abandon: float | None = None


class QueueChangeOut(BaseModel):
    id: int | None
    queue: str
    at: datetime
    by: str
    action: str = Field(description="change, or reset (back to the queue file's settings)")
    before: dict[str, Any] = Field(description="The old values of the settings that changed.")
    after: dict[str, Any] = Field(description="Their new values.")


def _change_out(change: QueueChange) -> QueueChangeOut:
    return QueueChangeOut(id=change.id, queue=change.queue, at=change.at, by=change.by, action=change.action,
                          before=dict(change.before), after=dict(change.after))


class QueueOut(BaseModel):
    name: str
    numbers: list[str]
    priority: int
    strategy: str
    tiers: list[dict[str, Any]]
    max_wait: float | None
    at_max_wait: str
    overflow_to: str | None
    service_level_s: float
    live: dict[str, Any]
    settings: QueueSettingsOut
    calls: list[dict[str, Any]] = Field(description="Calls waiting, in the order they will be served.")
    metrics: dict[str, Any] | None = None


def window(since: datetime | None, until: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    start = since or datetime.combine(now.astimezone(UTC).date(), time(), UTC)
    end = until or now
    if end <= start:
        raise HTTPException(HTTPStatus.UNPROCESSABLE_ENTITY, detail=f"The window {start} to {end} is empty.")
    return start, end


def _views(services: ServicesDep) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    views = routing_of(services).queue_views()
    report = queue_report(routing_of(services).queues(), services.routing_log, *window(None, None, services.clock()))
    return views, report


@router.get("/queues", response_model=list[QueueOut])
def list_queues(services: ServicesDep) -> list[dict[str, Any]]:
    views, report = _views(services)
    return [{**v, "metrics": report.get(v["name"])} for v in views]


@router.get("/queues/{name}", response_model=QueueOut)
def get_queue(name: str, services: ServicesDep) -> dict[str, Any]:
    views, report = _views(services)
    for v in views:
        if v["name"] == name:
            return {**v, "metrics": report.get(name)}
    raise HTTPException(HTTPStatus.NOT_FOUND, detail=f"No queue is named {name!r}.")


@router.get("/queues/{name}/metrics", response_model=QueueMetrics)
def queue_metrics(name: str, services: ServicesDep, since: Annotated[AwareDatetime | None, Query()] = None,
                  until: Annotated[AwareDatetime | None, Query()] = None) -> dict[str, Any]:
    _known(services, name)
    start, end = window(since, until, services.clock())
    return queue_report(routing_of(services).queues(), services.routing_log, start, end)[name]


def _known(services: ServicesDep, name: str) -> None:
    queues = routing_of(services).queues()
    if name not in queues:
        raise HTTPException(HTTPStatus.NOT_FOUND, detail=str(unknown_queue(name, queues)))


def _edit(services: ServicesDep, name: str, changes: dict[str, Any], by: str) -> dict[str, Any]:
    _known(services, name)
    try:
        routing_of(services).edit_queue(name, changes, by)
    except ConfigError as error:
        raise HTTPException(HTTPStatus.UNPROCESSABLE_ENTITY, detail=str(error)) from None
    return get_queue(name, services)


@router.patch("/queues/{name}", response_model=QueueOut)
def edit_queue(who: Staff, name: str, body: QueueSettingsPatch, services: ServicesDep) -> dict[str, Any]:
    """Change a queue's settings live, kept across restarts and audited (``/queues/{name}/changes``).

    Applied at once without dropping a call: a waiting call keeps its place and its time waited; what is
    under way (a ringing agent, a wrap-up, a retry delay) finishes under the old values. 422 with one
    sentence, and nothing changed, for a value the queue cannot take (an unknown strategy, a negative time,
    an overflow to an unknown queue, to itself or round a loop)."""
    changes = body.model_dump(exclude_unset=True)
    return _edit(services, name, changes, actor(who))


@router.get("/queues/{name}/changes", response_model=list[QueueChangeOut])
def queue_changes(name: str, services: ServicesDep,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[QueueChangeOut]:
    """Who changed which settings of the queue, when, with the old and new values; newest first."""
    _known(services, name)
    return [_change_out(c) for c in services.routing_log.queue_changes(name, limit)]


@router.post("/queues/{name}/reset", response_model=QueueOut)
def reset_queue(who: Staff, name: str, services: ServicesDep) -> dict[str, Any]:
    """Back to the queue file's settings: every change made through the API is dropped (and the reset
    audited); applied live like any change. 422 if the file's overflow would now loop through another
    queue's changed settings."""
    _known(services, name)
    try:
        routing_of(services).reset_queue(name, actor(who))
    except ConfigError as error:
        raise HTTPException(HTTPStatus.UNPROCESSABLE_ENTITY, detail=str(error)) from None
    return get_queue(name, services)


@router.post("/queues/{name}/close", response_model=QueueOut)
def close_queue(who: Staff, name: str, services: ServicesDep) -> dict[str, Any]:
    """New callers are turned away (to ``overflow_to``, or refused); calls already waiting stay. Kept and
    audited like any setting."""
    return _edit(services, name, {"closed": True}, actor(who))


@router.post("/queues/{name}/open", response_model=QueueOut)
def open_queue(who: Staff, name: str, services: ServicesDep) -> dict[str, Any]:
    return _edit(services, name, {"closed": False}, actor(who))


class QueueEventOut(BaseModel):
    seq: int
    at: datetime
    kind: str
    call_id: str
    queue: str
    agent: str | None
    detail: dict[str, Any]


@router.get("/queue-log", response_model=list[QueueEventOut])
def queue_log(services: ServicesDep, call_id: Annotated[str | None, Query(max_length=200)] = None,
              since: Annotated[AwareDatetime | None, Query()] = None,
              until: Annotated[AwareDatetime | None, Query()] = None) -> list[Any]:
    """Every event of one SIP call (``call_id``), or of every call over the window."""
    if call_id is not None:
        return list(services.routing_log.call_events(call_id))
    return list(services.routing_log.events(*window(since, until, services.clock())))


class TransferIn(BaseModel):
    queue: str = Field(examples=["network"])


@router.post("/queue-calls/{call_id}/transfer", response_model=QueueOut)
def transfer_call(who: Staff, call_id: str, body: TransferIn, services: ServicesDep) -> dict[str, Any]:
    """Move a waiting call to another queue; it keeps its place by arrival. 404: no such queue or call."""
    _known(services, body.queue)
    try:
        routing_of(services).transfer(call_id, body.queue, actor(who))
    except RoutingError as error:
        raise HTTPException(HTTPStatus.NOT_FOUND, detail=str(error)) from None
    return get_queue(body.queue, services)
