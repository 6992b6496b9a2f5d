"""The case domain: what a case, a call and a transcript are, as plain values (no I/O, no SQLAlchemy).

A *case* is one caller's issue; each *call* of that caller number while the case is open is attached to
it. A call keeps a log of what happened to it (``CallEventView``) and, once transcribed, the segments of
both legs (``SegmentView``). Times are timezone-aware datetimes; transcript times are seconds from the
start of the call.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

MAX_PAGE_SIZE = 200
"""The most cases one listing returns."""


class CaseStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class CallOutcome(StrEnum):
    ANSWERED = "answered"
    """The caller talked to an agent."""
    ABANDONED = "abandoned"
    """The caller hung up before an agent answered."""
    NO_AGENT = "no_agent"
    """The system ended the call: nobody was there to take it."""
    FAILED = "failed"
    """A technical failure ended the call."""
    INTERRUPTED = "interrupted"
    """The service restarted while the call was up."""


class HangupBy(StrEnum):
    CALLER = "caller"
    AGENT = "agent"
    SYSTEM = "system"


class Speaker(StrEnum):
    CALLER = "caller"
    AGENT = "agent"


class TranscriptStatus(StrEnum):
    PENDING = "pending"
    """The call may still get a transcript."""
    DONE = "done"
    NONE = "none"
    """There is nothing to transcribe: nobody answered, or the audio was lost."""


class EventKind(StrEnum):
    """The kinds of call events this package writes itself; callers of ``call_event`` may add others."""

    STARTED = "started"
    QUEUED = "queued"
    ANSWERED = "answered"
    ENDED = "ended"
    NO_TRANSCRIPT = "no_transcript"


# Who may hang up, for outcomes whose definition names it.
_HANGUP_BY_OUTCOME: Mapping[CallOutcome, frozenset[HangupBy]] = {
    CallOutcome.ANSWERED: frozenset(HangupBy),
    CallOutcome.ABANDONED: frozenset({HangupBy.CALLER}),
    CallOutcome.NO_AGENT: frozenset({HangupBy.SYSTEM}),
    CallOutcome.FAILED: frozenset(HangupBy),
    CallOutcome.INTERRUPTED: frozenset({HangupBy.SYSTEM}),
}


class InconsistentHangup(ValueError):
    """The outcome of a call contradicts who hung up (an abandoned call is always ended by the caller)."""

    def __init__(self, outcome: CallOutcome, hangup_by: HangupBy) -> None:
        allowed = ", ".join(sorted(_HANGUP_BY_OUTCOME[outcome]))
        super().__init__(
            f"A call with outcome {outcome!s} cannot have been hung up by the {hangup_by!s}; "
            f"it can only be hung up by: {allowed}."
        )
        self.outcome = outcome
        self.hangup_by = hangup_by


def check_hangup(outcome: CallOutcome | str, hangup_by: HangupBy | str) -> tuple[CallOutcome, HangupBy]:
    """Parse an end of call and check that the outcome and who hung up agree; raises ``ValueError``."""
    parsed_outcome = CallOutcome(outcome)
    parsed_hangup_by = HangupBy(hangup_by)
    if parsed_hangup_by not in _HANGUP_BY_OUTCOME[parsed_outcome]:
        raise InconsistentHangup(parsed_outcome, parsed_hangup_by)
    return parsed_outcome, parsed_hangup_by


def transcript_status_after_end(
    outcome: CallOutcome, answered: bool, current: TranscriptStatus
) -> TranscriptStatus:
    """What a call may still expect once it has ended.

    A call nobody answered has no conversation to transcribe; an interrupted call lost its audio with the
    process that held it. Any other answered call keeps waiting for its transcript. A transcript that has
    already arrived stays.
    """
    if current is TranscriptStatus.PENDING and (not answered or outcome is CallOutcome.INTERRUPTED):
        return TranscriptStatus.NONE
    return current


def require_aware(value: datetime, name: str) -> datetime:
    """Return ``value`` if it carries a UTC offset; naive datetimes are ambiguous and refused."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got the naive {value.isoformat()}.")
    return value


def check_text(name: str, value: str, max_length: int) -> str:
    """Return ``value`` if it is a non-empty string of at most ``max_length`` characters."""
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise ValueError(f"{name} must be a string of 1 to {max_length} characters, got {value!r}.")
    return value


def json_detail(detail: Mapping[str, Any] | None) -> dict[str, Any]:
    """A copy of an event's detail as a plain dict, refused if it would not survive a JSON round trip."""
    if detail is None:
        return {}
    try:
        copied: dict[str, Any] = json.loads(json.dumps(dict(detail), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"An event's detail must be JSON-serialisable: {exc}.") from exc
    return copied


def _check_span(owner: str, start: float, end: float) -> None:
    if not (math.isfinite(start) and math.isfinite(end)):
        raise ValueError(f"{owner} start and end must be finite numbers, got {start!r} and {end!r}.")
    if start < 0:
        raise ValueError(f"{owner} start must not be negative, got {start!r}.")
    if end < start:
        raise ValueError(f"{owner} end ({end!r}) must not come before its start ({start!r}).")


@dataclass(frozen=True)
class WordInput:
    """One recognised word; ``start``/``end`` in seconds from the call start, ``conf`` in 0..1."""

    text: str
    start: float
    end: float
    conf: float

    def __post_init__(self) -> None:
        _check_span(f"Word {self.text!r}", self.start, self.end)
        if not (0.0 <= self.conf <= 1.0):
            raise ValueError(f"Word {self.text!r} conf must lie in 0..1, got {self.conf!r}.")


@dataclass(frozen=True)
class SegmentInput:
    """One utterance of one leg of a call, as the recogniser produced it."""

    speaker: Speaker
    start: float
    end: float
    text: str
    words: tuple[WordInput, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "speaker", Speaker(self.speaker))
        object.__setattr__(self, "words", tuple(self.words))
        _check_span("A segment's", self.start, self.end)


@dataclass(frozen=True)
class WordView:
    text: str
    start: float
    end: float
    conf: float


@dataclass(frozen=True)
class SegmentView:
    speaker: Speaker
    start: float
    end: float
    text: str
    words: tuple[WordView, ...]


@dataclass(frozen=True)
class CallEventView:
    at: datetime
    kind: str
    detail: Mapping[str, Any]


@dataclass(frozen=True)
class CallView:
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
    events: tuple[CallEventView, ...] = ()
    """Ordered by time."""
    segments: tuple[SegmentView, ...] = ()
    """Ordered by start."""


@dataclass(frozen=True)
class CaseView:
    """A case as a list shows it: its own fields and how many calls it has."""

    id: int
    caller_number: str
    status: CaseStatus
    category: str | None
    subject: str | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    call_count: int


@dataclass(frozen=True)
class CaseDetail(CaseView):
    """A case with all its calls (oldest first), each with its events and transcript."""

    calls: tuple[CallView, ...] = field(default=())


class UnknownCall(LookupError):
    def __init__(self, sip_call_id: str) -> None:
        super().__init__(f"No call with SIP Call-ID {sip_call_id!r} has been recorded.")
        self.sip_call_id = sip_call_id


class UnknownCase(LookupError):
    def __init__(self, case_id: int) -> None:
        super().__init__(f"There is no case with id {case_id}.")
        self.case_id = case_id
