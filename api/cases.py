"""The cases API: list (filters, pagination, full-text search over transcripts), show, open, edit, notes,
escalate to level 2 (the transcript attached), close with a resolution, knowledge-base suggestions; and a
call by its SIP Call-ID. For a call still in progress, whose transcript is stored only after it ends, the
escalation note and the suggestions use what the live transcript has heard so far.

Agents see and change only the cases they work (they opened it or answered one of its calls); any other
case is 404 to them, exactly like a missing one. Supervisors and admins see every case.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Any, Literal, Protocol, cast

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CurrentUser, Principal, actor, error_responses
from api.deps import MAX_ROW_ID, RowId, ServicesDep
from api.knowledge import ArticlesDep, SuggestionOut, suggestion_out
from cases.knowledge import transcript_words
from cases.model import (
    MAX_PAGE_SIZE,
    TOP_LEVEL,
    CallOutcome,
    CallView,
    CaseDetail,
    CaseStateError,
    CaseStatus,
    CaseView,
    HangupBy,
    NoteKind,
    NoteView,
    OpenCaseExists,
    Priority,
    SegmentInput,
    Speaker,
    TranscriptStatus,
    UnknownCall,
    UnknownCase,
)


class CaseReads(Protocol):
    """What this router needs of ``cases.store.CaseStore``."""

    def list_cases(
        self, limit: int, offset: int = 0, caller_number: str | None = None, status: CaseStatus | None = None,
        worked_by: str | None = None, *, query: str | None = None, priority: Priority | None = None,
        category: str | None = None, level: int | None = None,
    ) -> Sequence[CaseView]: ...

    def count_cases(self, caller_number: str | None = None, status: CaseStatus | None = None,
                    worked_by: str | None = None, *, query: str | None = None, priority: Priority | None = None,
                    category: str | None = None, level: int | None = None) -> int: ...

    def works_on(self, case_id: int, extension: str) -> bool: ...

    def get_case(self, case_id: int) -> CaseDetail: ...

    def get_call(self, sip_call_id: str) -> CallView: ...


class CaseWork(CaseReads, Protocol):
    """What the writing routes need besides."""

    def open_case(self, caller_number: str, at: datetime, *, owner_extension: str | None = None,
                  priority: Priority | str = Priority.NORMAL, category: str | None = None,
                  subject: str | None = None, description: str | None = None) -> int: ...

    def update_case(self, case_id: int, at: datetime, changes: dict[str, Any]) -> None: ...

    def reopen_case(self, case_id: int, at: datetime) -> bool: ...

    def add_note(self, case_id: int, at: datetime, author: str, text: str) -> NoteView: ...

    def escalate(self, case_id: int, at: datetime, author: str, reason: str,
                 heard: Mapping[str, Sequence[SegmentInput]] | None = None) -> NoteView: ...

    def close_case(self, case_id: int, at: datetime, resolution: str | None = None,
                   author: str = "system") -> bool: ...


def heard_so_far(hub: Any, call_id: str) -> list[SegmentInput]:
    """The final segments a call in progress has produced so far, from the live transcript hub
    (``transcription.live.LiveTranscripts``, which replays them to a new subscriber): its stored transcript
    comes only after the call."""
    events: list[Any] = []
    subscription = hub.subscribe(call_id, events.append) if hub is not None else None
    if subscription is None:
        return []
    subscription.close()  # the replay was delivered during subscribe
    return [SegmentInput(e.segment.speaker, e.segment.start, e.segment.end, e.segment.text)
            for e in events if e.kind == "final" and e.segment is not None]


def heard_in_case(services: Any, case: CaseDetail) -> dict[str, list[SegmentInput]]:
    """What each call of the case without a stored transcript has said so far (a call in progress)."""
    heard = {call.sip_call_id: heard_so_far(services.live_transcripts, call.sip_call_id)
             for call in case.calls if not call.segments}
    return {call_id: segments for call_id, segments in heard.items() if segments}


def case_texts(case: CaseDetail, heard: Mapping[str, Sequence[SegmentInput]]) -> list[str]:
    """The words a case's suggestions come from: its transcripts (stored, or heard so far), subject,
    description and steps taken."""
    texts = [s.text for call in case.calls for s in call.segments]
    texts += [s.text for segments in heard.values() for s in segments]
    return texts + [t for t in (case.subject, case.description, case.steps_taken) if t]


def get_case_reads(services: ServicesDep) -> CaseWork:
    return cast(CaseWork, services.cases)


CasesDep = Annotated[CaseWork, Depends(get_case_reads)]


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
    priority: Priority
    level: int
    owner_extension: str | None
    description: str | None
    steps_taken: str | None
    resolution: str | None
    escalated_at: datetime | None


class NoteOut(_Out):
    id: int
    at: datetime
    author: str
    kind: NoteKind
    text: str


class CaseDetailOut(CaseOut):
    calls: list[CallOut]
    notes: list[NoteOut]


class CaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    caller_number: str = Field(min_length=1, max_length=64)
    priority: Priority = Priority.NORMAL
    category: str | None = Field(None, min_length=1, max_length=64)
    subject: str | None = Field(None, min_length=1, max_length=255)
    description: str | None = Field(None, min_length=1, max_length=10_000)


class CasePatch(BaseModel):
    """Only the fields sent change; ``null`` clears a text field. ``status: open`` reopens a closed case
    (close one with ``POST /cases/{id}/close`` and a resolution)."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["open"] | None = None
    priority: Priority | None = None
    category: str | None = Field(None, min_length=1, max_length=64)
    subject: str | None = Field(None, min_length=1, max_length=255)
    description: str | None = Field(None, min_length=1, max_length=10_000)
    steps_taken: str | None = Field(None, min_length=1, max_length=10_000)


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=10_000)


class EscalateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2_000)


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resolution: str = Field(min_length=1, max_length=10_000)


class CasePageOut(BaseModel):
    items: list[CaseOut]
    total: int
    limit: int
    offset: int


router = APIRouter(tags=["cases"])


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


def check_call(cases: CaseReads, principal: Principal, sip_call_id: str) -> Any:
    """The call, or 404 when it does not exist or the user may not see it (an agent sees the calls they
    took and those of the cases they work)."""
    try:
        call = cases.get_call(sip_call_id)
        worked_by = scope(principal)
        if worked_by is not None and call.agent_extension != worked_by and not cases.works_on(call.case_id,
                                                                                               worked_by):
            raise UnknownCall(sip_call_id)
        return call
    except UnknownCall as exc:
        raise HTTPException(HTTPStatus.NOT_FOUND, detail=str(exc)) from exc


@router.get("/cases", response_model=CasePageOut, summary="List cases, newest first")
def list_cases(
    cases: CasesDep,
    principal: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ROW_ID)] = 0,
    caller: Annotated[str | None, Query(min_length=1, max_length=64, description="Caller number")] = None,
    status: Annotated[CaseStatus | None, Query()] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=500,
                                   description="Words that must all occur in the case's transcripts, subject "
                                   "or description (whole words, any case)")] = None,
    priority: Annotated[Priority | None, Query()] = None,
    category: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    level: Annotated[int | None, Query(ge=1, le=TOP_LEVEL)] = None,
) -> CasePageOut:
    worked_by = scope(principal)
    filters: dict[str, Any] = {"query": q, "priority": priority, "category": category, "level": level}
    with _errors():
        items = cases.list_cases(limit, offset, caller_number=caller, status=status, worked_by=worked_by, **filters)
        total = cases.count_cases(caller_number=caller, status=status, worked_by=worked_by, **filters)
    return CasePageOut(items=[CaseOut.model_validate(item) for item in items], total=total, limit=limit,
                       offset=offset)


@router.get("/cases/{case_id}", response_model=CaseDetailOut, summary="A case with its calls and transcripts")
def show_case(case_id: RowId, cases: CasesDep, principal: CurrentUser) -> CaseDetailOut:
    check_case(cases, principal, case_id)
    try:
        return CaseDetailOut.model_validate(cases.get_case(case_id))
    except UnknownCase as exc:
        raise HTTPException(HTTPStatus.NOT_FOUND, detail=str(exc)) from exc


@contextmanager
def _errors() -> Iterator[None]:
    """The domain's refusals as HTTP: unknown is 404, a state conflict 409, bad input 422."""
    try:
        yield
    except UnknownCase as error:
        raise HTTPException(HTTPStatus.NOT_FOUND, detail=str(error)) from None
    except (CaseStateError, OpenCaseExists) as error:
        raise HTTPException(HTTPStatus.CONFLICT, detail=str(error)) from None
    except ValueError as error:
        raise HTTPException(HTTPStatus.UNPROCESSABLE_ENTITY, detail=str(error)) from None


def _detail(cases: CaseWork, case_id: int) -> CaseDetailOut:
    with _errors():
        return CaseDetailOut.model_validate(cases.get_case(case_id))


@router.post("/cases", response_model=CaseDetailOut, status_code=HTTPStatus.CREATED,
             responses=error_responses(409), summary="Open a case by hand (an agent's own case)")
def open_case(body: CaseIn, cases: CasesDep, principal: CurrentUser, services: ServicesDep) -> CaseDetailOut:
    with _errors():
        case_id = cases.open_case(body.caller_number, services.clock(), owner_extension=principal.user.extension,
                                  priority=body.priority, category=body.category, subject=body.subject,
                                  description=body.description)
    return _detail(cases, case_id)


@router.patch("/cases/{case_id}", response_model=CaseDetailOut, responses=error_responses(409),
              summary="Change status (reopen), priority, category, subject, description, steps taken")
def update_case(case_id: RowId, body: CasePatch, cases: CasesDep, principal: CurrentUser,
                services: ServicesDep) -> CaseDetailOut:
    check_case(cases, principal, case_id)
    changes = body.model_dump(exclude_unset=True)
    reopen = changes.pop("status", None) == "open"
    if changes.get("priority", Priority.NORMAL) is None:
        raise HTTPException(HTTPStatus.UNPROCESSABLE_ENTITY, detail="A priority cannot be cleared.")
    with _errors():
        if reopen:
            cases.reopen_case(case_id, services.clock())
        if changes:
            cases.update_case(case_id, services.clock(), changes)
    return _detail(cases, case_id)


@router.post("/cases/{case_id}/notes", response_model=NoteOut, status_code=HTTPStatus.CREATED,
             summary="Add a note to a case")
def add_note(case_id: RowId, body: NoteIn, cases: CasesDep, principal: CurrentUser,
             services: ServicesDep) -> NoteOut:
    check_case(cases, principal, case_id)
    with _errors():
        return NoteOut.model_validate(cases.add_note(case_id, services.clock(), actor(principal), body.text))


@router.post("/cases/{case_id}/escalate", response_model=CaseDetailOut, responses=error_responses(409),
             summary="Escalate to level 2; the escalation note carries the reason and the transcripts")
def escalate(case_id: RowId, body: EscalateIn, cases: CasesDep, principal: CurrentUser,
             services: ServicesDep) -> CaseDetailOut:
    check_case(cases, principal, case_id)
    with _errors():
        heard = heard_in_case(services, cases.get_case(case_id))
        cases.escalate(case_id, services.clock(), actor(principal), body.reason, heard=heard)
    return _detail(cases, case_id)


@router.post("/cases/{case_id}/close", response_model=CaseDetailOut, responses=error_responses(409),
             summary="Close a case with its resolution")
def close_case(case_id: RowId, body: CloseIn, cases: CasesDep, principal: CurrentUser,
               services: ServicesDep) -> CaseDetailOut:
    check_case(cases, principal, case_id)
    with _errors():
        if not cases.close_case(case_id, services.clock(), body.resolution, actor(principal)):
            raise CaseStateError(f"Case {case_id} is already closed.")
    return _detail(cases, case_id)


@router.get("/cases/{case_id}/suggestions", response_model=list[SuggestionOut],
            summary="Knowledge-base articles the case's transcripts, subject and description suggest")
def case_suggestions(case_id: RowId, cases: CasesDep, principal: CurrentUser, articles: ArticlesDep,
                     services: ServicesDep, limit: Annotated[int, Query(ge=1, le=20)] = 5) -> list[SuggestionOut]:
    check_case(cases, principal, case_id)
    with _errors():
        case = cases.get_case(case_id)
    texts = case_texts(case, heard_in_case(services, case))
    return suggestion_out(articles.suggest(transcript_words(texts), limit))


# ``:path`` because a SIP Call-ID may contain "/" (RFC 3261 ``word``); clients percent-encode it.
@router.get("/calls/{sip_call_id:path}", response_model=CallOut, summary="A call by its SIP Call-ID")
def show_call(sip_call_id: str, cases: CasesDep, principal: CurrentUser) -> CallOut:
    return CallOut.model_validate(check_call(cases, principal, sip_call_id))
