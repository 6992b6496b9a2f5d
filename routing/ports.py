"""What the call flow needs from the rest of hotline, as small Protocols wired in ``hotline.bootstrap``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from routing.agents import Transition
from routing.events import QueueEvent
from routing.queues import QueueChange


class CallRecorder(Protocol):
    """Writes the call's life to its case record (the queue log)."""

    def started(self, call_id: str, caller: str, dialled: str, worker: str, at: datetime) -> None: ...

    def queued(self, call_id: str, at: datetime) -> None: ...

    def event(self, call_id: str, kind: str, at: datetime, detail: dict[str, Any] | None = None) -> None: ...

    def answered(self, call_id: str, extension: str, at: datetime) -> None: ...

    def ended(self, call_id: str, at: datetime, outcome: str, hangup_by: str) -> None: ...


class LegTap(Protocol):
    def feed(self, frame: bytes) -> None: ...


class CallTranscript(Protocol):
    """Transcribes one call, each leg separately; ``finish`` attaches the result to the call's case."""

    def leg(self, speaker: str, offset_s: float) -> LegTap: ...

    def finish(self) -> None: ...


class Transcriber(Protocol):
    def begin(self, call_id: str) -> CallTranscript: ...


class Journal(Protocol):
    """Persists what routing recorded (queue events and agent transitions), in order. Raising keeps the
    batch for the next call: nothing is dropped."""

    def record(self, events: list[QueueEvent], transitions: list[Transition]) -> None: ...


class QueueSettingsStore(Protocol):
    """Keeps the queue settings supervisors change (so a restart keeps them) and audits each change. Raising
    refuses the change: routing applies nothing."""

    def record_queue_change(self, change: QueueChange) -> QueueChange: ...

    def reset_queue_settings(self, change: QueueChange) -> QueueChange: ...
