"""Read API of cases: ``GET /cases``, ``GET /cases/{case_id}``, ``GET /calls/{sip_call_id}``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Any, Protocol, cast

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict

from api.auth import CurrentUser, Principal, error_responses
from api.deps import ServicesDep
from cases.model import (
    MAX_PAGE_SIZE,
    CallOutcome,
    CallView,
    CaseDetail,
    CaseStatus,
    CaseView,
    HangupBy,
    Speaker,
    TranscriptStatus,
    UnknownCall,
    UnknownCase,
)


class CaseReads(Protocol):
    """What this router needs of ``cases.store.CaseStore``."""

    def list_cases(
        self, limit: int, offset: int = 0, caller_number: str | None = None, status: CaseStatus | None = None,
        worked_by: str | None = None,
    ) -> Sequence[CaseView]: ...

    def count_cases(self, caller_number: str | None = None, status: CaseStatus | None = None,
                    worked_by: str | None = None) -> int: ...

    def works_on(self, case_id: int, extension: str) -> bool: ...

    def get_case(self, case_id: int) -> CaseDetail: ...

    def get_call(self, sip_call_id: str) -> CallView: ...


def get_case_reads(services: ServicesDep) -> CaseReads:
    return cast(CaseReads, services.cases)


CasesDep = Annotated[CaseReads, Depends(get_case_reads)]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class WordOut(_Out):
    text: str
    start: float
    end: float
    conf: float


class SegmentOut(_Out):
    speaker: Speaker
    start: float
    end: float
    text: str
    words: list[WordOut]


class CallEventOut(_Out):
    at: datetime
    kind: str
    detail: dict[str, Any]


class CallOut(_Out):
    id: int
    sip_call_id: str
    case_id: int
    caller_number: str
    dialled_number: str
    worker: str
    agent_extension: str | None
    outcome: CallOutcome | None
    hangup_by: HangupBy | None
    started_at: datetime
    queued_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    transcript_status: TranscriptStatus
    events: list[CallEventOut]
    segments: list[SegmentOut]


class CaseOut(_Out):
    id: int
    caller_number: str
    status: CaseStatus
    category: str | None
    subject: str | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    call_count: int


class CaseDetailOut(CaseOut):
    calls: list[CallOut]


class CasePageOut(BaseModel):
    items: list[CaseOut]
    total: int
    limit: int
    offset: int


router = APIRouter(tags=["cases"], responses=error_responses(401, 403))


def scope(principal: Principal) -> str | None:
    """Whose cases this user may see: every case for supervisors and admins, else the agent's own (an agent
    with no extension works none)."""
    if principal.is_staff:
        return None
    return principal.user.extension or "\x00no extension"


def check_case(cases: CaseReads, principal: Principal, case_id: int) -> None:
    """404 for a case the user may not see, exactly as for one that does not exist: its existence is data."""
    worked_by = scope(principal)
    if worked_by is not None and not cases.works_on(case_id, worked_by):
        raise HTTPException(HTTPStatus.NOT_FOUND, detail=str(UnknownCase(case_id)))


@router.get("/cases", response_model=CasePageOut, summary="List cases, newest first")
def list_cases(
    cases: CasesDep,
    principal: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    caller: Annotated[str | None, Query(min_length=1, max_length=64, description="Caller number")] = None,
    status: Annotated[CaseStatus | None, Query()] = None,
) -> CasePageOut:
    worked_by = scope(principal)
    items = cases.list_cases(limit, offset, caller_number=caller, status=status, worked_by=worked_by)
    total = cases.count_cases(caller_number=caller, status=status, worked_by=worked_by)
    return CasePageOut(items=[CaseOut.model_validate(item) for item in items], total=total, limit=limit,
                       offset=offset)


@router.get("/cases/{case_id}", response_model=CaseDetailOut, summary="A case with its calls and transcripts")
def show_case(case_id: int, cases: CasesDep, principal: CurrentUser) -> CaseDetailOut:
    check_case(cases, principal, case_id)
    try:
        return CaseDetailOut.model_validate(cases.get_case(case_id))
    except UnknownCase as exc:
        raise HTTPException(HTTPStatus.NOT_FOUND, detail=str(exc)) from exc


# ``:path`` because a SIP Call-ID may contain "/" (RFC 3261 ``word``); clients percent-encode it.
@router.get("/calls/{sip_call_id:path}", response_model=CallOut, summary="A call by its SIP Call-ID")
def show_call(sip_call_id: str, cases: CasesDep, principal: CurrentUser) -> CallOut:
    try:
        call = cases.get_call(sip_call_id)
        worked_by = scope(principal)
        if worked_by is not None and call.agent_extension != worked_by and not cases.works_on(call.case_id,
                                                                                               worked_by):
            raise UnknownCall(sip_call_id)
        return CallOut.model_validate(call)
    except UnknownCall as exc:
        raise HTTPException(HTTPStatus.NOT_FOUND, detail=str(exc)) from exc
