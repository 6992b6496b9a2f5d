"""``CaseStore`` against a real, migrated database (SQLite file, or PostgreSQL with
``HOTLINE_TEST_DATABASE_URL``)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import TypeVar

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from cases.model import (
    CallOutcome,
    CaseStatus,
    HangupBy,
    InconsistentHangup,
    SegmentInput,
    Speaker,
    TranscriptStatus,
    UnknownCall,
    UnknownCase,
    WordInput,
)
from cases.orm import CallEventRow, CallRow, CaseRow, metadata
from cases.store import CaseStore

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
T = TypeVar("T")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def store(engine: Engine) -> CaseStore:
    return CaseStore(engine)


def start(store: CaseStore, sip_call_id: str, caller: str = "+441632960001", seconds: float = 0,
          worker: str = "hotline-1") -> int:
    return store.call_started(sip_call_id, caller, "100", worker, at(seconds))


def count(engine: Engine, model: type[object]) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def run_together(threads: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work(i)`` on ``threads`` threads released at the same moment; re-raise the first failure."""
    barrier = threading.Barrier(threads)
    results: dict[int, T] = {}
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = work(index)
        except BaseException as exc:
            errors.append(exc)

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in pool), "a thread did not finish"
    if errors:
        raise errors[0]
    return [results[i] for i in range(threads)]


# -- schema -------------------------------------------------------------------------------------------


def test_migration_creates_exactly_the_tables_orm_py_describes(engine: Engine) -> None:
    ours = set(metadata.tables)

    def only_ours(name: str | None, type_: str, _parents: object) -> bool:
        if type_ == "index" and name == "ix_transcript_segments_fts":
            return False  # PostgreSQL only, an expression index the migration writes in SQL
        return type_ != "table" or name in ours  # other packages' tables share the database

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": only_ours})
        diffs = compare_metadata(context, metadata)

    assert diffs == []
    assert ours == {"cases", "calls", "call_events", "transcript_segments", "case_notes", "kb_articles"}


# -- cases and calls ----------------------------------------------------------------------------------


def test_first_call_opens_a_case_and_later_calls_of_that_caller_join_it(store: CaseStore) -> None:
    first = start(store, "c1@pbx", seconds=0)
    second = start(store, "c2@pbx", seconds=600)
    other_caller = start(store, "c3@pbx", caller="+441632960002", seconds=700)

    assert second == first
    assert other_caller != first
    case = store.get_case(first)
    assert case.status is CaseStatus.OPEN
    assert case.caller_number == "+441632960001"
    assert [call.sip_call_id for call in case.calls] == ["c1@pbx", "c2@pbx"]
    assert case.call_count == 2
    assert case.created_at == at(0)
    assert case.updated_at == at(600)
    call = case.calls[0]
    assert (call.caller_number, call.dialled_number, call.worker) == ("+441632960001", "100", "hotline-1")
    assert call.transcript_status is TranscriptStatus.PENDING
    assert [event.kind for event in call.events] == ["started"]


def test_a_closed_case_is_not_reused(store: CaseStore) -> None:
    first = start(store, "c1@pbx")
    assert store.close_case(first, at(60)) is True
    assert store.close_case(first, at(90)) is False
    second = start(store, "c2@pbx", seconds=120)

    assert second != first
    closed = store.get_case(first)
    assert closed.status is CaseStatus.CLOSED
    assert closed.closed_at == at(60)
    assert store.get_case(second).status is CaseStatus.OPEN
    with pytest.raises(UnknownCase):
        store.close_case(999, at(0))


def test_a_retransmitted_invite_records_the_call_once(store: CaseStore, engine: Engine) -> None:
    first = start(store, "dup@pbx", seconds=0)
    again = start(store, "dup@pbx", seconds=0.5)

    assert again == first
    assert count(engine, CallRow) == 1
    call = store.get_call("dup@pbx")
    assert call.started_at == at(0)
    assert [event.kind for event in call.events] == ["started"]


def test_a_second_end_is_ignored_and_never_overwrites_the_first(store: CaseStore) -> None:
    start(store, "c1@pbx")
    store.call_answered("c1@pbx", "201", at(5))

    assert store.call_ended("c1@pbx", at(60), CallOutcome.ANSWERED, HangupBy.AGENT) is True
    assert store.call_ended("c1@pbx", at(61), "failed", "system") is False

    call = store.get_call("c1@pbx")
    assert (call.outcome, call.hangup_by, call.ended_at) == (CallOutcome.ANSWERED, HangupBy.AGENT, at(60))
    assert [event.kind for event in call.events].count("ended") == 1
    assert call.transcript_status is TranscriptStatus.PENDING


def test_abandoned_call_keeps_its_queue_log(store: CaseStore) -> None:
    start(store, "c1@pbx", seconds=0)
    store.call_queued("c1@pbx", at(2))
    store.call_event("c1@pbx", "ringing", at(3), {"agent": "201"})
    store.call_event("c1@pbx", "no_answer", at(18), {"agent": "201"})
    store.call_queued("c1@pbx", at(18))
    store.call_event("c1@pbx", "ringing", at(19), {"agent": "202"})
    assert store.call_ended("c1@pbx", at(25), CallOutcome.ABANDONED, HangupBy.CALLER) is True
    # The agent's 200 OK arriving after the caller's BYE changes nothing.
    assert store.call_answered("c1@pbx", "202", at(26)) is False

    call = store.get_call("c1@pbx")
    assert [(event.kind, event.at, dict(event.detail)) for event in call.events] == [
        ("started", at(0), {"worker": "hotline-1", "dialled_number": "100"}),
        ("queued", at(2), {}),
        ("ringing", at(3), {"agent": "201"}),
        ("no_answer", at(18), {"agent": "201"}),
        ("queued", at(18), {}),
        ("ringing", at(19), {"agent": "202"}),
        ("ended", at(25), {"outcome": "abandoned", "hangup_by": "caller"}),
    ]
    assert call.queued_at == at(2), "the first time in the queue counts for waiting times"
    assert call.answered_at is None
    assert call.agent_extension is None
    assert call.outcome is CallOutcome.ABANDONED
    assert call.transcript_status is TranscriptStatus.NONE


def test_answer_records_the_first_agent_only(store: CaseStore) -> None:
    start(store, "c1@pbx")
    assert store.call_answered("c1@pbx", "201", at(5)) is True
    assert store.call_answered("c1@pbx", "202", at(6)) is False
    call = store.get_call("c1@pbx")
    assert (call.agent_extension, call.answered_at) == ("201", at(5))
    assert [event.kind for event in call.events] == ["started", "answered"]


def test_an_end_that_contradicts_who_hung_up_is_refused_and_the_call_stays_up(store: CaseStore) -> None:
    start(store, "c1@pbx")
    with pytest.raises(InconsistentHangup):
        store.call_ended("c1@pbx", at(10), CallOutcome.ABANDONED, HangupBy.AGENT)
    assert store.get_call("c1@pbx").ended_at is None


def test_unknown_calls_raise_unknown_call(store: CaseStore) -> None:
    attempts: list[Callable[[], object]] = [
        lambda: store.call_event("nope@pbx", "hold", at(0)),
        lambda: store.call_queued("nope@pbx", at(0)),
        lambda: store.call_answered("nope@pbx", "201", at(0)),
        lambda: store.call_ended("nope@pbx", at(0), "abandoned", "caller"),
        lambda: store.attach_transcript("nope@pbx", []),
        lambda: store.get_call("nope@pbx"),
    ]
    for attempt in attempts:
        with pytest.raises(UnknownCall, match="'nope@pbx'"):
            attempt()
    with pytest.raises(UnknownCase, match=r"^There is no case with id 42\.$"):
        store.get_case(42)


def test_bad_input_is_refused_before_it_reaches_the_database(store: CaseStore, engine: Engine) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        store.call_started("c1@pbx", "555", "100", "hotline-1", datetime(2026, 3, 2, 9, 0))
    with pytest.raises(ValueError, match="caller_number"):
        store.call_started("c1@pbx", "", "100", "hotline-1", at(0))
    assert count(engine, CallRow) == 0
    start(store, "c1@pbx")
    with pytest.raises(ValueError, match="JSON-serialisable"):
        store.call_event("c1@pbx", "hold", at(1), {"since": at(1)})
    with pytest.raises(ValueError, match="event kind"):
        store.call_event("c1@pbx", "", at(1))
    assert count(engine, CallEventRow) == 1


def test_the_column_type_itself_refuses_naive_datetimes(engine: Engine) -> None:
    with Session(engine) as session, pytest.raises(StatementError, match="timezone-aware"):
        session.add(CaseRow(caller_number="555", status="open", created_at=datetime(2026, 1, 1),
                            updated_at=datetime(2026, 1, 1)))
        session.flush()


def test_times_are_stored_in_utc_whatever_zone_they_came_in(store: CaseStore) -> None:
    new_york = timezone(timedelta(hours=-5))
    local_start = datetime(2026, 3, 2, 4, 0, tzinfo=new_york)  # 09:00 UTC
    store.call_started("c1@pbx", "555", "100", "hotline-1", local_start)
    store.call_ended("c1@pbx", datetime(2026, 3, 2, 10, 1, tzinfo=timezone(timedelta(hours=1))),
                     "abandoned", "caller")
    call = store.get_call("c1@pbx")
    assert call.started_at == T0
    assert call.started_at.utcoffset() == timedelta(0)
    assert call.ended_at == at(60)


# -- transcripts --------------------------------------------------------------------------------------


def test_transcript_is_attached_in_order_and_replaced_by_a_later_one(store: CaseStore) -> None:
    start(store, "c1@pbx")
    store.call_answered("c1@pbx", "201", at(5))
    store.call_ended("c1@pbx", at(60), "answered", "caller")
    agent = SegmentInput(Speaker.AGENT, 1.0, 2.5, "helpdesk how can I help",
                         (WordInput("helpdesk", 1.0, 1.6, 0.93), WordInput("how", 1.7, 1.9, 1.0)))
    caller = SegmentInput(Speaker.CALLER, 3.0, 5.0, "my printer is on fire")
    store.attach_transcript("c1@pbx", [caller, agent])

    call = store.get_call("c1@pbx")
    assert call.transcript_status is TranscriptStatus.DONE
    assert [(s.speaker, s.start, s.end, s.text) for s in call.segments] == [
        (Speaker.AGENT, 1.0, 2.5, "helpdesk how can I help"),
        (Speaker.CALLER, 3.0, 5.0, "my printer is on fire"),
    ]
    assert [(w.text, w.start, w.end, w.conf) for w in call.segments[0].words] == [
        ("helpdesk", 1.0, 1.6, 0.93), ("how", 1.7, 1.9, 1.0)]

    store.attach_transcript("c1@pbx", [SegmentInput(Speaker.CALLER, 3.0, 5.0, "my printer is on file")])
    replaced = store.get_call("c1@pbx")
    assert [s.text for s in replaced.segments] == ["my printer is on file"]
    assert store.get_case(replaced.case_id).calls[0].segments == replaced.segments


def test_attach_transcript_takes_only_segment_inputs(store: CaseStore) -> None:
    start(store, "c1@pbx")
    with pytest.raises(TypeError, match="SegmentInput"):
        store.attach_transcript("c1@pbx", [{"speaker": "caller"}])  # type: ignore[list-item]
    assert store.get_call("c1@pbx").transcript_status is TranscriptStatus.PENDING


# -- start-up after a crash ---------------------------------------------------------------------------


def test_interrupt_unfinished_calls_ends_only_calls_still_up(store: CaseStore) -> None:
    start(store, "done@pbx", caller="1", worker="hotline-1")
    store.call_ended("done@pbx", at(30), "abandoned", "caller")
    start(store, "talking@pbx", caller="2", worker="hotline-1")
    store.call_answered("talking@pbx", "201", at(5))
    start(store, "queued@pbx", caller="3", worker="hotline-1")
    store.call_queued("queued@pbx", at(1))
    start(store, "sibling@pbx", caller="4", worker="hotline-2")

    assert store.interrupt_unfinished_calls(at(100), worker="hotline-1") == 2
    assert store.get_call("sibling@pbx").ended_at is None, "another worker's live call is left alone"
    assert store.interrupt_unfinished_calls(at(100)) == 1
    assert store.interrupt_unfinished_calls(at(200)) == 0

    for sip_call_id in ("talking@pbx", "queued@pbx", "sibling@pbx"):
        call = store.get_call(sip_call_id)
        assert (call.outcome, call.hangup_by, call.ended_at) == (
            CallOutcome.INTERRUPTED, HangupBy.SYSTEM, at(100))
        assert call.transcript_status is TranscriptStatus.NONE
        assert (call.events[-1].kind, dict(call.events[-1].detail)) == (
            "ended", {"outcome": "interrupted", "hangup_by": "system"})
    done = store.get_call("done@pbx")
    assert (done.outcome, done.ended_at) == (CallOutcome.ABANDONED, at(30))


# -- concurrency --------------------------------------------------------------------------------------


def test_concurrent_calls_of_one_caller_share_one_case(store: CaseStore, engine: Engine) -> None:
    threads = 8
    case_ids = run_together(threads, lambda i: start(store, f"c{i}@pbx", caller="555", seconds=i))

    assert len(set(case_ids)) == 1
    assert count(engine, CaseRow) == 1
    assert store.get_case(case_ids[0]).call_count == threads


def test_concurrent_retransmissions_of_one_invite_record_one_call(store: CaseStore, engine: Engine) -> None:
    case_ids = run_together(8, lambda i: start(store, "same@pbx", caller="555"))

    assert len(set(case_ids)) == 1
    assert count(engine, CaseRow) == 1
    assert count(engine, CallRow) == 1
    assert count(engine, CallEventRow) == 1


def test_concurrent_ends_of_one_call_end_it_once(store: CaseStore, engine: Engine) -> None:
    start(store, "c1@pbx")
    store.call_answered("c1@pbx", "201", at(5))
    sides = [HangupBy.CALLER, HangupBy.AGENT] * 4
    results = run_together(len(sides), lambda i: store.call_ended("c1@pbx", at(60 + i), "answered", sides[i]))

    assert results.count(True) == 1
    winner = results.index(True)
    call = store.get_call("c1@pbx")
    assert (call.hangup_by, call.ended_at) == (sides[winner], at(60 + winner))
    assert [event.kind for event in call.events].count("ended") == 1


# -- reads --------------------------------------------------------------------------------------------


def test_list_cases_newest_first_with_filters_and_pages(store: CaseStore) -> None:
    ids = [start(store, f"c{i}@pbx", caller=f"55{i % 2}", seconds=i) for i in range(2)]
    store.close_case(ids[0], at(10))
    ids.append(start(store, "c2@pbx", caller="550", seconds=20))
    start(store, "c3@pbx", caller="550", seconds=30)  # joins ids[2]

    listed = store.list_cases(limit=10)
    assert [case.id for case in listed] == [ids[2], ids[1], ids[0]]
    assert [case.call_count for case in listed] == [2, 1, 1]
    assert [case.id for case in store.list_cases(limit=1, offset=1)] == [ids[1]]
    assert store.list_cases(limit=10, offset=3) == []
    assert [case.id for case in store.list_cases(limit=10, caller_number="550")] == [ids[2], ids[0]]
    assert [case.id for case in store.list_cases(limit=10, status=CaseStatus.CLOSED)] == [ids[0]]
    assert [case.id for case in store.list_cases(10, caller_number="550", status=CaseStatus.OPEN)] == [ids[2]]
    assert store.count_cases() == 3
    assert store.count_cases(caller_number="550") == 2
    assert store.count_cases(status=CaseStatus.OPEN) == 2


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (201, 0), (10, -1)])
def test_list_cases_refuses_bad_pages(store: CaseStore, limit: int, offset: int) -> None:
    with pytest.raises(ValueError, match=r"^(limit|offset) must"):
        store.list_cases(limit=limit, offset=offset)


def test_describe_case(store: CaseStore) -> None:
    case_id = start(store, "c1@pbx")
    store.describe_case(case_id, at(30), category="printing", subject="Printer on floor 3 is on fire")
    case = store.get_case(case_id)
    assert (case.category, case.subject, case.updated_at) == ("printing", "Printer on floor 3 is on fire", at(30))
    store.describe_case(case_id, at(20), category=None, subject="Printer")
    case = store.get_case(case_id)
    assert (case.category, case.subject, case.updated_at) == (None, "Printer", at(30))
    with pytest.raises(UnknownCase):
        store.describe_case(999, at(0), category=None, subject=None)


def test_a_call_without_a_transcript_is_marked_so_with_the_reason(store: CaseStore) -> None:
    start(store, "nt-1")
    store.call_answered("nt-1", "1001", at(5))
    store.call_ended("nt-1", at(60), CallOutcome.ANSWERED, HangupBy.CALLER)
    store.transcript_unavailable("nt-1", at(61), "no speech model is installed")
    call = store.get_call("nt-1")
    assert call.transcript_status is TranscriptStatus.NONE
    assert call.events[-1].kind == "no_transcript"
    assert call.events[-1].detail == {"reason": "no speech model is installed"}
    with pytest.raises(UnknownCall):
        store.transcript_unavailable("nobody", at(61), "no speech model is installed")
