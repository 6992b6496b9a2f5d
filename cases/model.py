"""The case domain: what a case, a call and a transcript are, as plain values (no I/O, no SQLAlchemy).

A *case* is one caller's issue; each *call* of that caller number while the case is open is attached to
it. A call keeps a log of what happened to it (``CallEventView``) and, once transcribed, the segments of
both legs (``SegmentView``). Times are timezone-aware datetimes; transcript times are seconds from the
start of the call.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

MAX_PAGE_SIZE = 200
"""The most cases one listing returns."""


class CaseStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class NoteKind(StrEnum):
    NOTE = "note"
    ESCALATION = "escalation"
    """Written when the case goes to level 2: the reason and the transcript of every call."""
    RESOLUTION = "resolution"
    """Written when the case is closed with a resolution."""


TOP_LEVEL = 2
"""Support levels: 1 (the hotline) and 2 (the specialists a case is escalated to)."""


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
class NoteView:
    id: int
    case_id: int
    at: datetime
    author: str
    kind: NoteKind
    text: str


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
    priority: Priority = Priority.NORMAL
    level: int = 1
    owner_extension: str | None = None
    """The agent who opened the case by hand (calls' agents are on the calls)."""
    description: str | None = None
    steps_taken: str | None = None
    resolution: str | None = None
    escalated_at: datetime | None = None


@dataclass(frozen=True)
class CaseDetail(CaseView):
    """A case with all its calls (oldest first), each with its events and transcript, and its notes."""

    calls: tuple[CallView, ...] = field(default=())
    notes: tuple[NoteView, ...] = field(default=())



class UnknownCall(LookupError):
    def __init__(self, sip_call_id: str) -> None:
        super().__init__(f"No call with SIP Call-ID {sip_call_id!r} has been recorded.")
        self.sip_call_id = sip_call_id


class UnknownCase(LookupError):
    def __init__(self, case_id: int) -> None:
        super().__init__(f"There is no case with id {case_id}.")
        self.case_id = case_id


class OpenCaseExists(ValueError):
    """A caller has at most one open case; a second one is refused, naming the first."""

    def __init__(self, caller_number: str, case_id: int) -> None:
        super().__init__(f"Caller {caller_number} already has the open case {case_id}; add to it instead.")
        self.caller_number = caller_number
        self.case_id = case_id


class CaseStateError(ValueError):
    """The case is not in a state that allows this (editing a closed case, escalating twice...)."""


EDITABLE_FIELDS: Mapping[str, int | None] = {
    "category": 64, "subject": 255, "description": 10_000, "steps_taken": 10_000, "priority": None,
}
"""Fields an edit may set, with their longest length (``priority`` is a ``Priority``)."""


def check_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Validate the fields of an edit; ``None`` clears a text field (priority cannot be cleared)."""
    checked: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in EDITABLE_FIELDS:
            raise ValueError(f"A case has no editable field {name!r}; editable: {', '.join(EDITABLE_FIELDS)}.")
        if name == "priority":
            try:
                checked[name] = Priority(value)
            except ValueError:
                raise ValueError(f"A priority is one of {', '.join(Priority)}; got {value!r}.") from None
        elif value is None:
            checked[name] = None
        else:
            length = EDITABLE_FIELDS[name]
            assert length is not None
            checked[name] = check_text(name, value, length)
    return checked


def transcript_text(calls: tuple[CallView, ...],
                    heard: Mapping[str, Sequence[SegmentInput]] | None = None) -> str:
    """The transcripts of a case's calls as lines of text, to attach to an escalation. ``heard`` gives, by
    SIP Call-ID, what a call without a stored transcript (one in progress) has said so far."""
    lines: list[str] = []
    for call in calls:
        segments: Sequence[SegmentView | SegmentInput] = call.segments or (heard or {}).get(call.sip_call_id, ())
        if not segments:
            continue
        so_far = "" if call.segments else " (in progress; heard so far)"
        lines.append(f"Call {call.sip_call_id} from {call.caller_number} at {call.started_at.isoformat()}{so_far}:")
        lines.extend(f"  [{s.start:7.1f} s] {s.speaker}: {s.text}" for s in segments)
    return "\n".join(lines) if lines else "(no transcript)"
