"""Transcribing calls: each leg spooled to disk and, capacity allowing, recognised live in the pool.

:class:`CallTranscriber` is the transcription service of the process. For every call, :meth:`begin` opens
a spool folder; every leg's audio goes to its WAV as it arrives and, if the pool admits the leg, to a
recogniser process as well (live partial and final segments, redacted, go to the live hub). At the end
(:meth:`CallSession.finish`) the transcript is assembled from the live results; a leg that was not
admitted, or whose recogniser process died, is transcribed from its WAV instead. Nothing is dropped: until
the transcript is complete, the call stays "pending" in the spool, and :meth:`CallTranscriber.recover`
transcribes such calls at the next start (after a crash, or once a model is installed).

Redaction (when configured) applies to every segment before it is published or returned.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from transcription.live import LiveTranscripts
from transcription.pool import LiveLeg, RecogniserPool
from transcription.segments import Segment, SegmentRecognised, in_call_order
from transcription.spool import DONE, PENDING, CallSpool, LegRecording, Spool, SpooledCall

log = logging.getLogger(__name__)

Redactor = Callable[[Segment], Segment]
PURGE_EVERY_S = 3600.0


def _unchanged(segment: Segment) -> Segment:
    return segment


@dataclass(frozen=True)
class LegReport:
    """How one leg of a finished call was transcribed: "live" or "spool" (and why)."""

    speaker: str
    source: str
    reason: str = ""


class _LegTap:
    """What the SIP bridge feeds: a 20 ms frame to the WAV and, if admitted, to the recogniser process."""

    def __init__(self, speaker: str, offset_s: float, recording: LegRecording, live: LiveLeg | None) -> None:
        self.speaker, self.offset_s, self.recording, self.live = speaker, offset_s, recording, live

    def feed(self, frame: bytes) -> None:
        self.recording.write(frame)
        if self.live is not None:
            self.live.feed(frame)


class CallSession:
    """One call being transcribed (``routing.ports.CallTranscript`` minus the case: see bootstrap)."""

    def __init__(self, service: CallTranscriber, call_id: str, spool: CallSpool) -> None:
        self._service, self.call_id, self._spool = service, call_id, spool
        self._legs: dict[str, _LegTap] = {}
        self._lock = threading.Lock()
        self._finished = False
        self.reports: list[LegReport] = []
        self.spooled: SpooledCall | None = None

    def leg(self, speaker: str, offset_s: float) -> _LegTap:
        with self._lock:
            if self._finished:
                raise RuntimeError(f"Call {self.call_id} is finished; it takes no new legs.")
            recording = self._spool.leg(speaker, offset_s)
            pool = self._service.pool
            live = pool.open_leg(self.call_id, speaker, offset_s, self._service._on_live) if pool else None
            if live is None and pool is not None:
                log.warning("Live recognition is at capacity: the %s leg of call %s is spooled and will be "
                            "transcribed after the call.", speaker, self.call_id)
            tap = _LegTap(speaker, offset_s, recording, live)
            self._legs[speaker] = tap
            return tap

    def finish(self) -> Future[list[Segment]] | None:
        """End every leg. The future completes with the call's redacted segments; None when there is no
        recogniser pool (no model): the call waits in the spool for :meth:`CallTranscriber.recover`."""
        with self._lock:
            self._finished = True
            legs = list(self._legs.values())
        for tap in legs:
            if tap.live is not None:
                tap.live.end()
        spooled = self._spool.close(PENDING)
        self.spooled = spooled
        pool = self._service.pool
        if pool is None:
            self._service.live.close(self.call_id)
            return None
        outcome: Future[list[Segment]] = Future()
        results: dict[str, list[Segment]] = {}
        remaining = [len(legs)]
        lock = threading.Lock()

        def settle(speaker: str, segments: list[Segment] | None, error: BaseException | None) -> None:
            with lock:
                if outcome.done():
                    return
                if error is not None:
                    outcome.set_exception(error)
                    return
                results[speaker] = segments or []
                remaining[0] -= 1
                if remaining[0]:
                    return
            self._service._complete(spooled, outcome, [s for r in results.values() for s in r])

        def from_spool(tap: _LegTap, reason: str) -> None:
            self.reports.append(LegReport(tap.speaker, "spool", reason))
            try:
                job = pool.transcribe_file(tap.recording.path, self.call_id, tap.speaker, tap.offset_s)
            except Exception as exc:
                settle(tap.speaker, None, exc)
                return
            def done(f: Future[list[Segment]]) -> None:
                error = f.exception()
                settle(tap.speaker, f.result() if error is None else None, error)

            job.add_done_callback(done)

        def on_live(tap: _LegTap, f: Future[list[Segment]]) -> None:
            error = f.exception()
            if error is None:
                self.reports.append(LegReport(tap.speaker, "live"))
                settle(tap.speaker, f.result(), None)
            else:
                from_spool(tap, str(error))

        if not legs:
            self._service._complete(spooled, outcome, [])
        for tap in legs:
            if tap.live is None:
                from_spool(tap, "not admitted: live recognition was at capacity")
            else:
                tap.live.result.add_done_callback(functools.partial(on_live, tap))
        return outcome


class CallTranscriber:
    """The process's transcription service: spool, recogniser pool (None without a model), live hub."""

    def __init__(self, spool: Spool, pool: RecogniserPool | None, live: LiveTranscripts | None = None, *,
                 redactor: Redactor | None = None, keep_days: float = 0.0) -> None:
        self.spool = spool
        self.pool = pool
        self.live = live if live is not None else LiveTranscripts()
        self.redactor = redactor or _unchanged
        self.keep_days = keep_days
        self._last_purge = time.monotonic()

    def begin(self, call_id: str) -> CallSession:
        self.live.open(call_id)
        return CallSession(self, call_id, self.spool.begin(call_id))

    def _on_live(self, event: SegmentRecognised) -> None:
        self.live.publish(SegmentRecognised(event.call_id, self.redactor(event.segment), event.final))

    def _complete(self, spooled: SpooledCall, outcome: Future[list[Segment]], segments: list[Segment]) -> None:
        try:
            redacted = in_call_order(self.redactor(s) for s in segments)
        except Exception as exc:
            outcome.set_exception(exc)
            return
        self.live.close(spooled.call_id)
        outcome.set_result(redacted)

    def settled(self, call: SpooledCall) -> None:
        """The call's transcript is on the case: mark it done and apply the retention setting (at once
        for 0 days, else by a sweep of the spool at most once an hour)."""
        if self.keep_days <= 0:
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(call.folder)
            return
        self.spool.mark(call, DONE)
        now = time.monotonic()
        if now - self._last_purge >= PURGE_EVERY_S:
            self._last_purge = now
            self.purge()

    def purge(self) -> int:
        """Delete spooled audio past the retention period (done calls only)."""
        return self.spool.purge(self.keep_days)

    def recover(self) -> list[tuple[SpooledCall, Future[list[Segment]]]]:
        """Transcribe every call left unfinished in the spool (a crash, no model at the time): all legs
        from their WAVs. Needs the pool; returns each call with the future of its redacted segments."""
        if self.pool is None:
            return []
        pool = self.pool
        recovered: list[tuple[SpooledCall, Future[list[Segment]]]] = []
        for call in self.spool.unfinished():
            outcome: Future[list[Segment]] = Future()
            jobs = [pool.transcribe_file(leg.path, call.call_id, leg.speaker, leg.offset_s)
                    for leg in call.legs if leg.path.is_file()]
            self._gather(call, jobs, outcome)
            recovered.append((call, outcome))
        return recovered

    def _gather(self, call: SpooledCall, jobs: list[Future[list[Segment]]], outcome: Future[list[Segment]]) -> None:
        remaining = [len(jobs)]
        lock = threading.Lock()

        def one_done(f: Future[list[Segment]]) -> None:
            with lock:
                if outcome.done():
                    return
                error = f.exception()
                if error is not None:
                    outcome.set_exception(error)
                    return
                remaining[0] -= 1
                if remaining[0]:
                    return
            self._complete(call, outcome, [s for j in jobs for s in j.result()])

        if not jobs:
            self._complete(call, outcome, [])
        for job in jobs:
            job.add_done_callback(one_done)
