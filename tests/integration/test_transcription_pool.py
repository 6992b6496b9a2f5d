"""Recognition in recogniser processes, with every leg spooled: the real small English model, real
processes, real files. espeak-ng speech through G.711 μ-law, fed in 20 ms frames as a SIP leg carries it.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import MODEL
from tests.speech import frames, read_pcm, require_speech_tools, silence, synthesise
from transcription.calls import CallTranscriber
from transcription.live import FINAL, LiveEvent, LiveTranscripts
from transcription.pool import PoolConfig, RecogniserPool
from transcription.redaction import redact
from transcription.segments import Segment
from transcription.spool import PENDING, Spool

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "asr"
VOICE, SPEED = "en-us+f2", 130


def require_model() -> Path:
    if not (MODEL / "am" / "final.mdl").is_file():
        pytest.fail(f"speech model missing at {MODEL}: run 'hotline models install'")
    return MODEL.resolve()


@pytest.fixture(scope="module")
def pool() -> Iterator[RecogniserPool]:
    pool = RecogniserPool(PoolConfig(require_model(), processes=2, legs_per_process=2))
    pool.start()
    yield pool
    pool.stop()


@pytest.fixture(scope="module")
def say(tmp_path_factory: pytest.TempPathFactory):
    require_speech_tools()
    folder = tmp_path_factory.mktemp("speech")
    cache: dict[str, bytes] = {}

    def speak(text: str) -> bytes:
        if text not in cache:
            cache[text] = read_pcm(synthesise(text, folder / f"{len(cache)}.wav", voice=VOICE, speed=SPEED,
                                              g711="ulaw"))
        return cache[text]

    return speak


def text_of(segments: list[Segment]) -> str:
    return " ".join(s.text for s in segments)


def test_a_short_wav_gives_its_expected_transcript_live_and_from_the_spool(pool: RecogniserPool) -> None:
    wav = FIXTURES / "printer_offline.wav"
    expected = (FIXTURES / "printer_offline.expected.txt").read_text().strip()
    pcm = read_pcm(wav)
    from_file = pool.transcribe_file(wav, "fixture", "caller", 2.0).result(60)
    leg = pool.open_leg("fixture-live", "caller", 2.0)
    assert leg is not None
    for frame in frames(pcm):
        leg.feed(frame)
    leg.end()
    live = leg.result.result(60)
    again = pool.transcribe_file(wav, "fixture", "caller", 2.0).result(60)  # maybe the other process
    assert text_of(from_file) == expected
    assert text_of(live) == expected
    assert [(w.text, w.start, w.end) for s in again for w in s.words] == \
        [(w.text, w.start, w.end) for s in from_file for w in s.words]
    first = from_file[0]
    assert first.speaker == "caller" and first.start >= 2.3  # offset applied: speech starts 0.5 s into the leg
    assert all(0.0 <= w.conf <= 1.0 for s in from_file for w in s.words)


def service(tmp_path: Path, pool: RecogniserPool | None, **kwargs) -> CallTranscriber:
    return CallTranscriber(Spool(tmp_path / "spool"), pool, LiveTranscripts(), **kwargs)


def test_a_call_of_silence_gives_an_empty_transcript_and_ends_its_live_stream(
        tmp_path: Path, pool: RecogniserPool) -> None:
    calls = service(tmp_path, pool)
    events: list[LiveEvent] = []
    session = calls.begin("quiet")
    assert calls.live.subscribe("quiet", events.append) is not None
    caller, agent = session.leg("caller", 0.0), session.leg("agent", 3.0)
    for frame in frames(silence(12)):
        caller.feed(frame)
        agent.feed(frame)
    future = session.finish()
    assert future is not None
    assert future.result(60) == []
    assert [e.kind for e in events] == ["end"]
    assert {r.source for r in session.reports} == {"live"}
    assert session.spooled is not None and (session.spooled.folder / "caller.wav").stat().st_size > 12 * 16000


def test_live_segments_arrive_before_hang_up_and_are_redacted(tmp_path: Path, pool: RecogniserPool, say) -> None:
    calls = service(tmp_path, pool, redactor=redact)
    session = calls.begin("talk")
    heard = threading.Event()
    events: list[LiveEvent] = []

    def listener(event: LiveEvent) -> None:
        events.append(event)
        if event.kind == FINAL:
            heard.set()

    calls.live.subscribe("talk", listener)
    leg = session.leg("caller", 1.5)
    for frame in frames(say("my password is orange") + silence(1.5)):
        leg.feed(frame)
    assert heard.wait(30), f"no final segment while the call was up; events: {events}"
    finals = [e.segment for e in events if e.kind == FINAL and e.segment is not None]
    assert any("[password]" in s.text for s in finals), finals
    assert not any("orange" in e.segment.text for e in events if e.segment is not None)
    assert any(e.kind == "partial" for e in events)
    assert finals[0].start >= 1.5 and finals[0].words
    future = session.finish()
    assert future is not None
    segments = future.result(60)
    assert "[password]" in text_of(segments) and "orange" not in text_of(segments)
    assert events[-1].kind == "end"


def test_a_leg_beyond_live_capacity_is_transcribed_from_its_spool_after_the_call(
        tmp_path: Path, say) -> None:
    small = RecogniserPool(PoolConfig(require_model(), processes=1, legs_per_process=1))
    small.start()
    try:
        calls = service(tmp_path, small)
        session = calls.begin("busy")
        caller = session.leg("caller", 0.0)
        agent = session.leg("agent", 0.5)
        assert caller.live is not None and agent.live is None  # admission by capacity
        for frame in frames(say("the printer on the second floor is offline")):
            caller.feed(frame)
            agent.feed(frame)
        future = session.finish()
        assert future is not None
        segments = future.result(60)
    finally:
        small.stop()
    by_speaker = {s: text_of([x for x in segments if x.speaker == s]) for s in ("caller", "agent")}
    assert "second floor" in by_speaker["caller"] and "second floor" in by_speaker["agent"], by_speaker
    assert {(r.speaker, r.source) for r in session.reports} == {("caller", "live"), ("agent", "spool")}


def test_a_recogniser_process_killed_mid_call_loses_nothing(tmp_path: Path, say) -> None:
    own = RecogniserPool(PoolConfig(require_model(), processes=1, legs_per_process=4))
    own.start()
    try:
        calls = service(tmp_path, own)
        session = calls.begin("crash")
        leg = session.leg("caller", 0.0)
        assert leg.live is not None
        victim = leg.live.worker_pid
        assert victim is not None
        for frame in frames(say("my printer is not working") + silence(1.0)):
            leg.feed(frame)
        os.kill(victim, signal.SIGKILL)
        for frame in frames(say("the printer on the second floor is offline")):
            leg.feed(frame)
        future = session.finish()
        assert future is not None
        segments = future.result(90)
        assert own.deaths == 1
        own.wait_ready(60)
        assert own.pids and victim not in own.pids  # replaced
    finally:
        own.stop()
    said = text_of(segments)
    assert said.startswith("my printer is not working") and "second floor" in said, said
    assert [(r.source, r.reason != "") for r in session.reports] == [("spool", True)]


def test_without_a_model_the_audio_waits_in_the_spool_and_is_transcribed_later(
        tmp_path: Path, pool: RecogniserPool, say) -> None:
    offline = service(tmp_path, None)
    session = offline.begin("later")
    leg = session.leg("caller", 0.0)
    for frame in frames(say("the printer on the second floor is offline")):
        leg.feed(frame)
    assert session.finish() is None
    (waiting,) = offline.spool.unfinished()
    assert waiting.call_id == "later" and waiting.state == PENDING

    restarted = service(tmp_path, pool)  # the next start, with a model
    ((call, future),) = restarted.recover()
    assert "second floor" in text_of(future.result(60))
    restarted.settled(call)
    assert restarted.spool.unfinished() == [] and not call.folder.exists()  # retention 0: audio deleted


IVR_ANSWERS = ("printer", "vpn", "password", "outlook", "wi fi", "yes", "no", "[unk]")


def test_a_phrase_list_restricts_a_leg_to_the_answers_an_ivr_expects(pool: RecogniserPool, say) -> None:
    """The small English model has a dynamic graph (graph/HCLr.fst + graph/Gr.fst), so a leg can be held
    to a phrase list. Free recognition of these single words from espeak-ng speech mostly fails."""
    spoken = {"printer": "printer", "v p n": "vpn", "password": "password", "outlook": "outlook", "yes": "yes",
              "no": "no"}
    free: list[str] = []
    held: list[str] = []
    for word in spoken:
        pcm = say(word) + silence(0.5)
        for grammar, out in (((), free), (IVR_ANSWERS, held)):
            leg = pool.open_leg("ivr", "caller", 0.0, grammar=grammar)
            assert leg is not None
            for frame in frames(pcm):
                leg.feed(frame)
            leg.end()
            out.append(text_of(leg.result.result(30)))
    answers = [" ".join(w for w in text.split() if w != "[unk]") for text in held]  # [unk]: noise at the onset
    assert answers == list(spoken.values()), held
    assert sum(a == b for a, b in zip(free, spoken.values(), strict=True)) <= len(spoken) // 2, free
    leg = pool.open_leg("ivr", "caller", 0.0, grammar=IVR_ANSWERS)
    assert leg is not None
    for frame in frames(say("can you restart the VPN client") + silence(0.5)):
        leg.feed(frame)
    leg.end()
    assert set(text_of(leg.result.result(30)).split()) <= set(" ".join(IVR_ANSWERS).split())  # restricts, no bias


def test_a_process_that_has_decoded_its_share_is_replaced_when_idle(say) -> None:
    own = RecogniserPool(PoolConfig(require_model(), processes=1, legs_per_process=2, recycle_process_s=2.0))
    own.start()
    try:
        (first,) = own.pids
        leg = own.open_leg("r1", "caller", 0.0)
        assert leg is not None
        for frame in frames(say("my printer is not working") + silence(0.5)):
            leg.feed(frame)
        leg.end()
        assert "printer" in text_of(leg.result.result(30))
        deadline = time.monotonic() + 30
        while not (own.pids and own.pids != [first]) and time.monotonic() < deadline:
            time.sleep(0.1)  # the replacement happens on its own thread after the leg's result
        own.wait_ready(60)
        assert own.recycled == 1 and own.deaths == 0 and own.pids and own.pids != [first]
        again = own.open_leg("r2", "caller", 0.0)
        assert again is not None
        for frame in frames(say("my printer is not working") + silence(0.5)):
            again.feed(frame)
        again.end()
        assert "printer" in text_of(again.result.result(30))
    finally:
        own.stop()
