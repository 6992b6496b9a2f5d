"""``CaseStore``: records calls on cases and reads them back, safe to call from any thread.

Every method runs in a session and transaction of its own. Writes that could race (two INVITEs for the
same Call-ID, two callers' calls starting at once, a BYE crossing an answer) are settled by the database,
not by reading first: conditional ``UPDATE ... RETURNING`` statements, the unique Call-ID, and a partial
unique index that allows one open case per caller number. That holds on PostgreSQL across worker
processes and on SQLite across threads.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, func, literal, select, update
from sqlalchemy import case as sql_case
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from cases.model import (
    MAX_PAGE_SIZE,
    CallEventView,
    CallOutcome,
    CallView,
    CaseDetail,
    CaseStatus,
    CaseView,
    EventKind,
    HangupBy,
    SegmentInput,
    SegmentView,
    Speaker,
    TranscriptStatus,
    UnknownCall,
    UnknownCase,
    WordView,
    check_hangup,
    check_text,
    json_detail,
    require_aware,
    transcript_status_after_end,
)
from cases.orm import NUMBER_LENGTH, CallEventRow, CallRow, CaseRow, TranscriptSegmentRow, UTCDateTime

_START_ATTEMPTS = 5
"""A losing racer retries once per rival that won; more than a handful means something else is wrong."""


def _later(column: Any, at: datetime) -> ColumnElement[datetime]:
    """``max(column, at)`` in SQL that both SQLite and PostgreSQL accept: times only move forward."""
    bound = literal(at, UTCDateTime())
    return sql_case((column < bound, bound), else_=column)


class CaseStore:
    """Cases, their calls, call events and transcripts in the database behind ``engine``."""

    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    # -- writes ---------------------------------------------------------------------------------------

    def call_started(
        self, sip_call_id: str, caller_number: str, dialled_number: str, worker: str, at: datetime
    ) -> int:
        """Record a new call and return its case id: the caller's open case, or a new one.

        Calling it again with the same ``sip_call_id`` (a retransmitted INVITE) records nothing and returns
        the same case id.
        """
        check_text("sip_call_id", sip_call_id, 255)
        check_text("caller_number", caller_number, NUMBER_LENGTH)
        check_text("dialled_number", dialled_number, NUMBER_LENGTH)
        check_text("worker", worker, 64)
        require_aware(at, "at")
        for attempt in range(1, _START_ATTEMPTS + 1):
            try:
                with self._sessions.begin() as session:
                    return self._start_call(session, sip_call_id, caller_number, dialled_number, worker, at)
            except IntegrityError:
                # Another thread or worker opened this caller's case, or recorded this very call, first.
                # Its transaction has committed; the next attempt finds what it wrote.
                if attempt == _START_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    def _start_call(
        self, session: Session, sip_call_id: str, caller_number: str, dialled_number: str, worker: str,
        at: datetime,
    ) -> int:
        known = session.scalar(select(CallRow.case_id).where(CallRow.sip_call_id == sip_call_id))
        if known is not None:
            return known
        # Touching the open case first takes its row lock (PostgreSQL) or the write lock (SQLite), so a
        # concurrent close_case cannot slip between finding the case and attaching the call to it.
        case_id = session.scalar(
            update(CaseRow)
            .where(CaseRow.caller_number == caller_number, CaseRow.status == CaseStatus.OPEN)
            .values(updated_at=_later(CaseRow.updated_at, at))
            .returning(CaseRow.id)
            .execution_options(synchronize_session=False)
        )
        if case_id is None:
            new_case = CaseRow(caller_number=caller_number, status=CaseStatus.OPEN,
                               created_at=at, updated_at=at)
            session.add(new_case)
            session.flush()
            case_id = new_case.id
        call = CallRow(
            sip_call_id=sip_call_id, case_id=case_id, caller_number=caller_number,
            dialled_number=dialled_number, worker=worker, started_at=at,
            transcript_status=TranscriptStatus.PENDING,
        )
        session.add(call)
        session.flush()
        session.add(CallEventRow(call_id=call.id, at=at, kind=EventKind.STARTED,
                                 detail={"worker": worker, "dialled_number": dialled_number}))
        return case_id

    def call_event(
        self, sip_call_id: str, kind: str, at: datetime, detail: Mapping[str, Any] | None = None
    ) -> None:
        """Append an entry to a call's log (``ringing``, ``no_answer``, ``hold``...); changes nothing else."""
        check_text("An event kind", kind, 32)
        require_aware(at, "at")
        payload = json_detail(detail)
        with self._sessions.begin() as session:
            call_id = _call_id(session, sip_call_id)
            session.add(CallEventRow(call_id=call_id, at=at, kind=str(kind), detail=payload))

    def call_queued(self, sip_call_id: str, at: datetime) -> None:
        """Log that the call joined the queue; ``queued_at`` keeps the first time, for waiting times."""
        require_aware(at, "at")
        with self._sessions.begin() as session:
            call_id = session.scalar(
                update(CallRow)
                .where(CallRow.sip_call_id == sip_call_id)
                .values(queued_at=func.coalesce(CallRow.queued_at, literal(at, UTCDateTime())))
                .returning(CallRow.id)
                .execution_options(synchronize_session=False)
            )
            if call_id is None:
                raise UnknownCall(sip_call_id)
            session.add(CallEventRow(call_id=call_id, at=at, kind=EventKind.QUEUED, detail={}))

    def call_answered(self, sip_call_id: str, agent_extension: str, at: datetime) -> bool:
        """Record the agent who answered. Returns False, changing nothing, if the call was already answered
        or has ended (a late answer racing the caller's BYE)."""
        check_text("agent_extension", agent_extension, NUMBER_LENGTH)
        require_aware(at, "at")
        with self._sessions.begin() as session:
            call_id = session.scalar(
                update(CallRow)
                .where(CallRow.sip_call_id == sip_call_id, CallRow.answered_at.is_(None),
                       CallRow.ended_at.is_(None))
                .values(answered_at=at, agent_extension=agent_extension)
                .returning(CallRow.id)
                .execution_options(synchronize_session=False)
            )
            if call_id is None:
                _call_id(session, sip_call_id)
                return False
            session.add(CallEventRow(call_id=call_id, at=at, kind=EventKind.ANSWERED,
                                     detail={"agent_extension": agent_extension}))
            return True

    def call_ended(
        self, sip_call_id: str, at: datetime, outcome: CallOutcome | str, hangup_by: HangupBy | str
    ) -> bool:
        """Close the call record. Returns False, changing nothing, if it had already ended: the first end
        wins. Raises ``ValueError`` if the outcome contradicts who hung up."""
        parsed_outcome, parsed_hangup_by = check_hangup(outcome, hangup_by)
        require_aware(at, "at")
        with self._sessions.begin() as session:
            ended = _end_calls(session, [CallRow.sip_call_id == sip_call_id], at, parsed_outcome,
                               parsed_hangup_by)
            if not ended:
                _call_id(session, sip_call_id)
                return False
            return True

    def attach_transcript(self, sip_call_id: str, segments: Sequence[SegmentInput]) -> None:
        """Store the call's transcript, replacing any earlier one, and mark it done."""
        checked = tuple(segments)
        for segment in checked:
            if not isinstance(segment, SegmentInput):
                raise TypeError(f"A transcript is a sequence of SegmentInput, got {type(segment).__name__}.")
        with self._sessions.begin() as session:
            call_id = _set_transcript_status(session, sip_call_id, TranscriptStatus.DONE)
            session.execute(delete(TranscriptSegmentRow).where(TranscriptSegmentRow.call_id == call_id))
            session.add_all(
                TranscriptSegmentRow(
                    call_id=call_id, speaker=segment.speaker, start_s=segment.start, end_s=segment.end,
                    text=segment.text,
                    words=[{"text": w.text, "start": w.start, "end": w.end, "conf": w.conf}
                           for w in segment.words],
                )
                for segment in checked
            )

    def transcript_unavailable(self, sip_call_id: str, at: datetime, reason: str) -> None:
        """The call will get no transcript (no speech model, say): mark it so and log why, so that nobody
        waits for one."""
        check_text("A reason", reason, 500)
        require_aware(at, "at")
        with self._sessions.begin() as session:
            call_id = _set_transcript_status(session, sip_call_id, TranscriptStatus.NONE)
            session.add(CallEventRow(call_id=call_id, at=at, kind=EventKind.NO_TRANSCRIPT,
                                     detail={"reason": reason}))

    def interrupt_unfinished_calls(self, at: datetime, worker: str | None = None,
                                   keep: Collection[str] = ()) -> int:
        """At start-up after a crash: end every call still up as interrupted by the system.

        With several workers on one database, pass ``worker`` so that a restarting worker ends only its own
        calls, not those its siblings are carrying. ``keep`` names SIP Call-IDs that outlive the restart
        (a queued callback the caller is still waiting for): they stay open, to be ended by their own
        completion. Returns how many calls it ended.
        """
        require_aware(at, "at")
        where: list[ColumnElement[bool]] = [CallRow.worker == worker] if worker is not None else []
        if keep:
            where.append(CallRow.sip_call_id.not_in(list(keep)))
        with self._sessions.begin() as session:
            return _end_calls(session, where, at, CallOutcome.INTERRUPTED, HangupBy.SYSTEM)

    def close_case(self, case_id: int, at: datetime) -> bool:
        """Close an open case; the caller's next call opens a new one. Returns False if already closed."""
        require_aware(at, "at")
        with self._sessions.begin() as session:
            closed = session.scalar(
                update(CaseRow)
                .where(CaseRow.id == case_id, CaseRow.status == CaseStatus.OPEN)
                .values(status=CaseStatus.CLOSED, closed_at=at, updated_at=_later(CaseRow.updated_at, at))
                .returning(CaseRow.id)
                .execution_options(synchronize_session=False)
            )
            if closed is None:
                _require_case(session, case_id)
                return False
            return True

    def describe_case(self, case_id: int, at: datetime, category: str | None, subject: str | None) -> None:
        """Set what the case is about (``None`` clears a field)."""
        require_aware(at, "at")
        if category is not None:
            check_text("category", category, 64)
        if subject is not None:
            check_text("subject", subject, 255)
        with self._sessions.begin() as session:
            found = session.scalar(
                update(CaseRow)
                .where(CaseRow.id == case_id)
                .values(category=category, subject=subject, updated_at=_later(CaseRow.updated_at, at))
                .returning(CaseRow.id)
                .execution_options(synchronize_session=False)
            )
            if found is None:
                raise UnknownCase(case_id)

    # -- reads ----------------------------------------------------------------------------------------

    def list_cases(
        self, limit: int, offset: int = 0, caller_number: str | None = None, status: CaseStatus | None = None
    ) -> list[CaseView]:
        """Cases newest first, optionally only one caller's or only open/closed ones."""
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must lie in 1..{MAX_PAGE_SIZE}, got {limit}.")
        if offset < 0:
            raise ValueError(f"offset must not be negative, got {offset}.")
        call_count = (
            select(func.count(CallRow.id)).where(CallRow.case_id == CaseRow.id).correlate(CaseRow)
            .scalar_subquery()
        )
        stmt = (
            _filter_cases(select(CaseRow, call_count), caller_number, status)
            .order_by(CaseRow.created_at.desc(), CaseRow.id.desc())
            .limit(limit)
            .offset(offset)
        )
        with self._sessions() as session:
            return [_case_view(row, count) for row, count in session.execute(stmt).tuples()]

    def count_cases(self, caller_number: str | None = None, status: CaseStatus | None = None) -> int:
        stmt = _filter_cases(select(func.count(CaseRow.id)), caller_number, status)
        with self._sessions() as session:
            return session.scalar(stmt) or 0

    def get_case(self, case_id: int) -> CaseDetail:
        """The case with all its calls, oldest first, each with its events and transcript."""
        with self._sessions() as session:
            row = session.get(CaseRow, case_id)
            if row is None:
                raise UnknownCase(case_id)
            calls = session.scalars(
                select(CallRow).where(CallRow.case_id == case_id).order_by(CallRow.started_at, CallRow.id)
            ).all()
            views = _call_views(session, calls)
        return CaseDetail(**_case_fields(row), call_count=len(views), calls=views)

    def get_call(self, sip_call_id: str) -> CallView:
        with self._sessions() as session:
            call = session.scalar(select(CallRow).where(CallRow.sip_call_id == sip_call_id))
            if call is None:
                raise UnknownCall(sip_call_id)
            (view,) = _call_views(session, [call])
        return view


def _call_id(session: Session, sip_call_id: str) -> int:
    call_id = session.scalar(select(CallRow.id).where(CallRow.sip_call_id == sip_call_id))
    if call_id is None:
        raise UnknownCall(sip_call_id)
    return call_id


def _set_transcript_status(session: Session, sip_call_id: str, status: TranscriptStatus) -> int:
    """Set a call's transcript status; its row id. Raises ``UnknownCall`` when there is no such call."""
    call_id = session.scalar(
        update(CallRow)
        .where(CallRow.sip_call_id == sip_call_id)
        .values(transcript_status=status)
        .returning(CallRow.id)
        .execution_options(synchronize_session=False)
    )
    if call_id is None:
        raise UnknownCall(sip_call_id)
    return call_id


def _require_case(session: Session, case_id: int) -> None:
    if session.scalar(select(CaseRow.id).where(CaseRow.id == case_id)) is None:
        raise UnknownCase(case_id)


def _end_calls(
    session: Session, where: list[ColumnElement[bool]], at: datetime, outcome: CallOutcome,
    hangup_by: HangupBy,
) -> int:
    """End every matching call that is still up, in one conditional UPDATE, and log each end."""
    ended = session.execute(
        update(CallRow)
        .where(CallRow.ended_at.is_(None), *where)
        .values(ended_at=at, outcome=outcome, hangup_by=hangup_by)
        .returning(CallRow.id, CallRow.case_id, CallRow.answered_at, CallRow.transcript_status)
        .execution_options(synchronize_session=False)
    ).all()
    for call_id, case_id, answered_at, current in ended:
        status = transcript_status_after_end(outcome, answered_at is not None, TranscriptStatus(current))
        if status != current:
            session.execute(
                update(CallRow).where(CallRow.id == call_id).values(transcript_status=status)
                .execution_options(synchronize_session=False)
            )
        session.execute(
            update(CaseRow).where(CaseRow.id == case_id).values(updated_at=_later(CaseRow.updated_at, at))
            .execution_options(synchronize_session=False)
        )
        session.add(CallEventRow(call_id=call_id, at=at, kind=EventKind.ENDED,
                                 detail={"outcome": str(outcome), "hangup_by": str(hangup_by)}))
    return len(ended)


def _filter_cases(stmt: Any, caller_number: str | None, status: CaseStatus | None) -> Any:
    if caller_number is not None:
        stmt = stmt.where(CaseRow.caller_number == caller_number)
    if status is not None:
        stmt = stmt.where(CaseRow.status == CaseStatus(status))
    return stmt


def _case_fields(row: CaseRow) -> dict[str, Any]:
    return {
        "id": row.id, "caller_number": row.caller_number, "status": CaseStatus(row.status),
        "category": row.category, "subject": row.subject, "created_at": row.created_at,
        "updated_at": row.updated_at, "closed_at": row.closed_at,
    }


def _case_view(row: CaseRow, call_count: int) -> CaseView:
    return CaseView(**_case_fields(row), call_count=call_count)


def _call_views(session: Session, calls: Sequence[CallRow]) -> tuple[CallView, ...]:
    """Views of ``calls`` with their events and segments, in three queries whatever the number of calls."""
    ids = [call.id for call in calls]
    events: dict[int, list[CallEventView]] = defaultdict(list)
    segments: dict[int, list[SegmentView]] = defaultdict(list)
    if ids:
        for event in session.scalars(
            select(CallEventRow).where(CallEventRow.call_id.in_(ids))
            .order_by(CallEventRow.at, CallEventRow.id)
        ):
            events[event.call_id].append(CallEventView(at=event.at, kind=event.kind, detail=event.detail))
        for segment in session.scalars(
            select(TranscriptSegmentRow).where(TranscriptSegmentRow.call_id.in_(ids))
            .order_by(TranscriptSegmentRow.start_s, TranscriptSegmentRow.id)
        ):
            segments[segment.call_id].append(SegmentView(
                speaker=Speaker(segment.speaker), start=segment.start_s, end=segment.end_s, text=segment.text,
                words=tuple(WordView(text=w["text"], start=w["start"], end=w["end"], conf=w["conf"])
                            for w in segment.words),
            ))
    return tuple(
        CallView(
            id=call.id, sip_call_id=call.sip_call_id, case_id=call.case_id, caller_number=call.caller_number,
            dialled_number=call.dialled_number, worker=call.worker, agent_extension=call.agent_extension,
            outcome=CallOutcome(call.outcome) if call.outcome is not None else None,
            hangup_by=HangupBy(call.hangup_by) if call.hangup_by is not None else None,
            started_at=call.started_at, queued_at=call.queued_at, answered_at=call.answered_at,
            ended_at=call.ended_at, transcript_status=TranscriptStatus(call.transcript_status),
            events=tuple(events[call.id]), segments=tuple(segments[call.id]),
        )
        for call in calls
    )
