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

from sqlalchemy import Engine, delete, exists, func, literal, literal_column, or_, select, update
from sqlalchemy import case as sql_case
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from cases.knowledge import words
from cases.model import (
    MAX_PAGE_SIZE,
    TOP_LEVEL,
    CallEventView,
    CallOutcome,
    CallView,
    CaseDetail,
    CaseStateError,
    CaseStatus,
    CaseView,
    EventKind,
    HangupBy,
    NoteKind,
    NoteView,
    OpenCaseExists,
    Priority,
    SegmentInput,
    SegmentView,
    Speaker,
    TranscriptStatus,
    UnknownCall,
    UnknownCase,
    WordView,
    check_changes,
    check_hangup,
    check_text,
    json_detail,
    require_aware,
    transcript_status_after_end,
    transcript_text,
)
from cases.orm import (
    NUMBER_LENGTH,
    CallEventRow,
    CallRow,
    CaseNoteRow,
    CaseRow,
    TranscriptSegmentRow,
)
from cases.stats import CallRecord
from storage.columns import UTCDateTime

MAX_SEARCH_WORDS = 10
"""The most words one search takes (each is one EXISTS subquery)."""

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
        self._dialect = engine.dialect.name

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

    def close_case(self, case_id: int, at: datetime, resolution: str | None = None, author: str = "system") -> bool:
        """Close an open case, with how it was resolved (kept on the case and as a note); the caller's next
        call opens a new one. Returns False, changing nothing, if it was already closed."""
        require_aware(at, "at")
        if resolution is not None:
            check_text("resolution", resolution, 10_000)
        check_text("author", author, 64)
        with self._sessions.begin() as session:
            closed = session.scalar(
                update(CaseRow)
                .where(CaseRow.id == case_id, CaseRow.status == CaseStatus.OPEN)
                .values(status=CaseStatus.CLOSED, closed_at=at, updated_at=_later(CaseRow.updated_at, at),
                        resolution=resolution)
                .returning(CaseRow.id)
                .execution_options(synchronize_session=False)
            )
            if closed is None:
                _require_case(session, case_id)
                return False
            if resolution is not None:
                session.add(CaseNoteRow(case_id=case_id, at=at, author=author, kind=NoteKind.RESOLUTION,
                                        text=resolution))
            return True

    def open_case(self, caller_number: str, at: datetime, *, owner_extension: str | None = None,
                  priority: Priority | str = Priority.NORMAL, category: str | None = None,
                  subject: str | None = None, description: str | None = None) -> int:
        """Open a case by hand (a call that came in another way, an e-mail...); its id. A caller with an
        open case already gets ``OpenCaseExists``."""
        check_text("caller_number", caller_number, NUMBER_LENGTH)
        require_aware(at, "at")
        if owner_extension is not None:
            check_text("owner_extension", owner_extension, NUMBER_LENGTH)
        fields = check_changes({"priority": priority, "category": category, "subject": subject,
                                "description": description})
        try:
            with self._sessions.begin() as session:
                row = CaseRow(caller_number=caller_number, status=CaseStatus.OPEN, created_at=at, updated_at=at,
                              owner_extension=owner_extension, level=1, **fields)
                session.add(row)
                session.flush()
                return row.id
        except IntegrityError:
            with self._sessions() as session:
                existing = session.scalar(select(CaseRow.id).where(CaseRow.caller_number == caller_number,
                                                                   CaseRow.status == CaseStatus.OPEN))
            if existing is None:
                raise
            raise OpenCaseExists(caller_number, existing) from None

    def update_case(self, case_id: int, at: datetime, changes: Mapping[str, Any]) -> None:
        """Set the given fields of an open case (``category``, ``subject``, ``priority``, ``description``,
        ``steps_taken``; ``None`` clears a text field). A closed case is not edited: ``CaseStateError``."""
        require_aware(at, "at")
        fields = check_changes(changes)
        with self._sessions.begin() as session:
            found = session.scalar(
                update(CaseRow).where(CaseRow.id == case_id, CaseRow.status == CaseStatus.OPEN)
                .values(**fields, updated_at=_later(CaseRow.updated_at, at))
                .returning(CaseRow.id).execution_options(synchronize_session=False)
            )
            if found is None:
                _require_case(session, case_id)
                raise CaseStateError(f"Case {case_id} is closed; reopen it before editing it.")

    def reopen_case(self, case_id: int, at: datetime) -> bool:
        """Open a closed case again; False if it was open. ``OpenCaseExists`` if its caller has another."""
        require_aware(at, "at")
        try:
            with self._sessions.begin() as session:
                reopened = session.scalar(
                    update(CaseRow).where(CaseRow.id == case_id, CaseRow.status == CaseStatus.CLOSED)
                    .values(status=CaseStatus.OPEN, closed_at=None, updated_at=_later(CaseRow.updated_at, at))
                    .returning(CaseRow.id).execution_options(synchronize_session=False)
                )
                if reopened is None:
                    _require_case(session, case_id)
                    return False
                return True
        except IntegrityError:
            with self._sessions() as session:
                caller = session.scalar(select(CaseRow.caller_number).where(CaseRow.id == case_id))
                other = session.scalar(select(CaseRow.id).where(CaseRow.caller_number == caller,
                                                                CaseRow.status == CaseStatus.OPEN))
            raise OpenCaseExists(str(caller), other or 0) from None

    def add_note(self, case_id: int, at: datetime, author: str, text: str) -> NoteView:
        require_aware(at, "at")
        check_text("author", author, 64)
        check_text("A note", text, 10_000)
        with self._sessions.begin() as session:
            _require_case(session, case_id)
            row = CaseNoteRow(case_id=case_id, at=at, author=author, kind=NoteKind.NOTE, text=text)
            session.add(row)
            session.flush()
            session.execute(update(CaseRow).where(CaseRow.id == case_id)
                            .values(updated_at=_later(CaseRow.updated_at, at))
                            .execution_options(synchronize_session=False))
            return _note_view(row)

    def escalate(self, case_id: int, at: datetime, author: str, reason: str,
                 heard: Mapping[str, Sequence[SegmentInput]] | None = None) -> NoteView:
        """Send an open level-1 case to level 2. The escalation note carries the reason and the transcript
        of every call of the case as it stands, so level 2 reads the conversation without replaying it;
        ``heard`` (by SIP Call-ID) stands in for the transcript of a call still in progress."""
        require_aware(at, "at")
        check_text("author", author, 64)
        check_text("A reason", reason, 2_000)
        with self._sessions.begin() as session:
            row = session.get(CaseRow, case_id, with_for_update=True)
            if row is None:
                raise UnknownCase(case_id)
            if row.status != CaseStatus.OPEN:
                raise CaseStateError(f"Case {case_id} is closed; only an open case is escalated.")
            if row.level >= TOP_LEVEL:
                raise CaseStateError(f"Case {case_id} is already at level {row.level}.")
            calls = session.scalars(select(CallRow).where(CallRow.case_id == case_id)
                                    .order_by(CallRow.started_at, CallRow.id)).all()
            text = (f"Escalated to level {TOP_LEVEL}: {reason}\n\n"
                    f"{transcript_text(_call_views(session, calls), heard)}")
            row.level, row.escalated_at = TOP_LEVEL, at
            row.updated_at = max(row.updated_at, at)
            note = CaseNoteRow(case_id=case_id, at=at, author=author, kind=NoteKind.ESCALATION, text=text)
            session.add(note)
            session.flush()
            return _note_view(note)

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
        self, limit: int, offset: int = 0, caller_number: str | None = None, status: CaseStatus | None = None,
        worked_by: str | None = None, *, query: str | None = None, priority: Priority | None = None,
        category: str | None = None, level: int | None = None,
    ) -> list[CaseView]:
        """Cases newest first, optionally only one caller's, only open/closed ones, only those the agent
        at extension ``worked_by`` works (see ``works_on``), only those of a priority, category or level,
        and only those whose transcripts, subject or description contain every word of ``query`` (whole
        words, any case; PostgreSQL full-text search with the ``simple`` configuration, a word match on
        SQLite)."""
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must lie in 1..{MAX_PAGE_SIZE}, got {limit}.")
        if offset < 0:
            raise ValueError(f"offset must not be negative, got {offset}.")
        call_count = (
            select(func.count(CallRow.id)).where(CallRow.case_id == CaseRow.id).correlate(CaseRow)
            .scalar_subquery()
        )
        stmt = (
            self._search(_filter_cases(select(CaseRow, call_count), caller_number, status, worked_by),
                         query, priority, category, level)
            .order_by(CaseRow.created_at.desc(), CaseRow.id.desc())
            .limit(limit)
            .offset(offset)
        )
        with self._sessions() as session:
            return [_case_view(row, count) for row, count in session.execute(stmt).tuples()]

    def count_cases(self, caller_number: str | None = None, status: CaseStatus | None = None,
                    worked_by: str | None = None, *, query: str | None = None, priority: Priority | None = None,
                    category: str | None = None, level: int | None = None) -> int:
        stmt = self._search(_filter_cases(select(func.count(CaseRow.id)), caller_number, status, worked_by),
                            query, priority, category, level)
        with self._sessions() as session:
            return session.scalar(stmt) or 0

    def _search(self, stmt: Any, query: str | None, priority: Priority | None, category: str | None,
                level: int | None) -> Any:
        if priority is not None:
            stmt = stmt.where(CaseRow.priority == Priority(priority))
        if category is not None:
            stmt = stmt.where(CaseRow.category == category)
        if level is not None:
            stmt = stmt.where(CaseRow.level == level)
        if query is not None:
            wanted = list(dict.fromkeys(words(query)))
            if not wanted:
                raise ValueError("A search needs at least one word of letters or digits.")
            if len(wanted) > MAX_SEARCH_WORDS:
                raise ValueError(f"A search takes at most {MAX_SEARCH_WORDS} words.")
            for word in wanted:
                in_transcript = (
                    select(TranscriptSegmentRow.id).join(CallRow, CallRow.id == TranscriptSegmentRow.call_id)
                    .where(CallRow.case_id == CaseRow.id, self._has_word(TranscriptSegmentRow.text, word))
                    .exists()
                )
                stmt = stmt.where(or_(in_transcript, self._has_word(CaseRow.subject, word),
                                      self._has_word(CaseRow.description, word)))
        return stmt

    def _has_word(self, column: Any, word: str) -> ColumnElement[bool]:
        if self._dialect == "postgresql":
            simple: ColumnElement[str] = literal_column("'simple'")
            matched: ColumnElement[bool] = func.to_tsvector(simple, column).bool_op("@@")(
                func.plainto_tsquery(simple, word))
            return matched
        # SQLite: a whole-word match of the lower-cased text, punctuation counted as a space.
        padded = " " + func.lower(column) + " "
        for mark in ".,;:!?()\"\n\t/":
            padded = func.replace(padded, mark, " ")
        return padded.like(f"% {word} %")

    def calls_between(self, start: datetime, end: datetime) -> list[CallRecord]:
        """The calls that started in ``[start, end)``, for statistics (``cases.stats``)."""
        require_aware(start, "start")
        require_aware(end, "end")
        stmt = (select(CallRow.started_at, CallRow.queued_at, CallRow.answered_at, CallRow.ended_at, CallRow.outcome)
                .where(CallRow.started_at >= start, CallRow.started_at < end))
        with self._sessions() as session:
            return [CallRecord(started, queued, answered, ended, CallOutcome(outcome) if outcome else None)
                    for started, queued, answered, ended, outcome in session.execute(stmt).tuples()]

    def last_call_of(self, agent_extension: str) -> CallView | None:
        """The call the agent at ``agent_extension`` answered last (for the console's wrap-up timer)."""
        with self._sessions() as session:
            call = session.scalar(select(CallRow).where(CallRow.agent_extension == agent_extension)
                                  .order_by(CallRow.answered_at.desc(), CallRow.id.desc()).limit(1))
            if call is None:
                return None
            (view,) = _call_views(session, [call])
        return view

    def works_on(self, case_id: int, extension: str) -> bool:
        """Whether the agent at ``extension`` works this case: they opened it or answered one of its calls."""
        with self._sessions() as session:
            return session.scalar(_filter_cases(select(CaseRow.id), None, None, extension)
                                  .where(CaseRow.id == case_id)) is not None

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
            notes = tuple(_note_view(note) for note in session.scalars(
                select(CaseNoteRow).where(CaseNoteRow.case_id == case_id).order_by(CaseNoteRow.at, CaseNoteRow.id)))
        return CaseDetail(**_case_fields(row), call_count=len(views), calls=views, notes=notes)

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


def _worked_by(extension: str) -> ColumnElement[bool]:
    answered = exists().where(CallRow.case_id == CaseRow.id, CallRow.agent_extension == extension)
    return or_(CaseRow.owner_extension == extension, answered)


def _filter_cases(stmt: Any, caller_number: str | None, status: CaseStatus | None,
                  worked_by: str | None = None) -> Any:
    if worked_by is not None:
        stmt = stmt.where(_worked_by(worked_by))
    if caller_number is not None:
        stmt = stmt.where(CaseRow.caller_number == caller_number)
    if status is not None:
        stmt = stmt.where(CaseRow.status == CaseStatus(status))
    return stmt


def _case_fields(row: CaseRow) -> dict[str, Any]:
    return {
        "id": row.id, "caller_number": row.caller_number, "status": CaseStatus(row.status),
        "category": row.category, "subject": row.subject, "created_at": row.created_at,
        "updated_at": row.updated_at, "closed_at": row.closed_at, "priority": Priority(row.priority),
        "level": row.level, "owner_extension": row.owner_extension, "description": row.description,
        "steps_taken": row.steps_taken, "resolution": row.resolution, "escalated_at": row.escalated_at,
    }


def _note_view(row: CaseNoteRow) -> NoteView:
    return NoteView(id=row.id, case_id=row.case_id, at=row.at, author=row.author, kind=NoteKind(row.kind),
                    text=row.text)


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
