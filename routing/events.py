"""The queue event log (the equivalent of Asterisk's queue_log): what happened to each call, in order.

Each event has a sequence number unique and increasing across the whole log, so a reader can order
events written by several threads and a restart continues the numbering.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class EventKind(enum.StrEnum):
    ENTER = "enter"  # joined a queue; detail: caller, priority, position
    REFUSED = "refused"  # could not join (closed, empty); detail: reason
    RING = "ring"  # an agent was offered the call
    NO_ANSWER = "no_answer"  # detail: reason (timeout, busy, refused)
    ANSWER = "answer"  # detail: wait (seconds since arrival)
    ABANDON = "abandon"  # the caller left while waiting; detail: wait
    TRANSFER = "transfer"  # moved to another queue by a person; detail: to
    OVERFLOW = "overflow"  # moved by the queue's max wait or emptiness; detail: to, reason
    CALLBACK_OFFERED = "callback_offered"
    CALLBACK_REQUESTED = "callback_requested"  # detail: number; the call keeps its place
    CALLBACK_FAILED = "callback_failed"  # the caller could not be reached back
    COMPLETE = "complete"  # the conversation ended; detail: talk (seconds), by
    WRAP_UP_END = "wrap_up_end"  # detail: wrap (seconds)
    EXIT_EMPTY = "exit_empty"  # left because the queue had no member, nowhere to overflow to
    INTERRUPTED = "interrupted"  # the call was cut by a restart or a failure


# After one of these, the call is no longer in routing's hands.
TERMINAL = frozenset({EventKind.REFUSED, EventKind.ABANDON, EventKind.COMPLETE, EventKind.EXIT_EMPTY,
                      EventKind.INTERRUPTED, EventKind.CALLBACK_FAILED})


@dataclass(frozen=True)
class QueueEvent:
    seq: int
    at: datetime
    kind: EventKind
    call_id: str
    queue: str
    agent: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
