"""Word error rate through the whole telephony path against plain Vosk on the same audio.

    flock /tmp/heavy.lock .venv/bin/python bench/asr_wer.py [--out DIR] [--voice en-us+f2] [--speed 130]

The helpdesk lines of ``bench/asr_utterances.tsv`` (caller and agent) are spoken by espeak-ng, passed
through G.711 μ-law (sox, repeatable mode) and laid end to end, 1.5 s apart, into one 8 kHz WAV per
speaker. Then:

- **plain Vosk**: each WAV read from disk and decoded by a ``vosk.KaldiRecognizer`` of the same model in
  this process, 4000 bytes at a time, as Vosk's own examples do;
- **telephony path**: ``hotline serve`` (Kamailio, a worker phone, recogniser processes) with one on-shift
  agent; a baresip caller plays the caller WAV, the agent's baresip answers and plays the agent WAV, both
  as PCMU over RTP on loopback; after both have finished, the caller hangs up and the transcript of both
  legs is read from the case through the REST API.

It prints the WER of each speaker and overall for both, the difference (the path's cost), and the delay
from the caller's hang-up to the transcript on the case. Hypotheses go to ``--out``/hypotheses.txt.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(REPO))

from wer import Errors, errors  # noqa: E402

from tests.e2e.conftest import MODEL, start_service, stop_service, write_rota  # noqa: E402
from tests.speech import read_pcm, silence, synthesise, write_wav  # noqa: E402

GAP_S = 1.5


def load_lines() -> dict[str, list[str]]:
    lines: dict[str, list[str]] = {"caller": [], "agent": []}
    for row in (BENCH / "asr_utterances.tsv").read_text().splitlines():
        if row.strip():
            speaker, text = row.split("\t", 1)
            lines[speaker].append(text)
    return lines


def make_track(path: Path, texts: list[str], voice: str, speed: int, lead_s: float) -> Path:
    pcm = bytearray(silence(lead_s))
    for i, text in enumerate(texts):
        pcm += read_pcm(synthesise(text, path.with_suffix(f".{i}.wav"), voice=voice, speed=speed, g711="ulaw"))
        pcm += silence(GAP_S)
    pcm += silence(2.0)
    return write_wav(path, bytes(pcm))


def pad_to_same_length(tracks: dict[str, Path]) -> None:
    longest = max(len(read_pcm(t)) for t in tracks.values())
    for track in tracks.values():
        pcm = read_pcm(track)
        write_wav(track, pcm + bytes(longest - len(pcm)))


_MODEL: list[object] = []


def plain_vosk(path: Path, shift_ms: int = 0) -> tuple[str, float, float]:
    """Transcript, CPU seconds and audio seconds of plain Vosk on a WAV file (its first ``shift_ms`` cut)."""
    import vosk

    vosk.SetLogLevel(-1)
    if not _MODEL:
        _MODEL.append(vosk.Model(str(MODEL.resolve())))
    recogniser = vosk.KaldiRecognizer(_MODEL[0], 8000.0)
    pcm = read_pcm(path)[shift_ms * 16:]
    texts = []
    cpu0 = time.process_time()
    for i in range(0, len(pcm), 4000):
        if recogniser.AcceptWaveform(pcm[i:i + 4000]):
            texts.append(json.loads(recogniser.Result())["text"])
    texts.append(json.loads(recogniser.FinalResult())["text"])
    return " ".join(t for t in texts if t), time.process_time() - cpu0, len(pcm) / 16000


def through_the_path(tmp: Path, tracks: dict[str, Path]) -> tuple[dict[str, str], float]:
    """Transcripts per speaker from the case, and seconds from the caller's hang-up to the transcript."""
    from tests.peers import Baresip

    rota = write_rota(tmp / "rota.yaml", ["1001"], [])
    service = start_service(tmp, f"sqlite:///{tmp / 'hotline.db'}", rota, ring_timeout=20,
                            extra_env={"HOTLINE_RECORDING_RETENTION_DAYS": "1"})  # keep what the worker got
    phones: list[Baresip] = []
    try:
        agent = service.phone(tmp, "1001", speak=tracks["agent"])
        phones.append(agent)
        caller = service.phone(tmp, "5550101", speak=tracks["caller"])
        phones.append(caller)
        for phone in phones:
            phone.wait_registered()
        caller.dial(f"sip:{service.hotline}@{service.sip[0]}:{service.sip[1]}")
        caller.wait_event("CALL_ESTABLISHED", 10)
        agent.wait_event("CALL_INCOMING", 10)
        agent.command("accept")
        agent.wait_event(("CALL_ESTABLISHED", "CALL_RTPESTAB"), 10)
        longest = max(len(read_pcm(t)) for t in tracks.values()) / 16000
        time.sleep(longest - 1.0)  # the last 2 s of each track are silence
        assert not caller.saw("CALL_CLOSED"), "the call ended before the caller hung up"
        caller.hangup()
        hung_up = time.monotonic()
        deadline = hung_up + 300
        case = None
        while time.monotonic() < deadline:
            items = service.get("/api/v1/cases", caller="5550101")["items"]
            if items:
                case = service.get(f"/api/v1/cases/{items[0]['id']}")
                call = case["calls"][0]
                if call["ended_at"] and call["transcript_status"] == "done":
                    break
            time.sleep(0.05)
        delay = time.monotonic() - hung_up
        assert case is not None, "no case"
        segments = case["calls"][0]["segments"]
        return ({s: " ".join(x["text"] for x in segments if x["speaker"] == s) for s in ("caller", "agent")},
                delay)
    finally:
        for phone in phones:
            phone.stop()
        stop_service(service)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--voice", default="en-us+f2")
    p.add_argument("--speed", type=int, default=130)
    args = p.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="asr-wer-"))
    out.mkdir(parents=True, exist_ok=True)
    lines = load_lines()
    tracks = {s: make_track(out / f"{s}.wav", texts, args.voice, args.speed, lead_s=1.0)
              for s, texts in lines.items()}
    pad_to_same_length(tracks)  # baresip ends the call when its file ends
    print(f"{sum(len(v) for v in lines.values())} utterances ({len(lines['caller'])} caller, "
          f"{len(lines['agent'])} agent), voice {args.voice} at {args.speed} wpm, G.711 μ-law; files in {out}")
    plain = {s: plain_vosk(t) for s, t in tracks.items()}
    path, delay = through_the_path(out, tracks)
    (spool,) = (out / "service" / "spool").iterdir()
    received = {s: plain_vosk(spool / f"{s}.wav") for s in tracks}  # what the worker got over RTP
    report = []
    totals = [Errors(0, 0), Errors(0, 0), Errors(0, 0)]
    print("WER            words  plain Vosk  plain Vosk on   pipeline    path cost")
    print("                      on the WAV  RTP-received    (the path)  (points)")
    for speaker, texts in lines.items():
        reference = " ".join(texts)
        row = [errors(reference, plain[speaker][0]), errors(reference, received[speaker][0]),
               errors(reference, path[speaker])]
        totals = [t + r for t, r in zip(totals, row, strict=True)]
        print(f"{speaker:12} {row[0].reference_words:7d} {100 * row[0].wer:10.1f}% {100 * row[1].wer:12.1f}% "
              f"{100 * row[2].wer:11.1f}% {100 * (row[2].wer - row[0].wer):+10.1f}")
        report += [f"== {speaker}", f"reference: {reference}", f"plain:     {plain[speaker][0]}",
                   f"received:  {received[speaker][0]}", f"path:      {path[speaker]}"]
    print(f"{'all':12} {totals[0].reference_words:7d} {100 * totals[0].wer:10.1f}% {100 * totals[1].wer:12.1f}% "
          f"{100 * totals[2].wer:11.1f}% {100 * (totals[2].wer - totals[0].wer):+10.1f}")
    print(f"hang-up to transcript on the case: {delay:.2f} s")
    # The small model's reading of this speech depends on where the audio starts: the same WAV with its
    # first 10, 20, 30 ms cut gives a different WER. The path delivers a leg from the answer on, so its
    # start differs from the WAV's by a frame or so; this is the spread that alone causes.
    spread = []
    for shift in (0, 10, 20, 30, 40):
        total = Errors(0, 0)
        for speaker, texts in lines.items():
            total = total + errors(" ".join(texts), plain_vosk(tracks[speaker], shift)[0])
        spread.append(total.wer)
        print(f"plain Vosk on the WAVs with the first {shift:2d} ms cut: WER {100 * total.wer:.1f}%")
    mean = sum(spread) / len(spread)
    print(f"plain Vosk over start offsets 0-40 ms: mean {100 * mean:.1f}%, range {100 * min(spread):.1f}-"
          f"{100 * max(spread):.1f}%; path cost against the mean: {100 * (totals[2].wer - mean):+.1f} points")
    (out / "hypotheses.txt").write_text("\n".join(report) + "\n")


if __name__ == "__main__":
    main()
