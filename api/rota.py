"""Rota API for supervisors: agents, shift templates, patterns, one-off shifts, absences, breaks, holidays,
swaps; copy a week; import/export (rota document, iCalendar, CSV); coverage, validation and staffing.

Routes are thin: they parse, call ``shifts`` and translate its errors. An invalid entry is 422 with the
domain's sentence in ``detail``; an edit that breaks an error rule is 422 with the sentence in ``detail``
and every rule finding as data in ``findings`` (rule, severity, agent, the shifts in local time, message;
see :class:`RefusedOut`); unknown ids are 404. An accepted edit that adds findings of severity
``warning`` (too little rest, by default) returns them in its ``warnings``. Every successful edit calls
``services.on_rota_changed`` so routing applies it at once. Only supervisors and admins reach these routes
(``api.app``); every edit is audited under the signed-in user's name.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from http import HTTPStatus
from typing import Annotated, Any, Literal, Self, cast

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.auth import Principal, Staff, actor
from api.deps import RowId, ServicesDep
from shifts.coverage import Staffing, coverage
from shifts.document import pattern_to_spec, template_from_spec, template_to_spec
from shifts.erlang import StaffingError
from shifts.exchange import from_csv, from_ical, to_csv, to_ical
from shifts.plan import Holiday, Swap, absence_for_days
from shifts.rota import Absence, Agent, Break, RotaError, Shift, zone
from shifts.rules import Finding, RuleViolation
from shifts.staffing import Demand, Targets, forecast_from_history, staffing_check
from shifts.store import NotFoundError, RotaStore


class RotaRoute(APIRoute):
    """A route that answers an edit refused by the rules with 422 and the findings as data
    (:class:`RefusedOut`), not only as sentences."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_refusal(request: Request) -> Response:
            try:
                return await handle(request)
            except RuleViolation as error:
                body = RefusedOut(detail=str(error), findings=[FindingOut.of(f) for f in error.findings])
                return JSONResponse(body.model_dump(mode="json"), status_code=HTTPStatus.UNPROCESSABLE_ENTITY,
                                    headers={"X-Rule-Findings": str(len(error.findings))})

        return handle_refusal


router = APIRouter(tags=["rota"], route_class=RotaRoute)

DEFAULT_PERIOD = timedelta(days=7)
MAX_PERIOD = timedelta(days=400)


def get_store(services: ServicesDep) -> RotaStore:
    return cast(RotaStore, services.rota)


StoreDep = Annotated[RotaStore, Depends(get_store)]
Start = Annotated[AwareDatetime | None, Query(description="Default: now.")]
End = Annotated[AwareDatetime | None, Query(description="Default: start + 7 days.")]


@contextmanager
def _domain_errors() -> Iterator[None]:
    try:
        yield
    except RuleViolation:
        raise  # answered with its findings by RotaRoute
    except (RotaError, StaffingError) as error:
        raise HTTPException(HTTPStatus.UNPROCESSABLE_ENTITY, detail=str(error)) from None
    except NotFoundError as error:
        raise HTTPException(HTTPStatus.NOT_FOUND, detail=str(error)) from None


def _period(store: RotaStore, start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    start = start if start is not None else store.now()
    end = end if end is not None else start + DEFAULT_PERIOD
    if end <= start:
        raise HTTPException(HTTPStatus.UNPROCESSABLE_ENTITY,
                            detail=f"The period ends at {end.isoformat()}, not after its start {start.isoformat()}.")
    if end - start > MAX_PERIOD:
        raise HTTPException(HTTPStatus.UNPROCESSABLE_ENTITY,
                            detail=f"The period is longer than {MAX_PERIOD.days} days; ask for less.")
    return start, end


def _text_body(media_type: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {media_type: {"schema": {"type": "string"}}}}}


def _changed(services: ServicesDep) -> None:
    services.on_rota_changed()


# --- schemas -----------------------------------------------------------------------------------------


class AgentIn(BaseModel):
    extension: str = Field(description="The SIP user the agent's phone registers as.", examples=["1001"])
    name: str = Field(examples=["Alice"])
    level: int = Field(1, ge=1, le=9, description="Support level, 1 to 9.")
    skills: list[str] = Field([], description="Queues the agent serves.", examples=[["network"]])
    timezone: str = Field("UTC", description="Where the agent lives (whole-day leave is taken there).")


class AgentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    extension: str
    name: str
    level: int
    skills: list[str] = []
    timezone: str = "UTC"


class ShiftIn(BaseModel):
    agent: str = Field(description="Extension of the agent.", examples=["1001"])
    start: datetime = Field(description="ISO 8601; without a UTC offset, wall-clock time in `timezone`.",
                            examples=["2026-10-24T22:00"])
    end: datetime = Field(description="ISO 8601, after `start`; without an offset, wall-clock time.",
                          examples=["2026-10-25T06:00"])
    timezone: str = Field(description="IANA time zone the shift is defined in.", examples=["Europe/Paris"])
    note: str = ""
    kind: Literal["duty", "on_call"] = "duty"


class ShiftOut(BaseModel):
    id: int | None
    agent: str
    start: datetime = Field(description="UTC.")
    end: datetime = Field(description="UTC.")
    timezone: str
    note: str
    kind: str = "duty"

    @classmethod
    def of(cls, shift: Shift) -> Self:
        return cls(id=shift.id, agent=shift.extension, start=shift.start, end=shift.end,
                   timezone=shift.timezone, note=shift.note, kind=shift.kind)


class BreakRuleIn(BaseModel):
    after_minutes: int = Field(ge=0, le=24 * 60, description="Minutes from the start of the shift.",
                               examples=[240])
    minutes: int = Field(ge=1, le=24 * 60, examples=[30])


class TemplateIn(BaseModel):
    name: str = Field(examples=["early"])
    start: str = Field(description="HH:MM local time.", examples=["06:00"])
    end: str = Field(description="HH:MM; at or before `start` crosses midnight; 24:00 allowed.", examples=["14:00"])
    kind: Literal["duty", "on_call"] = "duty"
    breaks: list[BreakRuleIn] = []


class TemplateOut(TemplateIn):
    id: int | None


class PatternIn(BaseModel):
    """A recurring pattern. ``weekly``: agent, days, template. ``rotating``: agent, cycle (template names,
    null for a day off), anchor (day 0). ``on_call``: agents taking turns, template, anchor, turn_days, level."""

    kind: Literal["weekly", "rotating", "on_call"]
    timezone: str = Field(examples=["Europe/Paris"])
    agent: str | None = None
    agents: list[str] | None = None
    days: list[str] | None = None
    template: str | None = None
    cycle: list[str | None] | None = None
    anchor: date | None = None
    turn_days: int = Field(7, ge=1, le=366)
    level: int = Field(2, ge=1, le=9)
    valid_from: date | None = None
    valid_until: date | None = None
    skip_holidays: bool = False


class PatternOut(BaseModel):
    id: int | None
    spec: dict[str, Any]


class AbsenceIn(BaseModel):
    """Either ``start``/``end`` (a partial day or any span) or ``first_day``/``last_day`` (whole days in
    the agent's time zone)."""

    agent: str
    kind: Literal["leave", "sickness", "training", "other"] = "leave"
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    first_day: date | None = None
    last_day: date | None = None
    note: str = ""


class AbsenceOut(BaseModel):
    id: int | None
    agent: str
    kind: str
    start: datetime
    end: datetime
    note: str

    @classmethod
    def of(cls, a: Absence) -> AbsenceOut:
        return cls(id=a.id, agent=a.extension, kind=a.kind, start=a.start, end=a.end, note=a.note)


class BreakIn(BaseModel):
    agent: str
    start: AwareDatetime
    end: AwareDatetime


class BreakOut(BreakIn):
    id: int | None


class HolidayIn(BaseModel):
    day: date
    name: str = Field(examples=["Christmas Day"])


class HolidayOut(HolidayIn):
    id: int | None


class SwapIn(BaseModel):
    agent: str = Field(description="Whose shift is handed over.")
    start: AwareDatetime = Field(description="The start of that shift.")
    to: str = Field(description="Who works it instead.")
    note: str = ""


class SwapOut(SwapIn):
    id: int | None


class CopyWeekIn(BaseModel):
    source_monday: date
    target_monday: date


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


class FindingShiftOut(BaseModel):
    id: int | None = Field(description="Set for a one-off shift; a pattern's shift has none.")
    agent: str = Field(description="Who works it (after swaps).")
    start: datetime = Field(description="Local time in `timezone`, with its UTC offset.")
    end: datetime = Field(description="Local time in `timezone`, with its UTC offset.")
    timezone: str
    kind: str
    note: str

    @classmethod
    def of(cls, shift: Shift) -> FindingShiftOut:
        tz = zone(shift.timezone)
        return cls(id=shift.id, agent=shift.extension, start=shift.start.astimezone(tz),
                   end=shift.end.astimezone(tz), timezone=shift.timezone, kind=shift.kind, note=shift.note)


class FindingOut(BaseModel):
    severity: Literal["error", "warning"]
    rule: Literal["overlap", "max_shift", "min_rest"]
    agent: str
    start: datetime = Field(description="UTC: the start of the first shift involved.")
    end: datetime = Field(description="UTC: the end of the last shift involved.")
    shifts: list[FindingShiftOut] = Field(description="The shift too long, or the two shifts that overlap or "
                                                      "leave too little rest between them, in that order.")
    message: str

    @classmethod
    def of(cls, f: Finding) -> FindingOut:
        return cls.model_validate({"severity": f.severity.value, "rule": f.rule, "agent": f.extension,
                                   "start": f.start, "end": f.end, "message": f.message,
                                   "shifts": [FindingShiftOut.of(s) for s in f.shifts]})


class RefusedOut(BaseModel):
    """The 422 body of an edit refused by the rules."""

    detail: str = Field(description="The findings in sentences (the first five) for a person to read.")
    findings: list[FindingOut] = Field(description="Every finding of severity error the edit would add.")


class Warned(BaseModel):
    warnings: list[FindingOut] = Field([], description="Findings of severity warning this edit added; it was "
                                                       "made all the same.")

    def warned(self, warnings: list[Finding]) -> Self:
        """This response with ``warnings`` (a finding list collected by ``RotaStore.collecting_warnings``)."""
        self.warnings = [FindingOut.of(f) for f in warnings]
        return self


class ShiftEdited(Warned, ShiftOut):
    pass


class TemplateEdited(Warned, TemplateOut):
    pass


class PatternEdited(Warned, PatternOut):
    pass


class HolidayEdited(Warned, HolidayOut):
    pass


class SwapEdited(Warned, SwapOut):
    pass


class ImportEdited(Warned, ImportOut):
    pass


class CopyWeekOut(Warned):
    shifts: list[ShiftOut] = Field(description="The one-off shifts added to the target week.")
    breaks: list[BreakOut] = Field(description="The one-off breaks added to the target week.")
    skipped: list[str] = Field(description="Entries of the source week not copied, and why.")


class ValidationOut(BaseModel):
    start: datetime
    end: datetime
    findings: list[FindingOut]
    issues: list[str] = Field(description="Warnings from expanding the plan (e.g. a swap matching no shift).")


class StaffingIn(BaseModel):
    """Minimum agents available at every instant."""

    total: int = Field(1, ge=0, le=10_000)
    levels: dict[int, int] = Field({}, examples=[{"2": 1}])
    skills: dict[str, int] = Field({}, examples=[{"network": 1}])


class CoverageIn(BaseModel):
    start: AwareDatetime
    end: AwareDatetime
    staffing: StaffingIn = StaffingIn()


class GapOut(BaseModel):
    start: datetime
    end: datetime
    message: str


class ShortfallOut(BaseModel):
    what: str
    start: datetime
    end: datetime
    needed: int
    lowest: int
    message: str


class CoverageOut(BaseModel):
    start: datetime
    end: datetime
    covered: bool
    gaps: list[GapOut]
    shortfalls: list[ShortfallOut]


class DemandIn(BaseModel):
    start: AwareDatetime
    calls: float = Field(ge=0)


class StaffingCheckIn(BaseModel):
    """Staffing per interval: from ``forecast`` (calls per interval start) or, without it, from the call
    history of the ``history_weeks`` weeks before (needs a history source)."""

    start: AwareDatetime
    end: AwareDatetime
    interval_minutes: Literal[15, 30] = 30
    forecast: list[DemandIn] | None = None
    history_weeks: int = Field(4, ge=1, le=52)
    timezone: str = Field("UTC", description="The site's time zone: history is read at the same local time "
                                             "of day, across DST changes.", examples=["Europe/Paris"])
    aht_s: float = Field(180, gt=0)
    service_level: float = Field(0.8, gt=0, lt=1)
    answer_s: float = Field(20, ge=0)
    shrinkage: float = Field(0.3, ge=0, lt=1)


class IntervalOut(BaseModel):
    start: datetime
    end: datetime
    calls: float
    agents_needed: int = Field(description="On the phones (Erlang C).")
    roster_needed: int = Field(description="To roster, after shrinkage.")
    rostered: int
    service_level: float = Field(description="Expected with agents_needed.")
    asa_s: float
    understaffed: bool
    short: int


class AuditOut(BaseModel):
    at: datetime
    actor: str
    action: str
    before: Any
    after: Any


class ImportFileOut(Warned):
    shifts: int
    absences: int


# --- agents ------------------------------------------------------------------------------------------


@router.get("/agents", response_model=list[AgentOut])
def list_agents(store: StoreDep) -> list[Agent]:
    return store.list_agents()


@router.post("/agents", response_model=AgentOut)
def upsert_agent(who: Staff, body: AgentIn, store: StoreDep, services: ServicesDep) -> Agent:
    """Add an agent, or update the agent with that extension."""
    with _domain_errors():
        agent = store.upsert_agent(Agent(body.extension, body.name, body.level, tuple(body.skills), body.timezone),
                                   actor(who))
    _changed(services)
    return agent


@router.get("/agents/{extension}", response_model=AgentOut)
def get_agent(extension: str, store: StoreDep) -> Agent:
    agent = store.get_agent(extension)
    if agent is None:
        raise HTTPException(HTTPStatus.NOT_FOUND, detail=f"There is no agent with extension {extension!r}.")
    return agent


@router.delete("/agents/{extension}", response_model=AgentOut)
def delete_agent(who: Staff, extension: str, store: StoreDep, services: ServicesDep) -> Agent:
    """Remove an agent with their shifts, absences, breaks and swaps (refused while a pattern names them)."""
    with _domain_errors():
        agent = store.delete_agent(extension, actor(who))
    _changed(services)
    return agent


# --- templates and patterns --------------------------------------------------------------------------


def _template_out(template: Any) -> TemplateOut:
    return TemplateOut.model_validate(template_to_spec(template))


@router.get("/templates", response_model=list[TemplateOut])
def list_templates(store: StoreDep) -> list[TemplateOut]:
    return [_template_out(t) for t in store.list_templates()]


@router.post("/templates", response_model=TemplateOut, status_code=HTTPStatus.CREATED)
def add_template(who: Staff, body: TemplateIn, store: StoreDep, services: ServicesDep) -> TemplateOut:
    with _domain_errors():
        template = store.save_template(template_from_spec(body.model_dump()), actor(who))
    _changed(services)
    return _template_out(template)


@router.put("/templates/{template_id}", response_model=TemplateEdited)
def replace_template(who: Staff, template_id: RowId, body: TemplateIn,
                     store: StoreDep, services: ServicesDep) -> TemplateEdited:
    """Change a template; every pattern using it follows."""
    with _domain_errors(), store.collecting_warnings() as warnings:
        template = store.save_template(template_from_spec(body.model_dump(), template_id), actor(who))
    _changed(services)
    return TemplateEdited.model_validate(template_to_spec(template)).warned(warnings)


@router.delete("/templates/{template_id}", response_model=TemplateOut)
def delete_template(who: Staff, template_id: RowId, store: StoreDep, services: ServicesDep) -> TemplateOut:
    """Remove a template no pattern uses."""
    with _domain_errors():
        template = store.delete_template(template_id, actor(who))
    _changed(services)
    return _template_out(template)


@router.get("/patterns", response_model=list[PatternOut])
def list_patterns(store: StoreDep) -> list[PatternOut]:
    return [PatternOut(id=p.id, spec=pattern_to_spec(p)) for p in store.list_patterns()]


def _spec(body: PatternIn) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in body.model_dump().items() if v is not None}


@router.post("/patterns", response_model=PatternEdited, status_code=HTTPStatus.CREATED)
def add_pattern(who: Staff, body: PatternIn, store: StoreDep, services: ServicesDep) -> PatternEdited:
    with _domain_errors(), store.collecting_warnings() as warnings:
        pattern = store.save_pattern(_spec(body), actor(who))
    _changed(services)
    return PatternEdited(id=pattern.id, spec=pattern_to_spec(pattern)).warned(warnings)


@router.put("/patterns/{pattern_id}", response_model=PatternEdited)
def replace_pattern(who: Staff, pattern_id: RowId, body: PatternIn,
                    store: StoreDep, services: ServicesDep) -> PatternEdited:
    with _domain_errors(), store.collecting_warnings() as warnings:
        pattern = store.save_pattern(_spec(body), actor(who), pattern_id)
    _changed(services)
    return PatternEdited(id=pattern.id, spec=pattern_to_spec(pattern)).warned(warnings)


@router.delete("/patterns/{pattern_id}", response_model=PatternOut)
def delete_pattern(who: Staff, pattern_id: RowId, store: StoreDep, services: ServicesDep) -> PatternOut:
    with _domain_errors():
        spec = store.delete_pattern(pattern_id, actor(who))
    _changed(services)
    return PatternOut(id=pattern_id, spec=spec)


# --- shifts ------------------------------------------------------------------------------------------


@router.get("/shifts", response_model=list[ShiftOut])
def list_shifts(store: StoreDep, start: Start = None, end: End = None,
                expanded: Annotated[bool, Query(description="Include the shifts patterns give.")] = False,
                ) -> list[ShiftOut]:
    """One-off shifts that overlap ``[start, end)``; with ``expanded``, every shift of the rota there."""
    start, end = _period(store, start, end)
    with _domain_errors():
        if expanded:
            return [ShiftOut.of(s) for s in store.rota(start, end).shifts if s.end > start and s.start < end]
        return [ShiftOut.of(shift) for shift in store.list_shifts(start, end)]


@router.post("/shifts", response_model=ShiftEdited, status_code=HTTPStatus.CREATED)
def add_shift(who: Staff, body: ShiftIn, store: StoreDep, services: ServicesDep) -> ShiftEdited:
    with _domain_errors(), store.collecting_warnings() as warnings:
        shift = store.add_shift(Shift.local(body.agent, body.start, body.end, body.timezone, note=body.note,
                                            kind=body.kind), actor(who))
    _changed(services)
    return ShiftEdited.of(shift).warned(warnings)


@router.put("/shifts/{shift_id}", response_model=ShiftEdited)
def replace_shift(who: Staff, shift_id: RowId, body: ShiftIn, store: StoreDep, services: ServicesDep) -> ShiftEdited:
    """Change a one-off shift (times, agent, kind, note); checked like a new one."""
    with _domain_errors(), store.collecting_warnings() as warnings:
        shift = store.update_shift(shift_id, Shift.local(body.agent, body.start, body.end, body.timezone,
                                                         note=body.note, kind=body.kind), actor(who))
    _changed(services)
    return ShiftEdited.of(shift).warned(warnings)


@router.delete("/shifts/{shift_id}", response_model=ShiftOut)
def delete_shift(who: Staff, shift_id: RowId, store: StoreDep, services: ServicesDep) -> ShiftOut:
    """Remove a shift; the response is the shift removed."""
    with _domain_errors():
        shift = store.delete_shift(shift_id, actor(who))
    _changed(services)
    return ShiftOut.of(shift)


@router.post("/shifts/copy-week", response_model=CopyWeekOut, status_code=HTTPStatus.CREATED)
def copy_week(who: Staff, body: CopyWeekIn, store: StoreDep, services: ServicesDep) -> CopyWeekOut:
    """Copy the schedule set by hand for one week onto another (both given by their Monday), at the same
    local wall-clock times, so a week copied across a DST change keeps its hours on the clock.

    **Copied**, as one-off entries of the target week: the one-off shifts that start in the source week
    (a local date in each shift's own time zone) and the one-off breaks taken during a shift that starts
    in that week (also a break added to a pattern's shift).

    **Not copied**: the shifts patterns give and their template breaks (patterns recur by themselves),
    absences (leave and sickness are dated events, not a schedule), swaps and holidays.

    **Skipped**, each with a sentence in `skipped`: an entry the target week has already (copying twice
    adds nothing), a shift the clocks skip in the target week, a break whose agent has no shift around it
    in the target week. The copy is one edit, checked like any other: an overlap with a shift of the
    target week refuses all of it (422 with the findings); warnings come back in `warnings`.
    """
    with _domain_errors(), store.collecting_warnings() as warnings:
        copied = store.copy_week(body.source_monday, body.target_monday, actor(who))
    _changed(services)
    return CopyWeekOut(shifts=[ShiftOut.of(s) for s in copied.shifts],
                       breaks=[BreakOut(id=b.id, agent=b.extension, start=b.start, end=b.end) for b in copied.breaks],
                       skipped=list(copied.skipped)).warned(warnings)


# --- absences, breaks, holidays, swaps ---------------------------------------------------------------


@router.get("/absences", response_model=list[AbsenceOut])
def list_absences(store: StoreDep, start: Start = None, end: End = None) -> list[AbsenceOut]:
    start, end = _period(store, start, end)
    return [AbsenceOut.of(a) for a in store.list_absences(start, end)]


def _absence(body: AbsenceIn, store: RotaStore) -> Absence:
    if body.start is not None and body.end is not None:
        return Absence(body.agent, body.start, body.end, body.kind, body.note)
    if body.first_day is not None:
        agent = store.get_agent(body.agent)
        if agent is None:
            raise RotaError(f"There is no agent with extension {body.agent!r} in the rota.")
        return absence_for_days(body.agent, body.first_day, body.last_day or body.first_day, agent.timezone,
                                body.kind, body.note)
    raise RotaError("An absence needs start and end, or first_day (and last_day).")


@router.post("/absences", response_model=AbsenceOut, status_code=HTTPStatus.CREATED)
def add_absence(who: Staff, body: AbsenceIn, store: StoreDep, services: ServicesDep) -> AbsenceOut:
    """Leave, sickness, training: the agent gets no call during it, at once if it has begun."""
    with _domain_errors():
        stored = store.add_absence(_absence(body, store), actor(who))
    _changed(services)
    return AbsenceOut.of(stored)


@router.put("/absences/{absence_id}", response_model=AbsenceOut)
def replace_absence(who: Staff, absence_id: RowId, body: AbsenceIn, store: StoreDep,
                    services: ServicesDep) -> AbsenceOut:
    """Change an absence: end a sickness early, extend leave."""
    with _domain_errors():
        stored = store.update_absence(absence_id, _absence(body, store), actor(who))
    _changed(services)
    return AbsenceOut.of(stored)


def _delete(who: Principal, kind: str, entry_id: int, store: RotaStore, services: ServicesDep) -> dict[str, Any]:
    """The entry removed, with the warnings its removal added (a holiday or swap gives shifts back)."""
    with _domain_errors(), store.collecting_warnings() as warnings:
        before = store.delete_entry(kind, entry_id, actor(who))
    _changed(services)
    return dict(before) | {"warnings": [FindingOut.of(f).model_dump(mode="json") for f in warnings]}


@router.delete("/absences/{absence_id}", response_model=dict[str, Any])
def delete_absence(who: Staff, absence_id: RowId, store: StoreDep, services: ServicesDep) -> dict[str, Any]:
    return _delete(who, "absence", absence_id, store, services)


@router.get("/breaks", response_model=list[BreakOut])
def list_breaks(store: StoreDep, start: Start = None, end: End = None) -> list[BreakOut]:
    start, end = _period(store, start, end)
    return [BreakOut(id=b.id, agent=b.extension, start=b.start, end=b.end) for b in store.list_breaks(start, end)]


@router.post("/breaks", response_model=BreakOut, status_code=HTTPStatus.CREATED)
def add_break(who: Staff, body: BreakIn, store: StoreDep, services: ServicesDep) -> BreakOut:
    with _domain_errors():
        item = store.add_break(Break(body.agent, body.start, body.end), actor(who))
    _changed(services)
    return BreakOut(id=item.id, agent=item.extension, start=item.start, end=item.end)


@router.put("/breaks/{break_id}", response_model=BreakOut)
def replace_break(who: Staff, break_id: RowId, body: BreakIn, store: StoreDep, services: ServicesDep) -> BreakOut:
    """Move or resize a one-off break, or give it to another agent."""
    with _domain_errors():
        item = store.update_break(break_id, Break(body.agent, body.start, body.end), actor(who))
    _changed(services)
    return BreakOut(id=item.id, agent=item.extension, start=item.start, end=item.end)


@router.delete("/breaks/{break_id}", response_model=dict[str, Any])
def delete_break(who: Staff, break_id: RowId, store: StoreDep, services: ServicesDep) -> dict[str, Any]:
    return _delete(who, "break", break_id, store, services)


@router.get("/holidays", response_model=list[HolidayOut])
def list_holidays(store: StoreDep) -> list[HolidayOut]:
    return [HolidayOut(id=h.id, day=h.day, name=h.name) for h in store.list_holidays()]


@router.post("/holidays", response_model=HolidayOut, status_code=HTTPStatus.CREATED)
def add_holiday(who: Staff, body: HolidayIn, store: StoreDep, services: ServicesDep) -> HolidayOut:
    """A public holiday: patterns marked ``skip_holidays`` give no shift starting that day."""
    with _domain_errors():
        holiday = store.add_holiday(Holiday(body.day, body.name), actor(who))
    _changed(services)
    return HolidayOut(id=holiday.id, day=holiday.day, name=holiday.name)


@router.put("/holidays/{holiday_id}", response_model=HolidayEdited)
def replace_holiday(who: Staff, holiday_id: RowId, body: HolidayIn,
                    store: StoreDep, services: ServicesDep) -> HolidayEdited:
    """Move a holiday to another day or rename it; the shifts it skipped on the old day come back."""
    with _domain_errors(), store.collecting_warnings() as warnings:
        holiday = store.update_holiday(holiday_id, Holiday(body.day, body.name), actor(who))
    _changed(services)
    return HolidayEdited(id=holiday.id, day=holiday.day, name=holiday.name).warned(warnings)


@router.delete("/holidays/{holiday_id}", response_model=dict[str, Any])
def delete_holiday(who: Staff, holiday_id: RowId, store: StoreDep, services: ServicesDep) -> dict[str, Any]:
    return _delete(who, "holiday", holiday_id, store, services)


@router.get("/swaps", response_model=list[SwapOut])
def list_swaps(store: StoreDep) -> list[SwapOut]:
    return [SwapOut(id=s.id, agent=s.extension, start=s.start, to=s.to, note=s.note) for s in store.list_swaps()]


@router.post("/swaps", response_model=SwapEdited, status_code=HTTPStatus.CREATED)
def add_swap(who: Staff, body: SwapIn, store: StoreDep, services: ServicesDep) -> SwapEdited:
    """Hand the shift of ``agent`` starting at ``start`` to ``to``; two swaps make an exchange."""
    with _domain_errors(), store.collecting_warnings() as warnings:
        swap = store.add_swap(Swap(body.agent, body.start, body.to, body.note), actor(who))
    _changed(services)
    return SwapEdited(id=swap.id, agent=swap.extension, start=swap.start, to=swap.to, note=swap.note).warned(warnings)


@router.put("/swaps/{swap_id}", response_model=SwapEdited)
def replace_swap(who: Staff, swap_id: RowId, body: SwapIn, store: StoreDep, services: ServicesDep) -> SwapEdited:
    """Change a swap: another shift, another agent taking it, a new note."""
    with _domain_errors(), store.collecting_warnings() as warnings:
        swap = store.update_swap(swap_id, Swap(body.agent, body.start, body.to, body.note), actor(who))
    _changed(services)
    return SwapEdited(id=swap.id, agent=swap.extension, start=swap.start, to=swap.to, note=swap.note).warned(warnings)


@router.delete("/swaps/{swap_id}", response_model=dict[str, Any])
def delete_swap(who: Staff, swap_id: RowId, store: StoreDep, services: ServicesDep) -> dict[str, Any]:
    return _delete(who, "swap", swap_id, store, services)


# --- the rota as a whole -----------------------------------------------------------------------------


@router.post("/rota/import", response_model=ImportEdited)
def import_rota(who: Staff, body: RotaDocumentIn, store: StoreDep, services: ServicesDep) -> ImportEdited:
    """Apply a rota document all or nothing: agents upserted; its weekly entries replace the patterns and
    its shifts replace the one-off shifts not yet ended."""
    document: dict[str, Any] = body.model_dump()
    with _domain_errors(), store.collecting_warnings() as warnings:
        summary = store.import_rota(document, actor(who))
    _changed(services)
    return ImportEdited.model_validate(summary, from_attributes=True).warned(warnings)


@router.get("/rota/on-shift", response_model=OnShiftOut)
def on_shift(store: StoreDep) -> OnShiftOut:
    """The agents on shift now (absent or not); routing gives calls to those available and not near the end."""
    now = store.now()
    return OnShiftOut(at=now, agents=[AgentOut.model_validate(agent) for agent in store.on_shift(now)])


@router.get("/rota/validation", response_model=ValidationOut)
def validation(store: StoreDep, start: Start = None, end: End = None) -> ValidationOut:
    """Every rule finding (errors and warnings) of the period, and the plan's expansion warnings."""
    start, end = _period(store, start, end)
    with _domain_errors():
        findings = store.validate(start, end)
        issues = store.rota(start, end).issues
    return ValidationOut(start=start, end=end, issues=list(issues), findings=[FindingOut.of(f) for f in findings])


@router.post("/rota/coverage", response_model=CoverageOut)
def rota_coverage(body: CoverageIn, store: StoreDep) -> CoverageOut:
    """Gaps in 24/7 coverage and intervals below the minimum staffing, per level and skill."""
    start, end = _period(store, body.start, body.end)
    with _domain_errors():
        staffing = Staffing(body.staffing.total, body.staffing.levels, body.staffing.skills)
        report = coverage(store.rota(start, end), start, end, staffing)
    return CoverageOut(
        start=start, end=end, covered=report.covered,
        gaps=[GapOut(start=g.start, end=g.end, message=g.message) for g in report.gaps],
        shortfalls=[ShortfallOut(what=s.what, start=s.start, end=s.end, needed=s.needed, lowest=s.lowest,
                                 message=s.message) for s in report.shortfalls])


@router.post("/rota/staffing", response_model=list[IntervalOut])
def rota_staffing(body: StaffingCheckIn, store: StoreDep, services: ServicesDep) -> list[IntervalOut]:
    """Agents needed per interval (Erlang C) against the agents rostered; understaffed ones flagged."""
    start, end = _period(store, body.start, body.end)
    step = timedelta(minutes=body.interval_minutes)
    with _domain_errors():
        if body.forecast is not None:
            demand = [Demand(d.start, d.calls) for d in body.forecast]
        elif services.call_history is not None:
            demand = forecast_from_history(services.call_history, start, end, step, body.history_weeks,
                                           body.timezone)
        else:
            raise RotaError("Give a forecast: no call history source is configured yet.")
        rows = staffing_check(store.rota(start, end + step), demand, step,
                              Targets(body.aht_s, body.service_level, body.answer_s, body.shrinkage))
    return [IntervalOut(start=r.start, end=r.end, calls=r.calls, agents_needed=r.needed.agents,
                        roster_needed=r.needed.rostered, rostered=r.rostered, service_level=r.needed.service_level,
                        asa_s=r.needed.asa_s, understaffed=r.understaffed, short=r.short) for r in rows]


@router.get("/rota/audit", response_model=list[AuditOut])
def audit(store: StoreDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[AuditOut]:
    """The latest edits, newest first: who, when, what, before and after."""
    return [AuditOut(at=e.at, actor=e.actor, action=e.action, before=e.before, after=e.after)
            for e in store.audit(limit)]


@router.get("/rota/export.ics", response_class=Response, responses=_text_body("text/calendar"))
def export_ical(store: StoreDep, start: Start = None, end: End = None) -> Response:
    """Every shift (patterns expanded, swaps applied) and absence of the period as iCalendar."""
    start, end = _period(store, start, end)
    rota = store.rota(start, end)
    shifts = [s for s in rota.shifts if s.end > start and s.start < end]
    absences = [a for a in rota.absences if a.end > start and a.start < end]
    return Response(to_ical(rota.agents.values(), shifts, absences), media_type="text/calendar")


@router.get("/rota/export.csv", response_class=Response, responses=_text_body("text/csv"))
def export_csv(store: StoreDep, start: Start = None, end: End = None) -> Response:
    start, end = _period(store, start, end)
    rota = store.rota(start, end)
    shifts = [s for s in rota.shifts if s.end > start and s.start < end]
    absences = [a for a in rota.absences if a.end > start and a.start < end]
    return Response(to_csv(shifts, absences), media_type="text/csv")


@router.post("/rota/import-file", response_model=ImportFileOut, status_code=HTTPStatus.CREATED)
async def import_file(who: Staff, request: Request, store: StoreDep, services: ServicesDep,
                      body: Annotated[bytes, Body(media_type="text/calendar")] = b"") -> ImportFileOut:
    """Add the shifts and absences of an iCalendar (``Content-Type: text/calendar``) or CSV (``text/csv``)
    file, all or nothing."""
    data = body or await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    with _domain_errors():
        if content_type == "text/calendar":
            entries = from_ical(data, {agent.extension: agent.timezone for agent in store.list_agents()})
        elif content_type == "text/csv":
            try:
                entries = from_csv(data.decode("utf-8"))
            except UnicodeDecodeError:
                raise RotaError("The CSV file is not UTF-8 text.") from None
        else:
            raise RotaError(f"Send text/calendar or text/csv, not {content_type or 'nothing'!r}.")
        with store.collecting_warnings() as warnings:
            store.add_entries(list(entries.shifts), list(entries.absences), actor(who))
    _changed(services)
    return ImportFileOut(shifts=len(entries.shifts), absences=len(entries.absences)).warned(warnings)
