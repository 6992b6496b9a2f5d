"""Memory of a recogniser process over one long leg, with and without recogniser recycling.

    .venv/bin/python bench/asr_memory.py --minutes 30 --recycle-s 300      # as the service runs
    .venv/bin/python bench/asr_memory.py --minutes 30 --recycle-s 0        # never replace the recogniser

Feeds ``--minutes`` of looped espeak-ng speech (through G.711 μ-law) to one live leg of a one-process pool
as fast as it decodes, samples the process's RSS every 0.5 s and prints it against the audio decoded so far
(reported by the worker's partial results' word times), then the CPU seconds per audio second.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from tests.speech import frames, read_pcm, silence, synthesise  # noqa: E402
from transcription.pool import PoolConfig, RecogniserPool  # noqa: E402
from transcription.segments import SegmentRecognised  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=int, default=30)
    p.add_argument("--recycle-s", type=float, default=300.0, help="0: never replace the recogniser")
    p.add_argument("--model", default=str(BENCH.parent / "var" / "models" / "en"))
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        speech = read_pcm(synthesise("my printer is not working and I cannot print my report", Path(tmp) / "s.wav",
                                     voice="en-us+f2", speed=130, g711="ulaw"))
    unit = speech + silence(2.0)
    total = args.minutes * 60 * 16000
    audio = (unit * (total // len(unit) + 1))[:total]
    pool = RecogniserPool(PoolConfig(Path(args.model).resolve(), processes=1, legs_per_process=1,
                                     recycle_s=args.recycle_s or 1e12))
    pool.start()
    heard = [0.0]

    def on_event(event: SegmentRecognised) -> None:
        heard[0] = max(heard[0], event.segment.end)

    try:
        leg = pool.open_leg("long", "caller", 0.0, on_event)
        assert leg is not None and leg.worker_pid is not None
        pid = leg.worker_pid
        print(f"recogniser process {pid}: RSS {rss_mb(pid):.0f} MB after loading the model", flush=True)
        cpu0 = cpu_s(pid)
        for frame in frames(audio):
            leg.feed(frame)
        leg.end()
        next_minute = 1
        peak = 0.0
        while not leg.result.done():
            time.sleep(0.5)
            rss = rss_mb(pid)
            peak = max(peak, rss)
            if heard[0] >= next_minute * 60:
                print(f"  {next_minute:3d} min decoded: RSS {rss:6.0f} MB", flush=True)
                next_minute += 1 if args.minutes <= 10 else (5 if next_minute % 5 == 0 else 5 - next_minute % 5)
        segments = leg.result.result()
        cpu = cpu_s(pid) - cpu0
        print(f"done: {len(segments)} segments, peak RSS {peak:.0f} MB, end RSS {rss_mb(pid):.0f} MB, "
              f"CPU {cpu:.1f} s = {cpu / (args.minutes * 60):.3f} CPU-s per audio-s "
              f"(recycle {'off' if not args.recycle_s else f'every {args.recycle_s:g} s'})")
    finally:
        pool.stop()


if __name__ == "__main__":
    main()
