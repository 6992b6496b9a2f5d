"""Read API of cases: ``GET /cases``, ``GET /cases/{case_id}``, ``GET /calls/{sip_call_id}``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Any, Protocol, cast

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict

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
        self, limit: int, offset: int = 0, caller_number: str | None = None, status: CaseStatus | None = None
    ) -> Sequence[CaseView]: ...

    def count_cases(self, caller_number: str | None = None, status: CaseStatus | None = None) -> int: ...

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


router = APIRouter(tags=["cases"])


@router.get("/cases", response_model=CasePageOut, summary="List cases, newest first")
def list_cases(
    cases: CasesDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    caller: Annotated[str | None, Query(min_length=1, max_length=64, description="Caller number")] = None,
    status: Annotated[CaseStatus | None, Query()] = None,
) -> CasePageOut:
    items = cases.list_cases(limit, offset, caller_number=caller, status=status)
    total = cases.count_cases(caller_number=caller, status=status)
    return CasePageOut(items=[CaseOut.model_validate(item) for item in items], total=total, limit=limit,
                       offset=offset)


@router.get("/cases/{case_id}", response_model=CaseDetailOut, summary="A case with its calls and transcripts")
def show_case(case_id: int, cases: CasesDep) -> CaseDetailOut:
    try:
        return CaseDetailOut.model_validate(cases.get_case(case_id))
    except UnknownCase as exc:
        raise HTTPException(HTTPStatus.NOT_FOUND, detail=str(exc)) from exc


# ``:path`` because a SIP Call-ID may contain "/" (RFC 3261 ``word``); clients percent-encode it.
@router.get("/calls/{sip_call_id:path}", response_model=CallOut, summary="A call by its SIP Call-ID")
def show_call(sip_call_id: str, cases: CasesDep) -> CallOut:
    try:
        return CallOut.model_validate(cases.get_call(sip_call_id))
    except UnknownCall as exc:
        raise HTTPException(HTTPStatus.NOT_FOUND, detail=str(exc)) from exc
