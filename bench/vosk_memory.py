"""Does one Vosk recogniser's memory grow with the length of the stream? Feeds looped speech (the bench's
caller sentence, through G.711 μ-law) to ``--legs`` LegTranscribers as fast as they decode, one minute of
audio at a time, and prints the process's RSS and CPU after each minute.

    .venv/bin/python bench/vosk_memory.py --minutes 10 [--legs 1] [--model var/models/en]

This separates the recognisers' own growth from a backlog: each minute is fully decoded (backlog 0) before
RSS is read.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

import make_pcap  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

from transcription.vosk import LegTranscriber, SpeechModel  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=int, default=10)
    p.add_argument("--legs", type=int, default=1)
    p.add_argument("--model", default=str(BENCH.parent / "var" / "models" / "en"))
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        speech = make_pcap.speech_ulaw(make_pcap.CALLER_TEXT, Path(tmp))
    minute = audioop.ulaw2lin(make_pcap.loop_audio(speech, 60.0), 2)
    model = SpeechModel.load(args.model)
    print(f"model loaded: RSS {rss_mb():.0f} MB", flush=True)
    legs = [LegTranscriber(model, f"mem-{i}", "caller") for i in range(args.legs)]
    cpu0 = time.process_time()
    for m in range(1, args.minutes + 1):
        for leg in legs:
            for i in range(0, len(minute), 320):
                leg.feed(minute[i:i + 320])
        deadline = time.monotonic() + 600
        while any(leg.backlog_s > 0 for leg in legs) and time.monotonic() < deadline:
            time.sleep(0.2)
        cpu = time.process_time() - cpu0
        segments = sum(len(leg.segments()) for leg in legs)
        print(f"{m:3d} min of audio per leg: RSS {rss_mb():7.0f} MB, CPU {cpu:6.1f} s "
              f"({cpu / (60 * m * args.legs):.3f} s per leg-second), segments {segments}", flush=True)
    for leg in legs:
        leg.close(120)
    print(f"closed: RSS {rss_mb():.0f} MB", flush=True)
    del legs
    print(f"released: RSS {rss_mb():.0f} MB (pid {os.getpid()})", flush=True)


if __name__ == "__main__":
    main()
