"""The audio spool: every leg's audio written to disk as it arrives, so no transcript is ever lost.

Layout under the spool directory, one folder per call::

    <spool>/<call folder>/call.json        {"call_id", "state", "legs": {speaker: offset_s}, "created"}
    <spool>/<call folder>/<speaker>.wav    8 kHz mono 16-bit PCM, appended while the call runs

``state`` is "live" while the call runs, "pending" when the call has ended and some leg still has to be
transcribed from its WAV (recognition capacity was exceeded, a recogniser process died, no model was
installed), and "done" once the transcript is on the case. A crash leaves calls "live" or "pending";
:meth:`Spool.unfinished` finds them at the next start, and their WAVs (header sizes may be stale after a
crash: :func:`read_pcm` trusts the file size, not the header) are transcribed then.

Retention (:meth:`Spool.purge`) deletes the audio of "done" calls older than the retention period
(0 days: as soon as the transcript is attached); audio still waiting for its transcript is never
deleted. Standard library only; each frame is written on the caller's thread, unbuffered (one ``write``
into the page cache), so a crash of the process loses none of the audio it was given.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import struct
import threading
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

SAMPLE_RATE = 8000
SAMPLE_WIDTH = 2
WAV_HEADER_BYTES = 44
MANIFEST = "call.json"
LIVE, PENDING, DONE = "live", "pending", "done"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class SpoolError(Exception):
    """The spool could not be written or read."""


def call_folder_name(call_id: str) -> str:
    """A file-system-safe, unique folder name for a SIP Call-ID (which may hold '@', '/', ...)."""
    digest = hashlib.sha256(call_id.encode()).hexdigest()[:12]
    return f"{_SAFE.sub('_', call_id)[:48]}-{digest}"


def _write_json_atomically(path: Path, data: object) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def _wav_header(data_bytes: int) -> bytes:
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + data_bytes, b"WAVE", b"fmt ", 16, 1, 1, SAMPLE_RATE,
        SAMPLE_RATE * SAMPLE_WIDTH, SAMPLE_WIDTH, 8 * SAMPLE_WIDTH, b"data", data_bytes,
    )


class LegRecording:
    """One leg's WAV, appended frame by frame. Thread-safe; :meth:`close` fixes the header's sizes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # Unbuffered: each frame is one write(2) into the page cache, so a killed process loses none of it.
        self._file: BinaryIO | None = open(path, "wb", buffering=0)  # noqa: SIM115 (closed in close())
        self._file.write(_wav_header(0))
        self._bytes = 0
        self._lock = threading.Lock()

    def write(self, pcm: bytes) -> None:
        with self._lock:
            if self._file is None:
                return
            self._file.write(pcm)
            self._bytes += len(pcm)

    @property
    def bytes_written(self) -> int:
        return self._bytes

    def close(self) -> None:
        with self._lock:
            if self._file is None:
                return
            try:
                self._file.seek(0)
                self._file.write(_wav_header(self._bytes))
                self._file.flush()
                os.fsync(self._file.fileno())
            finally:
                self._file.close()
                self._file = None


def read_pcm(path: Path) -> bytes:
    """The PCM of a spooled WAV. Trusts the file's length over its header (a crash leaves it stale)."""
    try:
        with open(path, "rb") as f:
            head = f.read(WAV_HEADER_BYTES)
            if len(head) < WAV_HEADER_BYTES or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                raise SpoolError(f"{path} is not a WAV file this spool wrote.")
            data = f.read()
    except OSError as exc:
        raise SpoolError(f"Cannot read spooled audio {path}: {exc}") from exc
    return data[: len(data) - len(data) % SAMPLE_WIDTH]


def write_wav(path: Path, pcm: bytes) -> Path:
    """Write ``pcm`` (8 kHz mono 16-bit) as a WAV file; used by tests and benchmarks."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(SAMPLE_WIDTH)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm)
    return path


@dataclass(frozen=True, slots=True)
class SpooledLeg:
    speaker: str
    offset_s: float
    path: Path


@dataclass(frozen=True, slots=True)
class SpooledCall:
    """A call found in the spool: its Call-ID, state, folder and legs."""

    call_id: str
    state: str
    folder: Path
    legs: tuple[SpooledLeg, ...]
    created: float


class CallSpool:
    """The spool folder of one call while it runs: a recording per leg and the manifest."""

    def __init__(self, spool: Spool, call_id: str) -> None:
        self.call_id = call_id
        self.folder = spool.root / call_folder_name(call_id)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._legs: dict[str, float] = {}
        self._recordings: dict[str, LegRecording] = {}
        self._created = time.time()
        self._lock = threading.Lock()
        self._write_manifest(LIVE)

    def _write_manifest(self, state: str) -> None:
        _write_json_atomically(self.folder / MANIFEST, {
            "call_id": self.call_id, "state": state, "legs": self._legs, "created": self._created,
        })

    def leg(self, speaker: str, offset_s: float) -> LegRecording:
        if not re.fullmatch(r"[a-z][a-z0-9_-]{0,31}", speaker):
            raise ValueError(f"A speaker is a short lower-case name, got {speaker!r}.")
        with self._lock:
            if speaker in self._recordings:
                raise ValueError(f"Call {self.call_id} already has a {speaker} leg.")
            recording = LegRecording(self.folder / f"{speaker}.wav")
            self._recordings[speaker] = recording
            self._legs[speaker] = offset_s
            self._write_manifest(LIVE)
            return recording

    def close(self, state: str) -> SpooledCall:
        """Close every recording and record the call's ``state`` (PENDING or DONE)."""
        with self._lock:
            for recording in self._recordings.values():
                recording.close()
            self._write_manifest(state)
            return SpooledCall(self.call_id, state, self.folder, self.legs(), self._created)

    def legs(self) -> tuple[SpooledLeg, ...]:
        return tuple(SpooledLeg(s, o, self.folder / f"{s}.wav") for s, o in self._legs.items())


class Spool:
    """The spool directory (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def begin(self, call_id: str) -> CallSpool:
        return CallSpool(self, call_id)

    def calls(self) -> Iterator[SpooledCall]:
        for manifest in sorted(self.root.glob(f"*/{MANIFEST}")):
            try:
                data = json.loads(manifest.read_text(encoding="utf-8"))
                legs = tuple(SpooledLeg(str(s), float(o), manifest.parent / f"{s}.wav")
                             for s, o in dict(data["legs"]).items())
                yield SpooledCall(str(data["call_id"]), str(data["state"]), manifest.parent, legs,
                                  float(data.get("created", manifest.stat().st_mtime)))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise SpoolError(f"Unreadable spool manifest {manifest}: {exc}") from exc

    def unfinished(self) -> list[SpooledCall]:
        """Calls whose transcript is not on the case yet (a crash, a dead recogniser, no model), oldest first."""
        return sorted((c for c in self.calls() if c.state != DONE), key=lambda c: c.created)

    def mark(self, call: SpooledCall, state: str) -> None:
        _write_json_atomically(call.folder / MANIFEST, {
            "call_id": call.call_id, "state": state,
            "legs": {leg.speaker: leg.offset_s for leg in call.legs}, "created": call.created,
        })

    def purge(self, keep_days: float, now: float | None = None) -> int:
        """Delete the folders of "done" calls older than ``keep_days`` (0: every done call); the number removed."""
        now = time.time() if now is None else now
        removed = 0
        for call in list(self.calls()):
            if call.state == DONE and now - call.created >= keep_days * 86400:
                with contextlib.suppress(FileNotFoundError):
                    shutil.rmtree(call.folder)
                    removed += 1
        return removed
