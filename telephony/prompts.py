"""Audio the hotline plays itself, generated here so the project ships no recordings: hold music, and
spoken prompts made with espeak-ng (the one module that runs it) into a data directory."""

from __future__ import annotations

import io
import itertools
import math
import struct
import subprocess
import warnings
import wave
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from telephony.leg import FRAME_BYTES, SAMPLE_RATE

# A calm four-note figure (A4, C#5, E5, C#5), each note 400 ms with a soft attack and release, then rest.
HOLD_NOTES_HZ = (440.0, 554.37, 659.25, 554.37)
NOTE_S = 0.4
REST_S = 0.4
AMPLITUDE = 6000


def _note(freq: float, seconds: float) -> bytes:
    n = int(SAMPLE_RATE * seconds)
    ramp = int(SAMPLE_RATE * 0.03)
    out = bytearray()
    for i in range(n):
        envelope = min(1.0, i / ramp, (n - i) / ramp)
        out += struct.pack("<h", int(AMPLITUDE * envelope * math.sin(2 * math.pi * freq * i / SAMPLE_RATE)))
    return bytes(out)


def hold_music_loop() -> bytes:
    """One loop of the hold music as 16-bit PCM at 8 kHz, a whole number of 20 ms frames long."""
    pcm = b"".join(_note(f, NOTE_S) for f in HOLD_NOTES_HZ) + bytes(int(SAMPLE_RATE * REST_S) * 2)
    return pcm + bytes(-len(pcm) % FRAME_BYTES)


def hold_music() -> Iterator[bytes]:
    """Endless 20 ms frames of hold music."""
    loop = hold_music_loop()
    frames = [loop[i:i + FRAME_BYTES] for i in range(0, len(loop), FRAME_BYTES)]
    return itertools.cycle(frames)


# --- spoken prompts ------------------------------------------------------------------------------

SILENCE = bytes(FRAME_BYTES)


class PromptError(RuntimeError):
    """A prompt could not be made (espeak-ng missing or failing) or read."""


def _resample_to_8k(pcm: bytes, rate: int) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop  # stdlib up to 3.12; the audioop-lts package from 3.13

        converted, _ = audioop.ratecv(pcm, 2, 1, rate, SAMPLE_RATE, None)
    return bytes(converted)


def synthesise(text: str, path: Path, *, voice: str = "en-us", speed: int = 150,
               binary: str = "espeak-ng") -> None:
    """Say ``text`` with espeak-ng into ``path``: an 8 kHz 16-bit mono WAV, a whole number of 20 ms frames."""
    try:
        out = subprocess.run([binary, "-v", voice, "-s", str(speed), "--stdout", text], capture_output=True,
                             check=True, timeout=60).stdout
    except FileNotFoundError:
        raise PromptError(f"{binary} is not installed (Debian package espeak-ng), so no prompts can be made.") \
            from None
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise PromptError(f"{binary} failed on {text!r}: {exc}") from None
    with wave.open(io.BytesIO(out), "rb") as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            raise PromptError(f"{binary} did not produce 16-bit mono audio.")
        pcm = _resample_to_8k(wav.readframes(wav.getnframes()), wav.getframerate())
    pcm += bytes(-len(pcm) % FRAME_BYTES)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with wave.open(str(tmp), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(pcm)
    tmp.replace(path)


class Prompts:
    """Recorded prompts in a directory: ``<name>.wav`` (8 kHz 16-bit mono) beside ``<name>.txt`` (the text
    it says, so a changed text is made again). ``build`` makes the missing or stale ones with espeak-ng."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._cache: dict[str, list[bytes]] = {}

    @classmethod
    def build(cls, directory: Path, texts: Mapping[str, str], **speech: Any) -> Prompts:
        for name, text in texts.items():
            wav, txt = directory / f"{name}.wav", directory / f"{name}.txt"
            if wav.exists() and txt.exists() and txt.read_text(encoding="utf-8") == text:
                continue
            synthesise(text, wav, **speech)
            txt.write_text(text, encoding="utf-8")
        return cls(directory)

    def frames(self, name: str) -> list[bytes] | None:
        """The prompt's 20 ms frames, or None if there is no such prompt."""
        if name not in self._cache:
            path = self.directory / f"{name}.wav"
            if not path.exists():
                return None
            with wave.open(str(path), "rb") as wav:
                if (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) != (SAMPLE_RATE, 2, 1):
                    raise PromptError(f"{path} is not 8 kHz 16-bit mono.")
                pcm = wav.readframes(wav.getnframes())
            pcm += bytes(-len(pcm) % FRAME_BYTES)
            self._cache[name] = [pcm[i:i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]
        return self._cache[name]


class Programme:
    """What a waiting caller hears, as an endless frame iterator for a ``media.Player``: queued prompts
    first, else the background (hold music), else silence. Thread-safe: the call flow queues and cuts
    prompts while the player thread reads."""

    def __init__(self, background: Iterator[bytes] | None = None) -> None:
        self._background = background
        self._queue: deque[bytes] = deque()

    def say(self, frames: Iterable[bytes]) -> None:
        self._queue.extend(frames)

    def cut(self) -> None:
        """Stop whatever prompt is playing (the caller pressed a key, or is about to be connected)."""
        self._queue.clear()

    @property
    def speaking(self) -> bool:
        return bool(self._queue)

    def __iter__(self) -> Programme:
        return self

    def __next__(self) -> bytes:
        try:
            return self._queue.popleft()
        except IndexError:
            pass
        if self._background is not None:
            return next(self._background)
        return SILENCE
