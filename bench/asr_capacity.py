"""CPU cost of the transcription pipeline against plain Vosk, live capacity, and hang-up-to-case delay.

    flock /tmp/heavy.lock .venv/bin/python bench/asr_capacity.py [--calls 2,4,6,8,10] [--seconds 45]

1. **CPU per audio second**: the caller and agent tracks of ``bench/asr_wer.py`` (espeak-ng helpdesk lines
   through G.711) are decoded (a) by plain Vosk in this process, read from the WAV 4000 bytes at a time,
   and (b) by the pipeline: ``CallTranscriber`` fed 20 ms frames (spooling every frame to disk, copying it
   to a recogniser process, partial results every 0.5 s), as fast as it takes them. (b) counts this
   process's CPU and the recogniser process's CPU. Both exclude loading the model.
2. **Live capacity**: for each N in ``--calls``, N calls of two legs each are fed in real time (one 20 ms
   frame per leg every 20 ms, calls starting 0.2 s apart) to the service's pool (``--processes``
   recogniser processes, default one per core, no admission limit), each call's transcript attached to
   its case in a real SQLite database by ``CaseTranscriber``. At each call's end (hang-up) the delay until
   its transcript is on the case is measured. N calls are "transcribed live in real time" when the p95
   of that delay stays under ``--max-delay`` seconds (the recognisers keep up; a lagging recogniser shows
   as a delay that grows with the call).

There is no SIP media load in part 2: on a machine that also carries the calls' RTP, the SIP workers take
their share of the cores first (the recogniser processes are niced).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(REPO))

from asr_wer import load_lines, make_track  # noqa: E402

from cases.model import CallOutcome, HangupBy  # noqa: E402
from cases.store import CaseStore  # noqa: E402
from hotline.bootstrap import CaseTranscriber  # noqa: E402
from hotline.db import make_engine, upgrade  # noqa: E402
from tests.e2e.conftest import MODEL  # noqa: E402
from tests.speech import read_pcm  # noqa: E402
from transcription.calls import CallTranscriber  # noqa: E402
from transcription.pool import PoolConfig, RecogniserPool  # noqa: E402
from transcription.redaction import redact  # noqa: E402
from transcription.spool import Spool  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
FRAME = 320


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def plain_cpu(tracks: dict[str, bytes]) -> float:
    """CPU seconds of plain Vosk decoding each track with a fresh recogniser of one model, after a warm-up
    decode (as the pipeline's processes have had: the first recogniser of a model pays a one-off cost)."""
    import vosk

    vosk.SetLogLevel(-1)
    model = vosk.Model(str(MODEL.resolve()))
    warm = vosk.KaldiRecognizer(model, 8000.0)
    warm.AcceptWaveform(bytes(FRAME))
    warm.FinalResult()
    cpu0 = time.process_time()
    for pcm in tracks.values():
        recogniser = vosk.KaldiRecognizer(model, 8000.0)
        for i in range(0, len(pcm), 4000):
            if recogniser.AcceptWaveform(pcm[i:i + 4000]):
                json.loads(recogniser.Result())
        json.loads(recogniser.FinalResult())
    return time.process_time() - cpu0


def pipeline_cpu(pcm_by_leg: dict[str, bytes], tmp: Path) -> float:
    pool = RecogniserPool(PoolConfig(MODEL.resolve(), processes=1, legs_per_process=4))
    pool.start()
    try:
        service = CallTranscriber(Spool(tmp / "cpu-spool"), pool, redactor=redact)
        (worker,) = pool.pids
        warm = service.begin("warm-up")  # the first recogniser of a process pays a one-off start-up
        warm.leg("caller", 0.0).feed(bytes(FRAME))
        future = warm.finish()
        assert future is not None
        future.result(60)
        cpu0, worker0 = time.process_time(), proc_cpu(worker)
        for speaker, pcm in pcm_by_leg.items():  # one leg after the other, as plain Vosk decodes them
            session = service.begin(f"cpu-{speaker}")
            leg = session.leg(speaker, 0.0)
            for i in range(0, len(pcm), FRAME):
                leg.feed(pcm[i:i + FRAME])
            future = session.finish()
            assert future is not None
            future.result(600)
        return time.process_time() - cpu0 + proc_cpu(worker) - worker0
    finally:
        pool.stop()


def live_run(n: int, seconds: float, processes: int, tracks: dict[str, bytes], tmp: Path) -> list[float]:
    """Delays (s) from each call's hang-up to its transcript on the case, for N concurrent calls."""
    run_dir = tmp / f"live-{n}"
    run_dir.mkdir()
    url = f"sqlite:///{run_dir / 'hotline.db'}"
    upgrade(url)
    engine = make_engine(url)
    cases = CaseStore(engine)
    pool = RecogniserPool(PoolConfig(MODEL.resolve(), processes=processes, legs_per_process=10_000))
    pool.start()
    try:
        service = CallTranscriber(Spool(run_dir / "spool"), pool, redactor=redact)
        transcriber = CaseTranscriber(cases, service, timeout=600)
        frames_per_call = int(seconds * 50)
        now = datetime.now(UTC)
        calls = []
        for i in range(n):
            call_id = f"load-{n}-{i}"
            cases.call_started(call_id, f"55501{i:02d}", "100", "hotline-1", now)
            cases.call_answered(call_id, "1001", now)
            transcript = transcriber.begin(call_id)
            # Each call starts at a different point of the tracks, so the legs do not speak in lockstep.
            shift = (i * 7919 * FRAME) % len(tracks["caller"])
            legs = {s: (transcript.leg(s, 0.0), (pcm[shift:] + pcm[:shift])) for s, pcm in tracks.items()}
            calls.append((call_id, transcript, legs, i * 10))  # starts 10 frames (0.2 s) apart
        delays: list[float] = []
        lock = threading.Lock()

        def hang_up(call_id: str, transcript: object) -> None:
            started = time.monotonic()
            cases.call_ended(call_id, datetime.now(UTC), CallOutcome.ANSWERED, HangupBy.CALLER)
            transcript.finish()  # type: ignore[attr-defined]  # blocks until attached (or timeout)
            status = cases.get_call(call_id).transcript_status
            with lock:
                delays.append(time.monotonic() - started if status == "done" else float("inf"))

        enders = []
        t0 = time.monotonic()
        last = max(start for *_, start in calls) + frames_per_call
        for tick in range(last + 1):
            target = t0 + tick * 0.02
            pause = target - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            for call_id, transcript, legs, start in calls:
                k = tick - start
                if 0 <= k < frames_per_call:
                    for leg, pcm in legs.values():
                        offset = (k * FRAME) % (len(pcm) - FRAME)
                        leg.feed(pcm[offset:offset + FRAME])
                elif k == frames_per_call:
                    ender = threading.Thread(target=hang_up, args=(call_id, transcript))
                    ender.start()
                    enders.append(ender)
        for ender in enders:
            ender.join(700)
        transcriber.stop()
        return delays
    finally:
        pool.stop()
        engine.dispose()


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", default="2,4,6,8,10,12")
    p.add_argument("--seconds", type=float, default=45.0, help="length of each call in part 2")
    p.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    p.add_argument("--max-delay", type=float, default=3.0)
    p.add_argument("--skip-cpu", action="store_true")
    p.add_argument("--skip-live", action="store_true")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="asr-capacity-"))
    lines = load_lines()
    tracks = {s: read_pcm(make_track(tmp / f"{s}.wav", texts, "en-us+f2", 130, lead_s=1.0))
              for s, texts in lines.items()}
    audio_s = sum(len(t) for t in tracks.values()) / 16000
    print(f"{os.cpu_count()} cores; audio: caller {len(tracks['caller']) / 16000:.1f} s + agent "
          f"{len(tracks['agent']) / 16000:.1f} s; files in {tmp}", flush=True)
    if not args.skip_cpu:
        plain = plain_cpu(tracks)
        pipe = pipeline_cpu(tracks, tmp)
        print(f"CPU per audio second: plain Vosk {plain / audio_s:.4f}, pipeline {pipe / audio_s:.4f}, "
              f"ratio {pipe / plain:.3f}", flush=True)
    if args.skip_live:
        return
    print(f"live: {args.processes} recogniser processes, calls of {args.seconds:g} s, two legs each, "
          f"real-time if p95(hang-up -> transcript on the case) <= {args.max_delay:g} s", flush=True)
    best = 0
    for n in (int(x) for x in args.calls.split(",")):
        cpu0 = os.times()
        delays = live_run(n, args.seconds, args.processes, tracks, tmp)
        busy = os.times()
        load = (busy.elapsed - cpu0.elapsed)
        ok = p95(delays) <= args.max_delay
        best = n if ok else best
        print(f"  {n:3d} calls: hang-up -> case median {statistics.median(delays):6.2f} s, p95 {p95(delays):6.2f} s, "
              f"max {max(delays):6.2f} s over {load:.0f} s wall  {'real time' if ok else 'LAGS'}", flush=True)
        if not ok:
            break
    print(f"calls transcribed live in real time: {best}")


if __name__ == "__main__":
    main()
