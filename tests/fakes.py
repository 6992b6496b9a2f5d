"""Hand-written fakes of the call flow's boundaries (legs, dialer, case recorder, transcriber), shared by
the routing unit tests and the integration tests that drive the real Distributor without SIP."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from routing.distributor import Distributor
from telephony.leg import DialFailed, LegState

FRAME = b"\x01\x00" * 160
HOLD = b"\x02\x00" * 160
TIMEOUT = 5.0


class FakeLeg:
    def __init__(self, call_id: str, remote: str, *, answers: bool = True, state: LegState = LegState.RINGING,
                 confirms: bool = True) -> None:
        self.call_id = call_id
        self.remote = remote
        self._state = state
        self._answers = answers
        self.answered = threading.Event()
        self.ended = threading.Event()
        self.inbound: queue.Queue[bytes | None] = queue.Queue()
        self.written: list[bytes] = []
        self.pressed = ""  # DTMF digits not yet read
        self.heard = threading.Event()  # something other than hold music was written to this leg
        self.hold_heard = threading.Event()
        self.idle: float | None = 0.0  # what media_idle() says: seconds without media from the far end
        self.confirms = confirms  # False: the caller never ACKs the answer (wait_confirmed waits, then False)
        self.failures: list[tuple[str, BaseException]] = []  # what report_failure() was told

    @property
    def state(self) -> LegState:
        return self._state

    def answer(self) -> None:
        if self._state is not LegState.RINGING:
            raise DialFailed("not ringing")
        self._state = LegState.ANSWERED
        self.answered.set()

    def pick_up(self) -> None:  # the far end answers an outbound leg
        self._state = LegState.ANSWERED
        self.answered.set()

    def hangup(self) -> None:
        if self._state is not LegState.ENDED:
            self._state = LegState.ENDED
            self.inbound.put(None)
        self.ended.set()

    def far_end_hangs_up(self) -> None:
        self.hangup()

    def wait_answered(self, timeout: float) -> bool:
        self.answered.wait(timeout)
        return self._state is LegState.ANSWERED

    def wait_confirmed(self, timeout: float) -> bool:
        if not self.confirms:
            self.ended.wait(timeout)
            return False
        return self._state is LegState.ANSWERED or self.wait_answered(timeout)

    def report_failure(self, what: str, error: BaseException) -> None:
        self.failures.append((what, error))

    def read_frame(self) -> bytes | None:
        if self._state is LegState.ENDED:
            return None
        return self.inbound.get()

    def digits(self) -> str:
        pressed, self.pressed = self.pressed, ""
        return pressed

    def media_idle(self) -> float | None:
        return self.idle if self._state is LegState.ANSWERED else None

    def write_frame(self, frame: bytes) -> None:
        self.written.append(frame)
        (self.hold_heard if frame == HOLD else self.heard).set()


class FakeDialer:
    def __init__(self, behaviour: dict[str, str]) -> None:
        self.behaviour = behaviour  # extension -> "answer" | "silent" | "refuse"
        self.legs: dict[str, list[FakeLeg]] = {}
        self.dialled = queue.Queue[str]()

    def dial(self, extension: str) -> FakeLeg:
        self.dialled.put(extension)
        what = self.behaviour.get(extension, "refuse")
        if what == "refuse":
            raise DialFailed(f"{extension} is busy")
        leg = FakeLeg(f"out-{extension}-{len(self.legs.get(extension, []))}", extension)
        self.legs.setdefault(extension, []).append(leg)
        if what == "answer":
            leg.pick_up()
        return leg


class Recorder:
    def __init__(self) -> None:
        self.log: list[tuple[Any, ...]] = []

    def started(self, call_id: str, caller: str, dialled: str, worker: str, at: datetime) -> None:
        self.log.append(("started", call_id))

    def queued(self, call_id: str, at: datetime) -> None:
        self.log.append(("queued", call_id))

    def event(self, call_id: str, kind: str, at: datetime, detail: dict[str, Any] | None = None) -> None:
        self.log.append((kind, call_id, detail))

    def answered(self, call_id: str, extension: str, at: datetime) -> None:
        self.log.append(("answered", call_id, extension))

    def end_record(self) -> tuple[Any, ...]:
        return next(e for e in self.log if e[0] == "ended")

    def ended(self, call_id: str, at: datetime, outcome: str, hangup_by: str) -> None:
        self.log.append(("ended", call_id, outcome, hangup_by))


class Tap:
    def __init__(self) -> None:
        self.frames = 0

    def feed(self, frame: bytes) -> None:
        self.frames += 1


class FakeTranscriber:
    def __init__(self) -> None:
        self.taps: dict[str, Tap] = {}
        self.finished = threading.Event()

    def begin(self, call_id: str) -> FakeTranscriber:
        return self

    def leg(self, speaker: str, offset_s: float) -> Tap:
        return self.taps.setdefault(speaker, Tap())

    def finish(self) -> None:
        self.finished.set()


def speak_until_heard(speaker: FakeLeg, listener: FakeLeg) -> bool:
    """The speaker talks (a frame each 20 ms, as a phone would) until the listener hears it, or gives up."""
    for _ in range(int(TIMEOUT / 0.02)):
        speaker.inbound.put(FRAME)
        if listener.heard.wait(0.02):
            return True
    return False


def hold_music() -> Iterator[bytes]:
    while True:
        yield HOLD


def run_call(distributor: Distributor, caller: FakeLeg, dialer: FakeDialer) -> threading.Thread:
    thread = threading.Thread(target=distributor.handle, args=(caller, dialer, "hotline-1", "100"), daemon=True)
    thread.start()
    return thread
