"""A call leg as the rest of hotline sees it: SIP-library-free, so the SIP stack stays replaceable.

Audio is always 16-bit signed little-endian mono PCM at 8 kHz in 20 ms frames (320 bytes): the exact
decode of the G.711 payload, never an 8-bit detour.
"""

from __future__ import annotations

import enum
from typing import Protocol

SAMPLE_RATE = 8000
FRAME_MS = 20
FRAME_BYTES = SAMPLE_RATE * FRAME_MS // 1000 * 2


class LegState(enum.StrEnum):
    RINGING = "ringing"  # inbound: not yet answered; outbound: dialling or ringing
    ANSWERED = "answered"
    ENDED = "ended"


class Direction(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Leg(Protocol):
    """One side of a call: the caller's leg into a worker, or the worker's leg out to an agent."""

    @property
    def call_id(self) -> str: ...

    @property
    def remote(self) -> str:
        """The other party's number or SIP user (the caller's number on an inbound leg)."""
        ...

    @property
    def state(self) -> LegState: ...

    def answer(self) -> None: ...

    def hangup(self) -> None:
        """End the leg from our side, whatever its state (BYE, CANCEL or a rejection); never raises."""
        ...

    def wait_answered(self, timeout: float) -> bool:
        """Block until the far end answers (True) or the leg ends or ``timeout`` passes (False)."""
        ...

    def wait_confirmed(self, timeout: float) -> bool:
        """Inbound: block until the caller has ACKed our answer (True), or the leg ends or ``timeout`` passes
        first (False); a caller that never ACKs never really reached us (a spoofed or half-open INVITE).
        Outbound: as ``wait_answered`` (we send the ACK ourselves)."""
        ...

    def report_failure(self, what: str, error: BaseException) -> None:
        """A thread serving this leg (``what``, e.g. "media reader thread") died of ``error``: it is logged and
        the SIP worker carrying the leg is marked failed."""
        ...

    def read_frame(self) -> bytes | None:
        """Block for the next 20 ms inbound frame; ``None`` once the leg has ended."""
        ...

    def write_frame(self, frame: bytes) -> None:
        """Queue one 20 ms frame for sending; the SIP stack paces it out."""
        ...

    def digits(self) -> str:
        """The DTMF digits (RFC 2833) received since the last call, oldest first; "" when none."""
        ...

    def media_idle(self) -> float | None:
        """Seconds since the far end last sent a media packet (counted from the answer or the end of a hold
        at the earliest); None while none is due (not answered, or held by the far end). A leg whose
        peer vanished without a BYE is seen only through this: its reads just block."""
        ...


class DialFailed(RuntimeError):
    """An outbound leg could not be set up (busy, rejected, not registered, timed out)."""


class Dialer(Protocol):
    def dial(self, extension: str) -> Leg:
        """INVITE ``extension``; returns once it rings. Raises ``DialFailed`` if it cannot."""
        ...
