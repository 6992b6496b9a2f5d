"""Audio the hotline plays itself: hold music, generated here so the project ships no recordings."""

from __future__ import annotations

import itertools
import math
import struct
from collections.abc import Iterator

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
