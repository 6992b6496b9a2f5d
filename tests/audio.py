"""Listening to what a test phone heard: loudness over time and the strength of one tone."""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path


def read_wav(path: Path) -> tuple[list[int], int]:
    """Samples (mono, 16-bit) and the sample rate of a WAV file."""
    with wave.open(str(path)) as w:
        rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
        raw = w.readframes(w.getnframes())
    assert width == 2, f"{path} is not 16-bit"
    samples = list(struct.unpack(f"<{len(raw) // 2}h", raw))
    return samples[::channels], rate


def rms(samples: list[int]) -> float:
    return math.sqrt(sum(s * s for s in samples) / len(samples)) if samples else 0.0


def window(samples: list[int], rate: int, start_s: float, end_s: float) -> list[int]:
    return samples[int(start_s * rate):int(end_s * rate)]


def tone_ratio(samples: list[int], rate: int, freq: float) -> float:
    """Share of the signal's energy at ``freq`` (Goertzel), 0..1: near 0 for speech or silence."""
    if not samples:
        return 0.0
    k = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + k * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - k * s1 * s2
    energy = sum(x * x for x in samples) or 1
    return float(power / (energy * len(samples) / 2))


# espeak-ng's voice that the small English Vosk model recognises most steadily through G.711: of eight
# helpdesk sentences, en-us+f2 at 130 words/min kept its keywords under small codec perturbations in 11
# of 16 trials, the default en-us voice in 1.
TEST_VOICE = "en-us+f2"
TEST_SPEED = 130


def make_speech_track(path: Path, parts: list[tuple[float, str]], total_s: float) -> Path:
    """A WAV of ``total_s`` seconds (8 kHz mono 16-bit) with each sentence spoken at its offset."""
    from tests.speech import SAMPLE_RATE, read_pcm, synthesise

    track = bytearray(int(total_s * SAMPLE_RATE) * 2)
    for i, (at, text) in enumerate(parts):
        spoken = read_pcm(synthesise(text, path.with_suffix(f".part{i}.wav"), voice=TEST_VOICE, speed=TEST_SPEED))
        start = int(at * SAMPLE_RATE) * 2
        track[start:start + len(spoken)] = spoken
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(bytes(track))
    return path


def speech_spans(samples: list[int], rate: int, threshold: float = 500.0, step_s: float = 0.1) -> list[float]:
    """Start times (s) of 100 ms windows louder than ``threshold``."""
    step = int(rate * step_s)
    return [i / rate for i in range(0, len(samples) - step, step) if rms(samples[i:i + step]) > threshold]


__all__ = ["make_speech_track", "read_wav", "rms", "speech_spans", "tone_ratio", "window"]
