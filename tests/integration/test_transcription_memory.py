"""A 30-minute leg, fed faster than real time to a recogniser process, keeps the process's memory flat.

A Vosk recogniser grows ≈ 4 MB per minute of audio it decodes until it is deleted (``bench/asr_memory.py``
prints the growth with recycling off); the recogniser process replaces a leg's recogniser at the first pause
after ``recycle_s`` seconds of audio. Costs 1 to 2 min of CPU: it is the only test of a long call.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from tests.integration.test_transcription_pool import require_model
from tests.speech import frames, read_pcm, require_speech_tools, silence, synthesise
from transcription.pool import PoolConfig, RecogniserPool
from transcription.segments import SegmentRecognised

pytestmark = pytest.mark.integration

MINUTES = 30
RECYCLE_S = float(os.environ.get("HOTLINE_TEST_RECYCLE_S", "60"))
WARM_S = 180.0
BOUND_MB = 20.0
"""Allowed rise of the process's RSS after the first 3 minutes of audio. Measured (bench/asr_memory.py):
with the recogniser replaced every 60 s the RSS stays within ≈ 10 MB of its 3-minute level; without, it
climbs ≈ 30 MB more until Vosk resets its own feature pipeline at about 10 minutes of audio."""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def test_a_thirty_minute_leg_keeps_the_recogniser_process_memory_flat(tmp_path: Path) -> None:
    require_speech_tools()
    speech = read_pcm(synthesise("my printer is not working and I cannot print my report", tmp_path / "s.wav",
                                 voice="en-us+f2", speed=130, g711="ulaw"))
    unit = speech + silence(2.0)
    total = MINUTES * 60 * 16000
    audio = (unit * (total // len(unit) + 1))[:total]
    pool = RecogniserPool(PoolConfig(require_model(), processes=1, legs_per_process=1, partials=True,
                                     recycle_s=RECYCLE_S))
    pool.start()
    samples: list[tuple[float, float]] = []  # (seconds of audio decoded, RSS in MB)
    heard = [0.0]
    stop = threading.Event()

    def on_event(event: SegmentRecognised) -> None:
        heard[0] = max(heard[0], event.segment.end)

    try:
        leg = pool.open_leg("long", "caller", 0.0, on_event)
        assert leg is not None and leg.worker_pid is not None
        pid = leg.worker_pid

        def sample() -> None:
            while not stop.wait(0.5):
                samples.append((heard[0], rss_mb(pid)))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.monotonic()
        for frame in frames(audio):
            leg.feed(frame)
        leg.end()
        segments = leg.result.result(600)
        elapsed = time.monotonic() - started
        stop.set()
        sampler.join(5)
    finally:
        stop.set()
        pool.stop()
    assert elapsed < MINUTES * 60 / 4, f"decoded 30 min of audio in {elapsed:.0f} s: not faster than real time"
    assert segments[-1].end > MINUTES * 60 - 60, "word times must run on across recogniser replacements"
    assert sum("printer" in s.text for s in segments) > MINUTES * 60 / 8 * 0.5
    warm = [rss for at, rss in samples if at <= WARM_S]
    later = [rss for at, rss in samples if at > WARM_S]
    assert len(warm) > 3 and len(later) > 20
    baseline, peak = max(warm), max(later)
    assert peak - baseline < BOUND_MB, (f"RSS rose from {baseline:.0f} MB (first {WARM_S:.0f} s of audio) to "
                                        f"{peak:.0f} MB over {MINUTES} min")
