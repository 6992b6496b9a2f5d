"""Agent states API: what routing knows of each agent, and the changes agents or supervisors make.

``GET /agent-states`` (every agent's state, with today's metrics), ``GET /agents/{extension}/state``,
``POST /agents/{extension}/pause`` (with a reason), ``/available`` (log in, end a pause or wrap-up) and
``/logout``. (``/agents`` itself is the rota's list of people.) An unknown agent is 404; a change the
agent's state does not allow (pausing during a call) is 409 with the reason. Supervisors and admins see and
change every agent; an agent only their own extension (403 otherwise). The signed-in user is recorded as
the actor of every change.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from api.auth import CurrentUser, Principal, Staff, actor, error_responses, forbidden
from api.deps import ServicesDep, routing_of
from api.queues import window
from routing.agents import IllegalTransition, RoutingError
from routing.reports import agent_report

router = APIRouter(tags=["agents"])


class AgentState(BaseModel):
    extension: str
    level: int
    skills: list[str]
    state: str = Field(description="logged_out, available, ringing, on_call, wrap_up or paused.")
    since: datetime
    reason: str
    on_shift: bool
    call_id: str | None
    calls_taken: int
    missed_in_a_row: int
    metrics: dict[str, Any] | None = None


class PauseIn(BaseModel):
    reason: str = Field(min_length=1, max_length=200, examples=["lunch"])


class ReasonIn(BaseModel):
    reason: str = Field("", max_length=200)


def _own(principal: Principal, extension: str) -> None:
    """403 unless the user is staff or the agent with ``extension``."""
    if not principal.is_staff and principal.user.extension != extension:
        raise forbidden("An agent sees and changes only their own state.")


@contextmanager
def _domain_errors() -> Iterator[None]:
    try:
        yield
    except IllegalTransition as error:
        raise HTTPException(HTTPStatus.CONFLICT, detail=str(error)) from None
    except RoutingError as error:
        status = HTTPStatus.NOT_FOUND if "No agent has extension" in str(error) else HTTPStatus.UNPROCESSABLE_ENTITY
        raise HTTPException(status, detail=str(error)) from None


def _one(services: ServicesDep, extension: str) -> dict[str, Any]:
    views = routing_of(services).agent_views()
    for v in views:
        if v["extension"] == extension:
            return dict(v)
    raise HTTPException(HTTPStatus.NOT_FOUND, detail=f"No agent has extension {extension}.")


@router.get("/agent-states", response_model=list[AgentState])
def list_states(services: ServicesDep, _staff: Staff) -> list[dict[str, Any]]:
    views = routing_of(services).agent_views()
    report = agent_report(services.routing_log, *window(None, None, services.clock()))
    return [{**v, "metrics": report.get(v["extension"])} for v in views]


@router.get("/agents/{extension}/state", response_model=AgentState)
def get_state(extension: str, services: ServicesDep, principal: CurrentUser) -> dict[str, Any]:
    _own(principal, extension)
    return _one(services, extension)


@router.post("/agents/{extension}/pause", response_model=AgentState, responses=error_responses(409))
def pause(extension: str, body: PauseIn, services: ServicesDep, principal: CurrentUser) -> dict[str, Any]:
    _own(principal, extension)
    with _domain_errors():
        routing_of(services).pause(extension, body.reason, actor(principal))
    return _one(services, extension)


@router.post("/agents/{extension}/available", response_model=AgentState, responses=error_responses(409))
def available(extension: str, services: ServicesDep, principal: CurrentUser) -> dict[str, Any]:
    _own(principal, extension)
    with _domain_errors():
        routing_of(services).make_available(extension, actor(principal))
    return _one(services, extension)


@router.post("/agents/{extension}/logout", response_model=AgentState, responses=error_responses(409))
def logout(extension: str, services: ServicesDep, principal: CurrentUser,
           body: ReasonIn | None = None) -> dict[str, Any]:
    _own(principal, extension)
    with _domain_errors():
        routing_of(services).log_out(extension, actor(principal), (body or ReasonIn()).reason)
    return _one(services, extension)
