"""The pure rules of the case domain: end-of-call consistency, transcript status, input validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from cases.model import (
    CallOutcome,
    CaseDetail,
    CaseStatus,
    HangupBy,
    InconsistentHangup,
    SegmentInput,
    Speaker,
    TranscriptStatus,
    UnknownCall,
    UnknownCase,
    WordInput,
    check_hangup,
    check_text,
    json_detail,
    require_aware,
    transcript_status_after_end,
)


@pytest.mark.parametrize(("outcome", "hangup_by"), [
    ("answered", "caller"), ("answered", "agent"), ("answered", "system"),
    ("abandoned", "caller"), ("no_agent", "system"), ("failed", "agent"), ("interrupted", "system"),
])
def test_consistent_ends_are_parsed_to_enums(outcome: str, hangup_by: str) -> None:
    parsed = check_hangup(outcome, hangup_by)
    assert parsed == (CallOutcome(outcome), HangupBy(hangup_by))
    assert isinstance(parsed[0], CallOutcome)
    assert isinstance(parsed[1], HangupBy)


@pytest.mark.parametrize(("outcome", "hangup_by"), [
    (CallOutcome.ABANDONED, HangupBy.AGENT), (CallOutcome.ABANDONED, HangupBy.SYSTEM),
    (CallOutcome.NO_AGENT, HangupBy.CALLER), (CallOutcome.INTERRUPTED, HangupBy.AGENT),
])
def test_an_outcome_that_contradicts_who_hung_up_is_refused(outcome: CallOutcome, hangup_by: HangupBy) -> None:
    with pytest.raises(InconsistentHangup, match=f"outcome {outcome}.*by the {hangup_by}") as info:
        check_hangup(outcome, hangup_by)
    assert isinstance(info.value, ValueError)


def test_unknown_outcome_or_hangup_side_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="'hung_up'"):
        check_hangup("hung_up", "caller")
    with pytest.raises(ValueError, match="'nobody'"):
        check_hangup("answered", "nobody")


@pytest.mark.parametrize(("outcome", "answered", "current", "expected"), [
    (CallOutcome.ANSWERED, True, TranscriptStatus.PENDING, TranscriptStatus.PENDING),
    (CallOutcome.FAILED, True, TranscriptStatus.PENDING, TranscriptStatus.PENDING),
    (CallOutcome.ABANDONED, False, TranscriptStatus.PENDING, TranscriptStatus.NONE),
    (CallOutcome.NO_AGENT, False, TranscriptStatus.PENDING, TranscriptStatus.NONE),
    (CallOutcome.INTERRUPTED, True, TranscriptStatus.PENDING, TranscriptStatus.NONE),
    (CallOutcome.INTERRUPTED, True, TranscriptStatus.DONE, TranscriptStatus.DONE),
    (CallOutcome.ANSWERED, True, TranscriptStatus.DONE, TranscriptStatus.DONE),
])
def test_transcript_status_after_end(
    outcome: CallOutcome, answered: bool, current: TranscriptStatus, expected: TranscriptStatus
) -> None:
    assert transcript_status_after_end(outcome, answered, current) is expected


def test_naive_datetimes_are_refused_and_aware_ones_pass_through() -> None:
    aware = datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    assert require_aware(aware, "at") is aware
    with pytest.raises(ValueError) as info:
        require_aware(datetime(2026, 3, 1, 9, 30), "at")
    assert str(info.value) == "at must be a timezone-aware datetime, got the naive 2026-03-01T09:30:00."


@pytest.mark.parametrize("value", ["", "x" * 33])
def test_check_text_refuses_empty_and_too_long(value: str) -> None:
    with pytest.raises(ValueError, match="kind must be a string of 1 to 32 characters"):
        check_text("kind", value, 32)
    assert check_text("kind", "x" * 32, 32) == "x" * 32


def test_json_detail_copies_and_refuses_what_json_cannot_hold() -> None:
    original = {"agent": "201", "attempt": 2, "tags": ["a"]}
    copied = json_detail(original)
    assert copied == original
    copied["tags"].append("b")
    assert original["tags"] == ["a"]
    assert json_detail(None) == {}
    with pytest.raises(ValueError, match="JSON-serialisable"):
        json_detail({"at": datetime.now(UTC)})
    with pytest.raises(ValueError, match="JSON-serialisable"):
        json_detail({"level": float("nan")})


def test_segment_input_parses_the_speaker_and_freezes_words() -> None:
    words = [WordInput("hello", 0.5, 0.9, 1.0), WordInput("there", 0.9, 1.2, 0.75)]
    segment = SegmentInput("agent", 0.5, 1.2, "hello there", words)  # type: ignore[arg-type]
    assert segment.speaker is Speaker.AGENT
    assert segment.words == tuple(words)
    with pytest.raises(ValueError, match="'robot'"):
        SegmentInput("robot", 0.0, 1.0, "beep")  # type: ignore[arg-type]


@pytest.mark.parametrize(("start", "end", "message"), [
    (-0.1, 1.0, "start must not be negative"),
    (2.0, 1.0, r"end \(1.0\) must not come before its start \(2.0\)"),
    (0.0, float("inf"), "must be finite"),
])
def test_segment_times_are_checked(start: float, end: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SegmentInput(Speaker.CALLER, start, end, "x")
    with pytest.raises(ValueError, match=message):
        WordInput("x", start, end, 0.5)


@pytest.mark.parametrize("conf", [-0.01, 1.01])
def test_word_confidence_lies_between_zero_and_one(conf: float) -> None:
    with pytest.raises(ValueError, match=r"conf must lie in 0\.\.1"):
        WordInput("x", 0.0, 0.1, conf)


def test_lookup_errors_say_what_was_missing() -> None:
    assert str(UnknownCall("a@b")) == "No call with SIP Call-ID 'a@b' has been recorded."
    assert str(UnknownCase(7)) == "There is no case with id 7."
    assert isinstance(UnknownCall("a"), LookupError)
    assert isinstance(UnknownCase(1), LookupError)


def test_case_detail_is_a_case_view_with_calls() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    detail = CaseDetail(id=1, caller_number="555", status=CaseStatus.OPEN, category=None, subject=None,
                        created_at=at, updated_at=at, closed_at=None, call_count=0)
    assert detail.calls == ()
