"""Media plumbing over ``Leg``s: one reader thread per leg fanning frames out, paced hold audio, bridging.

Audio stays 16-bit PCM end to end; bridging forwards each inbound frame as it is, so what the agent hears
is exactly what the caller's phone sent (after G.711 decode and re-encode, which is lossless for G.711).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import structlog

from telephony.leg import FRAME_MS, Leg

log = structlog.get_logger(__name__)

FrameSink = Callable[[bytes], None]


class LegReader:
    """Reads a leg's inbound audio in its own thread and hands every frame to the current sinks.

    Reading starts at answer and never pauses, so no backlog builds up while the caller waits: when the
    bridge starts, the agent hears the caller live. ``ended`` is set when the leg stops delivering audio.
    """

    def __init__(self, leg: Leg, name: str, on_end: Callable[[], None] | None = None) -> None:
        self.leg = leg
        self._on_end = on_end
        self.name = name
        self.frames = 0
        self.ended = threading.Event()
        self._sinks: list[FrameSink] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"read-{name}", daemon=True)

    def add_sink(self, sink: FrameSink) -> None:
        with self._lock:
            self._sinks.append(sink)

    def remove_sink(self, sink: FrameSink) -> None:
        with self._lock:
            if sink in self._sinks:
                self._sinks.remove(sink)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                frame = self.leg.read_frame()
                if frame is None:
                    return
                self.frames += 1
                with self._lock:
                    sinks = list(self._sinks)
                for sink in sinks:
                    try:
                        sink(frame)
                    except Exception:
                        log.exception("media.sink_failed", leg=self.name, call_id=self.leg.call_id)
        except Exception as exc:  # reading itself failed: the leg's worker is marked failed
            self.leg.report_failure(f"media reader thread ({self.name})", exc)
        finally:
            self.ended.set()
            if self._on_end is not None:
                self._on_end()

    def join(self, timeout: float | None = None) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)


class Player:
    """Writes frames from an iterator to a leg, paced at 20 ms by a monotonic clock, until stopped.

    A lead of two frames keeps the SIP stack's send buffer from running dry without queueing audio that
    would delay what follows once the player stops.
    """

    LEAD_FRAMES = 2

    def __init__(self, leg: Leg, frames: Iterator[bytes], name: str) -> None:
        self.leg = leg
        self.name = name
        self._frames = frames
        self._stop = threading.Event()
        self.sent = 0
        self._thread = threading.Thread(target=self._run, name=f"play-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            self._play()
        except Exception as exc:  # the frames or the leg failed: the leg's worker is marked failed
            self.leg.report_failure(f"media player thread ({self.name})", exc)

    def _play(self) -> None:
        period = FRAME_MS / 1000
        start = time.monotonic()
        for frame in self._frames:
            if self._stop.is_set():
                return
            self.leg.write_frame(frame)
            self.sent += 1
            due = start + (self.sent - self.LEAD_FRAMES) * period
            if self._stop.wait(max(0.0, due - time.monotonic())):
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(1.0)


class Bridge:
    """Connects two legs both ways by forwarding each reader's frames to the other leg."""

    def __init__(self, a: LegReader, b: LegReader) -> None:
        self._a, self._b = a, b
        self._a_to_b: FrameSink = b.leg.write_frame
        self._b_to_a: FrameSink = a.leg.write_frame

    def start(self) -> None:
        self._a.add_sink(self._a_to_b)
        self._b.add_sink(self._b_to_a)

    def stop(self) -> None:
        self._a.remove_sink(self._a_to_b)
        self._b.remove_sink(self._b_to_a)
