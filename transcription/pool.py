"""A bounded pool of recogniser processes: speech recognition off the service process, on every core.

Each worker process loads the speech model once and decodes many legs: live legs, fed 100 ms blocks
while their call runs, and spooled legs (a WAV file transcribed after the call), which it decodes in
chunks between live blocks so live legs keep priority. The service process only copies audio into a pipe.

Admission by capacity: a worker takes at most ``legs_per_process`` live legs; :meth:`RecogniserPool.open_leg`
returns None when every worker is full (the caller then transcribes the leg from its spooled WAV after
the call). A worker that dies (killed, out of memory, a crash in the native library) fails its live legs
with :class:`WorkerDied` (their audio is in the spool) and is replaced; its spooled jobs are handed to a
worker again.

Memory: Vosk's recogniser grows ≈ 4 MB per minute of audio it decodes and releases it only when it is
deleted (``bench/vosk_memory.py``), so a worker replaces a leg's recogniser at the first end of an
utterance after ``recycle_s`` seconds of audio (word times continue from the leg's position), and the pool
replaces a worker process that has decoded ``recycle_process_s`` seconds of audio once it is idle.

Wire format, service → worker (``Connection.send_bytes``): one op byte, a 4-byte job id, a payload
(``a`` audio, ``o`` open a live leg, ``e`` end it, ``f`` transcribe a file, ``s`` stop). Worker → service
(``Connection.send``): ``("ready", pid)``, ``("seg", job, final, Segment)``, ``("done", job, error)``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import os
import queue
import struct
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from transcription.segments import Segment, SegmentRecognised, in_call_order

log = logging.getLogger(__name__)

SAMPLE_RATE = 8000
SAMPLE_WIDTH = 2
BYTES_PER_SECOND = SAMPLE_RATE * SAMPLE_WIDTH
BLOCK_BYTES = 1600
"""Every leg is decoded in 100 ms blocks, live or from the spool: the same audio gives the same text."""
FILE_CHUNK_BLOCKS = 20
"""A spooled leg is decoded 2 s at a time between live blocks."""
MAX_FAILED_STARTS = 3
"""A process that dies before its model is loaded this many times in a row is not started again."""
_HEADER = struct.Struct("<cI")
_AUDIO, _OPEN, _END, _FILE, _STOP = b"a", b"o", b"e", b"f", b"s"

EventHandler = Callable[[SegmentRecognised], object]


class PoolError(Exception):
    """The recogniser pool could not do what was asked."""


class WorkerDied(PoolError):
    """The recogniser process decoding a leg died; the leg has to be transcribed from its spooled WAV."""


class PoolStopped(PoolError):
    """The pool was stopped before the job finished."""


@dataclass(frozen=True)
class PoolConfig:
    model_path: Path
    processes: int = 2
    legs_per_process: int = 6
    partials: bool = True
    partial_interval_s: float = 0.5
    """How often a live leg's partial result is asked for: each costs ≈ 8 % of the decoding of 100 ms."""
    recycle_s: float = 300.0
    recycle_process_s: float = 4 * 3600.0
    niceness: int = 10
    grammar: tuple[str, ...] = ()
    ready_timeout: float = 120.0


# ---------------------------------------------------------------------------------------------------------
# The worker process
# ---------------------------------------------------------------------------------------------------------


class _Decoder:
    """One leg's recogniser inside a worker, replaced every ``recycle_s`` of audio at an utterance end."""

    def __init__(self, model: Any, job: int, speaker: str, offset_s: float, partial_every: int, recycle_s: float,
                 grammar: tuple[str, ...], send: Callable[[tuple[Any, ...]], None]) -> None:
        self.model, self.job, self.speaker, self.offset_s = model, job, speaker, offset_s
        self.partial_every, self.recycle_s, self.grammar, self._send = partial_every, recycle_s, grammar, send
        self.blocks = 0
        self.pending = bytearray()
        self.decoded = 0  # bytes of this leg decoded so far
        self.base = 0  # bytes of this leg decoded before the current recogniser started
        self.last_partial = ""
        self.recogniser = model.new_recogniser(grammar)
        self.recycles = 0

    def feed(self, pcm: bytes) -> None:
        self.pending += pcm
        while len(self.pending) >= BLOCK_BYTES:
            block = bytes(self.pending[:BLOCK_BYTES])
            del self.pending[:BLOCK_BYTES]
            self._accept(block)

    def _offset(self) -> float:
        return self.offset_s + self.base / BYTES_PER_SECOND

    def _accept(self, block: bytes) -> None:
        from transcription.vosk import parse_result

        endpoint = self.recogniser.AcceptWaveform(block)
        self.decoded += len(block)
        self.blocks += 1
        if endpoint:
            self._final(self.recogniser.Result())
            if (self.decoded - self.base) / BYTES_PER_SECOND >= self.recycle_s:
                self.recogniser = None  # frees the native recogniser and what it accumulated
                self.recogniser = self.model.new_recogniser(self.grammar)
                self.base = self.decoded
                self.recycles += 1
        elif self.partial_every and self.blocks % self.partial_every == 0:
            segment = parse_result(self.recogniser.PartialResult(), self.speaker, self._offset(), partial=True)
            if segment is not None and segment.text != self.last_partial:
                self.last_partial = segment.text
                self._send(("seg", self.job, False, segment))

    def _final(self, payload: str) -> None:
        from transcription.vosk import parse_result

        self.last_partial = ""
        segment = parse_result(payload, self.speaker, self._offset())
        if segment is not None:
            self._send(("seg", self.job, True, segment))

    def finish(self) -> None:
        if self.pending:
            self._accept(bytes(self.pending))
            self.pending.clear()
        self._final(self.recogniser.FinalResult())
        self.recogniser = None


@dataclass
class _FileJob:
    decoder: _Decoder
    pcm: bytes
    position: int = 0


def worker_main(conn: Connection, config: PoolConfig) -> None:
    """The body of a recogniser process: load the model, then serve ``conn`` until told to stop."""
    with contextlib.suppress(OSError):
        os.nice(config.niceness)
    from transcription.spool import read_pcm
    from transcription.vosk import SpeechModel

    model = SpeechModel.load(config.model_path)
    send_lock = threading.Lock()

    def send(message: tuple[Any, ...]) -> None:
        with send_lock:
            conn.send(message)

    send(("ready", os.getpid()))
    live: dict[int, _Decoder] = {}
    files: list[_FileJob] = []
    while True:
        if files and not conn.poll(0):
            job = files[0]
            end = min(len(job.pcm), job.position + FILE_CHUNK_BLOCKS * BLOCK_BYTES)
            try:
                job.decoder.feed(job.pcm[job.position:end])
                job.position = end
                if end >= len(job.pcm):
                    files.pop(0)
                    job.decoder.finish()
                    send(("done", job.decoder.job, None))
            except Exception as exc:
                files.pop(0)
                send(("done", job.decoder.job, f"{type(exc).__name__}: {exc}"))
            continue
        try:
            raw = conn.recv_bytes()
        except (EOFError, OSError):
            return
        op, job_id = _HEADER.unpack_from(raw)
        payload = memoryview(raw)[_HEADER.size:]
        try:
            if op == _AUDIO:
                decoder = live.get(job_id)
                if decoder is not None:
                    decoder.feed(bytes(payload))
            elif op == _OPEN:
                spec = json.loads(bytes(payload))
                every = max(1, round(config.partial_interval_s * BYTES_PER_SECOND / BLOCK_BYTES))
                live[job_id] = _Decoder(model, job_id, spec["speaker"], spec["offset_s"],
                                        every if config.partials else 0, config.recycle_s,
                                        tuple(spec.get("grammar") or config.grammar), send)
            elif op == _END:
                decoder = live.pop(job_id, None)
                if decoder is not None:
                    decoder.finish()
                    send(("done", job_id, None))
            elif op == _FILE:
                spec = json.loads(bytes(payload))
                decoder = _Decoder(model, job_id, spec["speaker"], spec["offset_s"], 0, config.recycle_s,
                                   tuple(spec.get("grammar") or config.grammar), send)
                files.append(_FileJob(decoder, read_pcm(Path(spec["path"]))))
            elif op == _STOP:
                return
        except Exception as exc:
            live.pop(job_id, None)
            send(("done", job_id, f"{type(exc).__name__}: {exc}"))


# ---------------------------------------------------------------------------------------------------------
# The service side
# ---------------------------------------------------------------------------------------------------------


@dataclass
class _Job:
    """A leg being decoded (live or from a file) and where its results go."""

    id: int
    speaker: str
    offset_s: float
    on_event: EventHandler | None
    call_id: str
    file: Path | None = None
    grammar: tuple[str, ...] = ()
    fed_bytes: int = 0
    attempts: int = 0
    segments: list[Segment] = field(default_factory=list)
    future: Future[list[Segment]] = field(default_factory=Future)
    worker: _Worker | None = None


class _Worker:
    """One recogniser process and the two service threads that talk to it."""

    def __init__(self, pool: RecogniserPool, index: int) -> None:
        self.pool, self.index = pool, index
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(target=worker_main, args=(child, pool.config),
                                   name=f"hotline-asr-{index}", daemon=True)
        self.process.start()
        child.close()
        self.outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.ready = threading.Event()
        self.dead = False
        self.retiring = False
        self.live: set[int] = set()
        self.files: set[int] = set()
        self.decoded_bytes = 0
        self._sender = threading.Thread(target=self._send_loop, name=f"asr-send-{index}", daemon=True)
        self._receiver = threading.Thread(target=self._receive_loop, name=f"asr-recv-{index}", daemon=True)
        self._sender.start()
        self._receiver.start()

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def post(self, op: bytes, job: int, payload: bytes = b"") -> None:
        self.outbox.put(_HEADER.pack(op, job) + payload)

    def _send_loop(self) -> None:
        while True:
            message = self.outbox.get()
            if message is None:
                return
            try:
                self.conn.send_bytes(message)
            except (OSError, ValueError):
                return  # the receiver sees the process gone and handles it

    def _receive_loop(self) -> None:
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                break
            except Exception:
                log.exception("Unreadable message from recogniser process %s.", self.pid)
                break
            self.pool._on_message(self, message)
        self.pool._on_worker_gone(self)

    def stop(self, timeout: float) -> None:
        self.post(_STOP, 0)
        self.outbox.put(None)
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        with contextlib.suppress(OSError):
            self.conn.close()
        self._receiver.join(5)


class LiveLeg:
    """A leg admitted for live recognition: :meth:`feed` never blocks; :attr:`result` completes at the end."""

    def __init__(self, pool: RecogniserPool, job: _Job, worker: _Worker) -> None:
        self._pool, self._job, self._worker = pool, job, worker
        self._pending = bytearray()
        self._ended = False
        self._lock = threading.Lock()

    @property
    def result(self) -> Future[list[Segment]]:
        """The leg's final segments; fails with :class:`WorkerDied` if its process died."""
        return self._job.future

    @property
    def worker_pid(self) -> int | None:
        return self._worker.pid

    def feed(self, pcm: bytes) -> None:
        with self._lock:
            if self._ended or self._worker.dead:
                return  # a dead process's leg is transcribed from the spool
            self._pending += pcm
            self._job.fed_bytes += len(pcm)
            while len(self._pending) >= BLOCK_BYTES:
                self._worker.post(_AUDIO, self._job.id, bytes(self._pending[:BLOCK_BYTES]))
                del self._pending[:BLOCK_BYTES]

    def end(self) -> None:
        with self._lock:
            if self._ended:
                return
            self._ended = True
            if self._pending:
                self._worker.post(_AUDIO, self._job.id, bytes(self._pending))
                self._pending.clear()
            self._worker.post(_END, self._job.id)


class RecogniserPool:
    """``config.processes`` recogniser processes; live legs by admission, spooled legs by queue."""

    def __init__(self, config: PoolConfig) -> None:
        if config.processes < 1 or config.legs_per_process < 0:
            raise ValueError("A recogniser pool needs at least one process and a non-negative leg capacity.")
        self.config = config
        self._lock = threading.Lock()
        self._workers: list[_Worker] = []
        self._jobs: dict[int, _Job] = {}
        self._next_id = 1
        self._stopping = False
        self.deaths = 0
        self.recycled = 0
        self._failed_starts: dict[int, int] = {}

    # -- lifecycle ----------------------------------------------------------------------------------------

    def start(self, wait: bool = True) -> None:
        with self._lock:
            self._workers = [_Worker(self, i) for i in range(self.config.processes)]
        if wait:
            self.wait_ready(self.config.ready_timeout)

    def wait_ready(self, timeout: float) -> None:
        """Wait until every process has loaded the model (replacements included)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                waiting = [w for w in self._workers if not w.ready.is_set()]
                broken = [i for i, n in self._failed_starts.items() if n >= MAX_FAILED_STARTS]
            if broken:
                raise PoolError(f"Recogniser process {broken[0]} could not start (see the log).")
            if not waiting:
                return
            if not waiting[0].ready.wait(min(0.5, max(0.0, deadline - time.monotonic()))) \
                    and time.monotonic() >= deadline:
                raise PoolError(f"Recogniser process {waiting[0].pid} did not load the model within {timeout} s.")

    def stop(self, timeout: float = 10.0) -> None:
        with self._lock:
            self._stopping = True
            workers = list(self._workers)
        for worker in workers:
            worker.stop(timeout)
        with self._lock:
            jobs = list(self._jobs.values())
            self._jobs.clear()
        for job in jobs:
            if not job.future.done():
                job.future.set_exception(PoolStopped(f"The recogniser pool stopped before the {job.speaker} "
                                                     f"leg of call {job.call_id} was transcribed."))

    @property
    def pids(self) -> list[int]:
        return [w.pid for w in self._workers if w.pid is not None and not w.dead]

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {"processes": len(self._workers), "ready": sum(w.ready.is_set() for w in self._workers),
                    "live_legs": sum(len(w.live) for w in self._workers),
                    "capacity": self.capacity, "queued_files": sum(len(w.files) for w in self._workers),
                    "deaths": self.deaths, "recycled": self.recycled}

    @property
    def capacity(self) -> int:
        return self.config.processes * self.config.legs_per_process

    # -- work -----------------------------------------------------------------------------------------------

    def _new_job(self, call_id: str, speaker: str, offset_s: float, on_event: EventHandler | None,
                 file: Path | None = None) -> _Job:
        job = _Job(self._next_id, speaker, offset_s, on_event, call_id, file)
        self._next_id += 1
        self._jobs[job.id] = job
        return job

    def open_leg(self, call_id: str, speaker: str, offset_s: float, on_event: EventHandler | None = None,
                 grammar: tuple[str, ...] = ()) -> LiveLeg | None:
        """Admit a leg for live recognition on the least busy process, or None when all are full.

        ``grammar`` restricts this leg to those phrases (e.g. the answers an IVR menu expects) instead of
        the pool's default (``PoolConfig.grammar``, usually free speech).
        """
        with self._lock:
            if self._stopping:
                return None
            candidates = [w for w in self._workers if not w.dead and len(w.live) < self.config.legs_per_process]
            if not candidates:
                return None
            worker = min(candidates, key=lambda w: (len(w.live), len(w.files)))
            job = self._new_job(call_id, speaker, offset_s, on_event)
            job.worker = worker
            worker.live.add(job.id)
        job.grammar = grammar
        worker.post(_OPEN, job.id, json.dumps({"speaker": speaker, "offset_s": offset_s,
                                               "grammar": list(grammar)}).encode())
        return LiveLeg(self, job, worker)

    def transcribe_file(self, path: Path, call_id: str, speaker: str, offset_s: float,
                        on_event: EventHandler | None = None, grammar: tuple[str, ...] = ()) -> Future[list[Segment]]:
        """Transcribe a spooled WAV on the process with the fewest queued files; the future holds its segments."""
        with self._lock:
            if self._stopping:
                raise PoolStopped("The recogniser pool is stopped.")
            job = self._new_job(call_id, speaker, offset_s, on_event, path)
            job.grammar = grammar
            self._dispatch_file(job)
        return job.future

    def _dispatch_file(self, job: _Job) -> None:
        """Under the lock: send a file job to a living worker (any, even while it restarts)."""
        workers = [w for w in self._workers if not w.dead]
        if not workers:
            return  # a replacement is starting; _on_worker_gone re-dispatches
        worker = min(workers, key=lambda w: (len(w.files), len(w.live)))
        job.worker = worker
        job.attempts += 1
        worker.files.add(job.id)
        worker.post(_FILE, job.id, json.dumps({"path": str(job.file), "speaker": job.speaker,
                                               "offset_s": job.offset_s, "grammar": list(job.grammar)}).encode())

    # -- events from the workers --------------------------------------------------------------------------

    def _on_message(self, worker: _Worker, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "ready":
            worker.ready.set()
            return
        job = self._jobs.get(message[1])
        if job is None:
            return
        if kind == "seg":
            _, _, final, segment = message
            if final:
                job.segments.append(segment)
            if job.on_event is not None:
                try:
                    job.on_event(SegmentRecognised(job.call_id, segment, final=bool(final)))
                except Exception:
                    log.exception("The live transcript handler of call %s failed.", job.call_id)
        elif kind == "done":
            error = message[2]
            with self._lock:
                self._jobs.pop(job.id, None)
                worker.live.discard(job.id)
                worker.files.discard(job.id)
                worker.decoded_bytes += job.fed_bytes
                if job.file is not None:
                    with contextlib.suppress(OSError):
                        worker.decoded_bytes += job.file.stat().st_size
                recycle = (not worker.live and not worker.files and not self._stopping
                           and worker.decoded_bytes >= self.config.recycle_process_s * BYTES_PER_SECOND)
            if error is None:
                job.future.set_result(in_call_order(job.segments))
            else:
                job.future.set_exception(PoolError(f"Recognising the {job.speaker} leg of call {job.call_id} "
                                                   f"failed: {error}"))
            if recycle:
                threading.Thread(target=self._recycle, args=(worker,), daemon=True).start()

    def _recycle(self, worker: _Worker) -> None:
        log.info("Replacing recogniser process %s after %.0f s of audio.", worker.pid,
                 worker.decoded_bytes / BYTES_PER_SECOND)
        with self._lock:
            if worker.live or worker.files or self._stopping or worker.dead:
                return
            worker.dead = True  # no new work; _on_worker_gone starts the replacement
            worker.retiring = True
            self.recycled += 1
        worker.stop(10)

    def _on_worker_gone(self, worker: _Worker) -> None:
        with self._lock:
            worker.dead = True
            live = [self._jobs.pop(j) for j in list(worker.live) if j in self._jobs]
            files = [self._jobs[j] for j in list(worker.files) if j in self._jobs]
            worker.live.clear()
            worker.files.clear()
            failed_start = not worker.ready.is_set()
            self._failed_starts[worker.index] = self._failed_starts.get(worker.index, 0) + 1 if failed_start else 0
            if not self._stopping and worker in self._workers:
                if not worker.retiring:
                    self.deaths += 1
                if self._failed_starts[worker.index] >= MAX_FAILED_STARTS:
                    log.error("Recogniser process %d failed to start %d times in a row; not restarting it.",
                              worker.index, MAX_FAILED_STARTS)
                else:
                    self._workers[self._workers.index(worker)] = _Worker(self, worker.index)
            for job in files:
                if self._stopping or job.attempts >= 3:
                    self._jobs.pop(job.id, None)
                    job.future.set_exception(PoolStopped(f"The {job.speaker} leg of call {job.call_id} was not "
                                                         f"transcribed: its recogniser process stopped."))
                else:
                    job.segments.clear()
                    self._dispatch_file(job)
        worker.outbox.put(None)
        if live and not self._stopping:
            log.error("Recogniser process %s died with %d live legs; they will be transcribed from the spool.",
                      worker.pid, len(live))
        for job in live:
            job.future.set_exception(WorkerDied(f"The recogniser process of the {job.speaker} leg of call "
                                                f"{job.call_id} died (exit code {worker.process.exitcode})."))
