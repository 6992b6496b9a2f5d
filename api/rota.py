"""Rota API: agents, shifts, rota import and who is on shift now.

``GET/POST /agents``, ``GET /agents/{extension}``, ``GET/POST /shifts``, ``DELETE /shifts/{shift_id}``,
``POST /rota/import``, ``GET /rota/on-shift``. Invalid rotas are 422 with the domain's message in
``detail``; unknown agents and shifts are 404. Every successful edit calls ``services.on_rota_changed``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.deps import ServicesDep
from shifts.rota import Agent, RotaError, Shift
from shifts.store import ImportSummary, RotaStore, ShiftNotFoundError

router = APIRouter(tags=["rota"])

ACTOR = "api"  # until the API has authentication, edits are audited as made through it
DEFAULT_PERIOD = timedelta(days=7)


def get_store(services: ServicesDep) -> RotaStore:
    return cast(RotaStore, services.rota)


StoreDep = Annotated[RotaStore, Depends(get_store)]


@contextmanager
def _domain_errors() -> Iterator[None]:
    try:
        yield
    except RotaError as error:
        raise HTTPException(HTTPStatus.UNPROCESSABLE_ENTITY, detail=str(error)) from None
    except ShiftNotFoundError as error:
        raise HTTPException(HTTPStatus.NOT_FOUND, detail=str(error)) from None


# --- schemas -----------------------------------------------------------------------------------------


class AgentIn(BaseModel):
    extension: str = Field(description="The SIP user the agent's phone registers as.", examples=["1001"])
    name: str = Field(examples=["Alice"])
    level: int = Field(1, description="Support level, 1 or more.")


class AgentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    extension: str
    name: str
    level: int


class ShiftIn(BaseModel):
    agent: str = Field(description="Extension of the agent.", examples=["1001"])
    start: datetime = Field(description="ISO 8601; without a UTC offset, wall-clock time in `timezone`.",
                            examples=["2026-10-24T22:00"])
    end: datetime = Field(description="ISO 8601, after `start`; without an offset, wall-clock time.",
                          examples=["2026-10-25T06:00"])
    timezone: str = Field(description="IANA time zone the shift is defined in.", examples=["Europe/Paris"])
    note: str = ""


class ShiftOut(BaseModel):
    id: int
    agent: str
    start: datetime = Field(description="UTC.")
    end: datetime = Field(description="UTC.")
    timezone: str
    note: str

    @classmethod
    def of(cls, shift: Shift) -> ShiftOut:
        assert shift.id is not None
        return cls(id=shift.id, agent=shift.extension, start=shift.start, end=shift.end,
                   timezone=shift.timezone, note=shift.note)


class DocumentShift(BaseModel):
    agent: str
    start: str = Field(examples=["2026-10-24T22:00"])
    end: str = Field(examples=["2026-10-25T06:00"])
    timezone: str = Field(examples=["Europe/Paris"])
    note: str = ""


class WeeklyIn(BaseModel):
    agent: str
    days: list[str] = Field(examples=[["mon", "tue", "wed", "thu", "fri"]])
    start: str = Field(description="HH:MM local time.", examples=["22:00"])
    end: str = Field(description="HH:MM; at or before `start` crosses midnight; 24:00 allowed.",
                     examples=["06:00"])
    timezone: str = Field(examples=["Europe/Paris"])


class RotaDocumentIn(BaseModel):
    """A rota document: agents are upserted; from now on, its shifts and weekly patterns are the rota."""

    model_config = ConfigDict(extra="forbid")

    agents: list[AgentIn] = []
    shifts: list[DocumentShift] = []
    weekly: list[WeeklyIn] = []


class ImportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    agents: int = Field(description="Agents added or updated.")
    shifts: int = Field(description="Shifts written (weekly patterns expanded).")
    replaced: int = Field(description="Shifts not yet ended that the import replaced.")
    patterns: int = Field(description="Weekly patterns set (they replace every pattern).")


class OnShiftOut(BaseModel):
    at: datetime
    agents: list[AgentOut]


# --- routes ------------------------------------------------------------------------------------------


@router.get("/agents", response_model=list[AgentOut])
def list_agents(store: StoreDep) -> list[Agent]:
    return store.list_agents()


@router.post("/agents", response_model=AgentOut)
def upsert_agent(body: AgentIn, store: StoreDep, services: ServicesDep) -> Agent:
    """Add an agent, or update the name and level of the agent with that extension."""
    with _domain_errors():
        agent = store.upsert_agent(Agent(body.extension, body.name, body.level), ACTOR)
    services.on_rota_changed()
    return agent


@router.get("/agents/{extension}", response_model=AgentOut)
def get_agent(extension: str, store: StoreDep) -> Agent:
    agent = store.get_agent(extension)
    if agent is None:
        raise HTTPException(HTTPStatus.NOT_FOUND, detail=f"There is no agent with extension {extension!r}.")
    return agent


@router.get("/shifts", response_model=list[ShiftOut])
def list_shifts(store: StoreDep,
                start: Annotated[AwareDatetime | None, Query(description="Default: now.")] = None,
                end: Annotated[AwareDatetime | None, Query(description="Default: start + 7 days.")] = None,
                ) -> list[ShiftOut]:
    """Shifts that overlap ``[start, end)``."""
    start = start if start is not None else store.now()
    end = end if end is not None else start + DEFAULT_PERIOD
    with _domain_errors():
        return [ShiftOut.of(shift) for shift in store.list_shifts(start, end)]


@router.post("/shifts", response_model=ShiftOut, status_code=HTTPStatus.CREATED)
def add_shift(body: ShiftIn, store: StoreDep, services: ServicesDep) -> ShiftOut:
    with _domain_errors():
        shift = store.add_shift(Shift.local(body.agent, body.start, body.end, body.timezone, note=body.note),
                                ACTOR)
    services.on_rota_changed()
    return ShiftOut.of(shift)


@router.delete("/shifts/{shift_id}", response_model=ShiftOut)
def delete_shift(shift_id: int, store: StoreDep, services: ServicesDep) -> ShiftOut:
    """Remove a shift; the response is the shift removed."""
    with _domain_errors():
        shift = store.delete_shift(shift_id, ACTOR)
    services.on_rota_changed()
    return ShiftOut.of(shift)


@router.post("/rota/import", response_model=ImportOut)
def import_rota(body: RotaDocumentIn, store: StoreDep, services: ServicesDep) -> ImportSummary:
    """Apply a rota document all or nothing (weekly patterns are expanded for the next days)."""
    document: dict[str, Any] = body.model_dump()
    with _domain_errors():
        summary = store.import_rota(document, ACTOR)
    services.on_rota_changed()
    return summary


@router.get("/rota/on-shift", response_model=OnShiftOut)
def on_shift(store: StoreDep) -> OnShiftOut:
    """The agents on shift now: those routing may give calls to (if available)."""
    now = store.now()
    return OnShiftOut(at=now, agents=[AgentOut.model_validate(agent) for agent in store.on_shift(now)])
