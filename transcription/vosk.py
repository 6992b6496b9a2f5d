"""The Vosk adapter: streaming, per-leg speech recognition of a call. The only module that imports vosk.

Audio of one leg arrives as 16-bit signed little-endian mono PCM at 8 kHz, usually in 20 ms frames of
320 bytes, from the SIP bridge thread. :meth:`LegTranscriber.feed` only appends the frame to an unbounded
queue, so the bridge never waits for the recogniser; one recogniser thread per leg, owned by its
:class:`LegTranscriber`, decodes the queue in fixed blocks (fixed, so transcripts do not depend on
timing). :class:`CallTranscription` owns the legs of one call and merges their segments.

Thread model::

    SIP bridge thread ──feed()──▶ SimpleQueue ──▶ recogniser thread "vosk-<call>-<speaker>"
                                                   └─ on_segment(SegmentRecognised) on that thread,
                                                      or on the event loop given as ``loop``

Vosk's C calls release the GIL, so the legs of several calls decode in parallel on several cores.
The vosk library itself is imported only when a model is loaded, so importing this module is cheap.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Protocol

from transcription.segments import Segment, SegmentRecognised, Word, in_call_order

log = logging.getLogger(__name__)

SAMPLE_RATE = 8000
"""Samples per second of every leg's PCM."""
SAMPLE_WIDTH = 2
FRAME_BYTES = 320
"""One 20 ms frame of leg audio."""
BYTES_PER_SECOND = SAMPLE_RATE * SAMPLE_WIDTH
DEFAULT_BLOCK_BYTES = 1600
"""The recogniser decodes 100 ms at a time: whatever the arrival timing, the same blocks, the same text."""

SegmentHandler = Callable[[SegmentRecognised], object]


class TranscriptionError(Exception):
    """Something went wrong while turning a call's audio into text."""


class ModelUnavailable(TranscriptionError):
    """The speech model is missing, unusable for 8 kHz audio, or failed to load."""


class TranscriptIncomplete(TranscriptionError):
    """A transcript could not be completed; ``segments`` holds what was recognised before it stopped."""

    def __init__(self, message: str, segments: list[Segment]) -> None:
        super().__init__(message)
        self.segments = segments


class TranscriptionTimeout(TranscriptIncomplete):
    """The recognisers did not finish the remaining audio in the time given."""


class RecogniserFailed(TranscriptIncomplete):
    """Vosk failed while recognising a leg; that leg's transcript stops where it failed."""


class RecognitionModel(Protocol):
    """What a :class:`LegTranscriber` needs of a model: fresh recognisers. :class:`SpeechModel` is the real one."""

    def new_recogniser(self, grammar: tuple[str, ...] = ()) -> Any:
        """A recogniser for one 8 kHz leg with Vosk's interface (AcceptWaveform, Result, ...)."""
        ...


class SpeechModel:
    """A loaded Vosk model, shared by every recogniser of the process.

    Load it with :meth:`load` (or :meth:`load_async` from an event loop): loading takes seconds and a few
    hundred MB, so a path is loaded once per process and the same object is returned while it is alive.
    """

    _loaded: ClassVar[weakref.WeakValueDictionary[Path, SpeechModel]] = weakref.WeakValueDictionary()
    _load_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, native: Any, path: Path) -> None:
        """Wrap an already loaded ``vosk.Model``; use :meth:`load` instead."""
        self._native = native
        self.path = path

    @property
    def name(self) -> str:
        """The model's directory name, e.g. ``en``."""
        return self.path.name

    @classmethod
    def load(cls, path: Path | str, *, log_level: int = -1) -> SpeechModel:
        """The model in directory ``path``, loaded now unless this process already holds it.

        Blocks for seconds: call it from a thread, never on an event loop. ``log_level`` is Vosk's own
        (-1 silences its informational lines on stderr).
        """
        resolved = Path(path).resolve()
        with cls._load_lock:
            existing = cls._loaded.get(resolved)
            if existing is not None:
                return existing
            check_model_dir(resolved)
            import vosk

            vosk.SetLogLevel(log_level)
            started = time.monotonic()
            try:
                native = vosk.Model(str(resolved))
            except Exception as exc:
                raise ModelUnavailable(f"Vosk could not load the speech model in {resolved}: {exc}.") from exc
            model = cls(native, resolved)
            cls._loaded[resolved] = model
            log.info("Loaded speech model %s in %.1f s.", resolved, time.monotonic() - started)
            return model

    @classmethod
    async def load_async(cls, path: Path | str) -> SpeechModel:
        """:meth:`load` on a worker thread, for callers on an event loop."""
        return await asyncio.to_thread(cls.load, path)

    @classmethod
    def is_loaded(cls, path: Path | str) -> bool:
        """Whether this process holds the model in ``path`` loaded."""
        return Path(path).resolve() in cls._loaded

    def new_recogniser(self, grammar: tuple[str, ...] = ()) -> Any:
        """A fresh ``vosk.KaldiRecognizer`` for one 8 kHz leg with word times.

        ``grammar``, when given, restricts recognition to those phrases (Vosk's phrase list; words outside
        the model's vocabulary are ignored by Vosk with a warning, anything else said comes out as
        ``[unk]``). It needs a model with a dynamic graph (``graph/HCLr.fst`` and ``graph/Gr.fst``).
        """
        import vosk

        try:
            if grammar:
                if not has_dynamic_graph(self.path):
                    raise ModelUnavailable(f"The speech model in {self.path} has a static graph (no "
                                           "graph/HCLr.fst and graph/Gr.fst): it cannot take a phrase list.")
                recogniser = vosk.KaldiRecognizer(self._native, float(SAMPLE_RATE), json.dumps(list(grammar)))
            else:
                recogniser = vosk.KaldiRecognizer(self._native, float(SAMPLE_RATE))
        except ModelUnavailable:
            raise
        except Exception as exc:
            raise ModelUnavailable(f"Vosk could not create a recogniser with the model in {self.path}: {exc}.") from exc
        recogniser.SetWords(True)
        recogniser.SetPartialWords(True)
        return recogniser

    def __repr__(self) -> str:
        return f"SpeechModel({str(self.path)!r})"


def has_dynamic_graph(path: Path) -> bool:
    """Whether the model in ``path`` can take a phrase list at run time (small Vosk models can)."""
    return (path / "graph" / "HCLr.fst").is_file() and (path / "graph" / "Gr.fst").is_file()


def check_model_dir(path: Path) -> None:
    """Raise :class:`ModelUnavailable` unless ``path`` looks like a Vosk model that accepts 8 kHz audio."""
    if not (path / "am" / "final.mdl").is_file():
        raise ModelUnavailable(
            f"No speech model in {path}: it has no am/final.mdl. Run `hotline models install` to install one."
        )
    mfcc = path / "conf" / "mfcc.conf"
    if not mfcc.is_file():
        return
    options = parse_conf(mfcc.read_text(encoding="utf-8"))
    model_rate = float(options.get("--sample-frequency", "16000"))
    upsample = options.get("--allow-upsample", "false").lower() in ("true", "1")
    if model_rate > SAMPLE_RATE and not upsample:
        raise ModelUnavailable(
            f"The speech model in {path} expects {model_rate:g} Hz audio and may not upsample the 8 kHz "
            f"telephone audio: add --allow-upsample=true to {mfcc}, or install it with "
            "`hotline models install`, which does."
        )


def parse_conf(text: str) -> dict[str, str]:
    """Kaldi ``--name=value`` option lines as a dict; comments and blank lines are skipped."""
    options: dict[str, str] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("--"):
            name, _, value = line.partition("=")
            options[name] = value
    return options


def parse_result(payload: str, speaker: str, offset_s: float, *, partial: bool = False) -> Segment | None:
    """The segment in one Vosk JSON result with word times moved ``offset_s`` later; None for silence.

    Final results carry words under ``result``, partial ones (with partial words on) under
    ``partial_result``. Times are rounded to milliseconds.
    """
    data = json.loads(payload)
    text = str(data.get("partial" if partial else "text", "")).strip()
    entries = data.get("partial_result" if partial else "result") or []
    words = [
        Word(
            str(entry["word"]),
            round(float(entry["start"]) + offset_s, 3),
            round(float(entry["end"]) + offset_s, 3),
            float(entry.get("conf", 1.0)),
        )
        for entry in entries
    ]
    if not text or not words:
        return None
    return Segment.from_words(speaker, words, text)


RECOGNISER_NICENESS = 10
"""How much lower than the media threads the recogniser threads run. Live audio must keep its 20 ms
pace; a recogniser that falls behind only delays the transcript (its audio waits in the leg's queue).
Measured: with recognisers at the media threads' priority, 10 transcribed calls on 2 cores starved the
workers' RTP senders to 25 packets/s."""


def _yield_to_media() -> None:
    """Lower the calling thread's scheduling priority (Linux schedules threads one by one; elsewhere, or
    without the right, nothing changes)."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), RECOGNISER_NICENESS)


class LegTranscriber:
    """Transcribes one leg (one speaker) of a call on its own recogniser thread.

    ``offset_s`` is when this leg's audio starts, in seconds from the start of the call: the agent leg
    starts later than the caller leg, and every time in its segments is shifted by that much.
    ``on_segment`` receives a :class:`SegmentRecognised` for every final segment, and for partial results
    too when ``partials`` is true; it runs on the recogniser thread, or on ``loop`` (via
    ``call_soon_threadsafe``) when one is given, and must not block.

    The thread starts at once and runs until :meth:`end` (no more audio; the rest is decoded and flushed),
    :meth:`close` (end and wait) or :meth:`abort` (stop soon, skipping queued audio).
    """

    def __init__(
        self,
        model: RecognitionModel,
        call_id: str,
        speaker: str,
        offset_s: float = 0.0,
        on_segment: SegmentHandler | None = None,
        *,
        partials: bool = False,
        loop: asyncio.AbstractEventLoop | None = None,
        block_bytes: int = DEFAULT_BLOCK_BYTES,
    ) -> None:
        if offset_s < 0:
            raise ValueError(f"offset_s must not be negative, got {offset_s}.")
        if block_bytes <= 0 or block_bytes % SAMPLE_WIDTH:
            raise ValueError(f"block_bytes must be a positive whole number of samples, got {block_bytes}.")
        self.model = model
        self.call_id = call_id
        self.speaker = speaker
        self.offset_s = offset_s
        self._on_segment = on_segment
        self._partials = partials
        self._loop = loop
        self._block_bytes = block_bytes
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._segments: list[Segment] = []
        self._lock = threading.Lock()
        self._ended = threading.Event()
        self._aborted = threading.Event()
        self._done = threading.Event()
        self._error: BaseException | None = None
        self._fed_bytes = 0
        self._decoded_bytes = 0
        self._dropped_bytes = 0
        self._last_partial = ""
        self._thread = threading.Thread(target=self._run, name=f"vosk-{call_id}-{speaker}", daemon=True)
        self._thread.start()

    # -- called by the SIP bridge ------------------------------------------------------------------------

    def feed(self, pcm: bytes | bytearray | memoryview) -> None:
        """Queue ``pcm`` (16-bit mono 8 kHz, any whole number of samples) for recognition; never blocks.

        Audio fed after :meth:`end` is dropped and counted in :attr:`dropped_bytes` (the bridge may still
        deliver a frame while the call is being torn down).
        """
        size = len(pcm)
        if size % SAMPLE_WIDTH:
            raise ValueError(f"PCM must be whole 16-bit samples, got {size} bytes.")
        if self._ended.is_set():
            self._dropped_bytes += size
            return
        self._fed_bytes += size
        self._queue.put(bytes(pcm))

    # -- lifecycle ---------------------------------------------------------------------------------------

    def end(self) -> None:
        """No more audio: the thread decodes what is queued, flushes the last segment and stops. Never blocks."""
        if not self._ended.is_set():
            self._ended.set()
            self._queue.put(None)

    def abort(self) -> None:
        """Stop soon: queued audio is skipped, what was decoded so far is flushed. Never blocks."""
        self._aborted.set()
        self.end()
        self._queue.put(None)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the thread has stopped; True if it has."""
        if not self._done.wait(timeout):
            return False
        self._thread.join()
        return True

    def close(self, timeout: float | None = None) -> list[Segment]:
        """End the leg, wait for the rest of its audio to be recognised and return its final segments.

        Raises :class:`TranscriptionTimeout` if that takes longer than ``timeout`` seconds (the thread
        keeps going; call :meth:`abort` to stop it), :class:`RecogniserFailed` if Vosk failed.
        """
        self.end()
        if not self.wait(timeout):
            raise TranscriptionTimeout(
                f"The {self.speaker} leg of call {self.call_id} still had {self.backlog_s:.1f} s of audio "
                f"to recognise after {timeout} s.",
                self.segments(),
            )
        self._raise_if_failed()
        return self.segments()

    # -- state -------------------------------------------------------------------------------------------

    def segments(self) -> list[Segment]:
        """The final segments recognised so far, in order; complete once :attr:`done`."""
        with self._lock:
            return list(self._segments)

    @property
    def done(self) -> bool:
        """Whether the recogniser thread has stopped (after :meth:`end` or :meth:`abort`, or on failure)."""
        return self._done.is_set()

    @property
    def error(self) -> BaseException | None:
        """Why the recogniser failed, or None."""
        return self._error

    @property
    def backlog_s(self) -> float:
        """Seconds of fed audio not decoded yet: how far the recogniser lags behind the call."""
        return max(0, self._fed_bytes - self._decoded_bytes) / BYTES_PER_SECOND

    @property
    def fed_s(self) -> float:
        """Seconds of audio fed so far."""
        return self._fed_bytes / BYTES_PER_SECOND

    @property
    def dropped_bytes(self) -> int:
        """Bytes fed after :meth:`end`, which were not recognised."""
        return self._dropped_bytes

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise RecogniserFailed(
                f"Recognising the {self.speaker} leg of call {self.call_id} failed: {self._error}",
                self.segments(),
            ) from self._error

    # -- the recogniser thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        recogniser: Any = None
        _yield_to_media()
        try:
            recogniser = self.model.new_recogniser()
            pending = bytearray()
            while True:
                item = self._queue.get()
                if item is None or self._aborted.is_set():
                    if pending and not self._aborted.is_set():
                        self._accept(recogniser, bytes(pending))
                    self._final(recogniser.FinalResult())
                    break
                pending += item
                while len(pending) >= self._block_bytes and not self._aborted.is_set():
                    block = bytes(pending[: self._block_bytes])
                    del pending[: self._block_bytes]
                    self._accept(recogniser, block)
        except Exception as exc:
            self._error = exc
            log.exception("Recogniser of the %s leg of call %s failed.", self.speaker, self.call_id)
        finally:
            recogniser = None  # frees the native recogniser on this thread
            self._done.set()
            self._drain()

    def _accept(self, recogniser: Any, block: bytes) -> None:
        try:
            endpoint = recogniser.AcceptWaveform(block)
        except Exception as exc:
            raise TranscriptionError(f"Vosk rejected {len(block)} bytes of audio: {exc}") from exc
        self._decoded_bytes += len(block)
        if endpoint:
            self._final(recogniser.Result())
        elif self._partials and self._on_segment is not None:
            segment = parse_result(recogniser.PartialResult(), self.speaker, self.offset_s, partial=True)
            if segment is not None and segment.text != self._last_partial:
                self._last_partial = segment.text
                self._emit(SegmentRecognised(self.call_id, segment, final=False))

    def _final(self, payload: str) -> None:
        self._last_partial = ""
        segment = parse_result(payload, self.speaker, self.offset_s)
        if segment is None:
            return
        with self._lock:
            self._segments.append(segment)
        self._emit(SegmentRecognised(self.call_id, segment, final=True))

    def _emit(self, event: SegmentRecognised) -> None:
        handler = self._on_segment
        if handler is None:
            return
        if self._loop is not None:
            try:
                self._loop.call_soon_threadsafe(handler, event)
            except RuntimeError:
                log.warning("Event loop closed; segment of call %s not delivered.", self.call_id)
            return
        try:
            handler(event)
        except Exception:
            log.exception("The segment handler of call %s failed.", self.call_id)

    def _drain(self) -> None:
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass

    def __repr__(self) -> str:
        state = "done" if self.done else ("ending" if self._ended.is_set() else "live")
        return f"LegTranscriber(call_id={self.call_id!r}, speaker={self.speaker!r}, {state})"


class CallTranscription:
    """The legs of one call, each with its own :class:`LegTranscriber`, and their merged transcript."""

    def __init__(
        self,
        model: RecognitionModel,
        call_id: str,
        on_segment: SegmentHandler | None = None,
        *,
        partials: bool = False,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.model = model
        self.call_id = call_id
        self._on_segment = on_segment
        self._partials = partials
        self._loop = loop
        self._legs: dict[str, LegTranscriber] = {}
        self._lock = threading.Lock()
        self._finished = False

    def leg(self, speaker: str, offset_s: float = 0.0) -> LegTranscriber:
        """Start transcribing the leg of ``speaker``, whose audio starts ``offset_s`` after the call's."""
        with self._lock:
            if self._finished:
                raise RuntimeError(f"Call {self.call_id} is finished; it takes no new legs.")
            if speaker in self._legs:
                raise ValueError(f"Call {self.call_id} already has a {speaker} leg.")
            leg = LegTranscriber(
                self.model,
                self.call_id,
                speaker,
                offset_s,
                self._on_segment,
                partials=self._partials,
                loop=self._loop,
            )
            self._legs[speaker] = leg
            return leg

    @property
    def legs(self) -> Mapping[str, LegTranscriber]:
        """The legs by speaker."""
        return dict(self._legs)

    def end(self) -> None:
        """No more audio on any leg (see :meth:`LegTranscriber.end`); never blocks."""
        with self._lock:
            self._finished = True
            legs = list(self._legs.values())
        for leg in legs:
            leg.end()

    def finish(self, timeout: float | None = None) -> list[Segment]:
        """End every leg, wait up to ``timeout`` seconds in all, return all final segments by start time.

        Legs still busy at the deadline are aborted (their queued audio skipped) and
        :class:`TranscriptionTimeout` is raised with the segments recognised so far; a leg that failed
        raises :class:`RecogniserFailed` after the others are done. No thread outlives this call for long.
        """
        self.end()
        deadline = None if timeout is None else time.monotonic() + timeout
        legs = list(self._legs.values())
        late = [leg for leg in legs if not leg.wait(_remaining(deadline))]
        for leg in late:
            leg.abort()
        for leg in late:
            leg.wait(5.0)
        segments = in_call_order(segment for leg in legs for segment in leg.segments())
        if late:
            names = ", ".join(leg.speaker for leg in late)
            raise TranscriptionTimeout(
                f"Call {self.call_id}: the {names} leg(s) were not recognised within {timeout} s and were cut short.",
                segments,
            )
        failed = [leg for leg in legs if leg.error is not None]
        if failed:
            raise RecogniserFailed(
                f"Call {self.call_id}: recognising the {failed[0].speaker} leg failed: {failed[0].error}",
                segments,
            ) from failed[0].error
        return segments

    async def finish_async(self, timeout: float | None = None) -> list[Segment]:
        """:meth:`finish` on a worker thread, for callers on an event loop."""
        return await asyncio.to_thread(self.finish, timeout)

    def abort(self) -> None:
        """Stop every leg soon without waiting (e.g. on shutdown); never blocks."""
        self.end()
        for leg in list(self._legs.values()):
            leg.abort()


def _remaining(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    return max(0.0, deadline - time.monotonic())
