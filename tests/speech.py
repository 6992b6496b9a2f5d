"""Speech audio for tests: espeak-ng says a sentence, sox turns it into what a SIP leg carries.

Every helper deals in the hotline's leg format: 16-bit signed little-endian mono PCM at 8 kHz, cut into
20 ms frames of 320 bytes. ``synthesise`` writes a WAV file in exactly that format (optionally after a
G.711 round trip, as a real phone call would have), ``read_pcm`` returns its samples, ``frames`` cuts
them up and ``silence`` makes quiet frames.

Both programs are Debian packages (``espeak-ng``, ``sox``); ``require_speech_tools`` skips a test with a
clear reason where they are missing.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from collections.abc import Iterator
from pathlib import Path

SAMPLE_RATE = 8000
SAMPLE_WIDTH = 2
FRAME_BYTES = 320  # 20 ms at 8 kHz, 16-bit mono
BYTES_PER_SECOND = SAMPLE_RATE * SAMPLE_WIDTH


def speech_tools_missing() -> str | None:
    """Why speech cannot be synthesised here (a sentence), or None when espeak-ng and sox are both present."""
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if missing:
        return f"{' and '.join(missing)} not installed (Debian packages espeak-ng, sox), so no test speech."
    return None


def require_speech_tools() -> None:
    """Skip the calling test when espeak-ng or sox is missing."""
    import pytest

    reason = speech_tools_missing()
    if reason:
        pytest.skip(reason)


def synthesise(
    text: str,
    path: Path | str,
    voice: str = "en-us",
    speed: int = 150,
    *,
    pitch: int = 50,
    g711: str | None = None,
    pad_s: float = 0.0,
) -> Path:
    """Say ``text`` into ``path`` as an 8 kHz mono 16-bit WAV file and return the path.

    ``speed`` is espeak-ng's words per minute, ``pitch`` its 0-99 pitch. ``g711`` ("ulaw" or "alaw")
    passes the audio through that codec and back, as the telephone network would. ``pad_s`` adds that much
    silence before and after the speech.
    """
    path = Path(path)
    if g711 not in (None, "ulaw", "alaw"):
        raise ValueError(f"g711 must be 'ulaw', 'alaw' or None, not {g711!r}.")
    with tempfile.TemporaryDirectory(prefix="hotline-speech-") as tmp:
        raw = Path(tmp) / "espeak.wav"
        _run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(raw), text])
        source = raw
        if g711 is not None:
            coded = Path(tmp) / "coded.wav"
            encoding = "u-law" if g711 == "ulaw" else "a-law"
            _run(["sox", "-R", str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-e", encoding, "-b", "8", str(coded)])
            source = coded
        effects = ["pad", str(pad_s), str(pad_s)] if pad_s > 0 else []
        _run(
            [
                "sox",
                "-R",  # repeatable: sox dithers when it resamples, with a fresh random seed unless told
                str(source),
                "-r",
                str(SAMPLE_RATE),
                "-c",
                "1",
                "-b",
                "16",
                "-e",
                "signed-integer",
                str(path),
                *effects,
            ]
        )
    return path


def read_pcm(path: Path | str) -> bytes:
    """The samples of an 8 kHz mono 16-bit WAV file as raw little-endian PCM."""
    with wave.open(str(path), "rb") as wav:
        shape = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth())
        if shape != (SAMPLE_RATE, 1, SAMPLE_WIDTH):
            raise ValueError(f"{path} is {shape} (rate, channels, width), not 8 kHz mono 16-bit.")
        return wav.readframes(wav.getnframes())


def write_wav(path: Path | str, pcm: bytes) -> Path:
    """Write raw 8 kHz mono 16-bit PCM as a WAV file."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(SAMPLE_WIDTH)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(pcm)
    return Path(path)


def frames(pcm: bytes, size: int = FRAME_BYTES) -> Iterator[bytes]:
    """``pcm`` cut into frames of ``size`` bytes; a short last frame is padded with silence."""
    for start in range(0, len(pcm), size):
        frame = pcm[start : start + size]
        yield frame + bytes(size - len(frame))


def silence(seconds: float) -> bytes:
    """``seconds`` of digital silence, rounded down to whole 20 ms frames."""
    count = int(seconds * BYTES_PER_SECOND) // FRAME_BYTES
    return bytes(count * FRAME_BYTES)


def duration_s(pcm: bytes) -> float:
    """How long ``pcm`` plays, in seconds."""
    return len(pcm) / BYTES_PER_SECOND


def _run(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed with exit code {result.returncode}: {result.stderr.strip()}")
