"""Queues API: the queues with live figures, their metrics over a window, opening and closing.

``GET /queues``, ``GET /queues/{name}``, ``GET /queues/{name}/metrics``, ``POST /queues/{name}/close`` and
``/open``, ``POST /queue-calls/{call_id}/transfer``, ``GET /queue-log`` (the log of one call, or of a
window). An unknown queue or call is 404. Metrics and the log default to today (UTC) until now. No
authentication yet.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import AwareDatetime, BaseModel, Field

from api.auth import Staff, actor
from api.deps import ServicesDep
from routing.agents import RoutingError
from routing.metrics import QueueMetrics
from routing.reports import queue_report, queue_views

router = APIRouter(tags=["queues"])


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
    calls: list[dict[str, Any]] = Field(description="Calls waiting, in the order they will be served.")
    metrics: dict[str, Any] | None = None


def window(since: datetime | None, until: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    start = since or datetime.combine(now.astimezone(UTC).date(), time(), UTC)
    end = until or now
    if end <= start:
        raise HTTPException(HTTPStatus.UNPROCESSABLE_ENTITY, detail=f"The window {start} to {end} is empty.")
    return start, end


def _views(services: ServicesDep) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    now = services.clock()
    views = services.routing.routed(lambda acd: queue_views(acd, now))
    report = queue_report(services.routing.acd, services.routing_log, *window(None, None, now))
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
    return queue_report(services.routing.acd, services.routing_log, start, end)[name]


def _known(services: ServicesDep, name: str) -> None:
    try:
        services.routing.acd.queue(name)
    except RoutingError as error:
        raise HTTPException(HTTPStatus.NOT_FOUND, detail=str(error)) from None


@router.post("/queues/{name}/close", response_model=QueueOut)
def close_queue(name: str, services: ServicesDep) -> dict[str, Any]:
    _known(services, name)
    services.routing.set_queue_closed(name, True)
    return get_queue(name, services)


@router.post("/queues/{name}/open", response_model=QueueOut)
def open_queue(name: str, services: ServicesDep) -> dict[str, Any]:
    _known(services, name)
    services.routing.set_queue_closed(name, False)
    return get_queue(name, services)


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
        services.routing.transfer(call_id, body.queue, actor(who))
    except RoutingError as error:
        raise HTTPException(HTTPStatus.NOT_FOUND, detail=str(error)) from None
    return get_queue(body.queue, services)
