"""The Vosk adapter against the real small English model, fed espeak-ng speech as a SIP leg carries it
(8 kHz 16-bit, through G.711 and back, 20 ms frames). The model must have dither off (as
``hotline models install`` leaves it), so transcripts are the same on every run.

The model comes from the settings (``HOTLINE_MODEL_PATH`` or ``data_dir/models/en``); where it is not
installed, these tests skip and say so.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hotline.settings import Settings
from tests.speech import duration_s, frames, read_pcm, require_speech_tools, silence, synthesise
from transcription.segments import AGENT, CALLER, SegmentRecognised
from transcription.vosk import CallTranscription, LegTranscriber, ModelUnavailable, SpeechModel, check_model_dir

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def configured_model_path() -> Path:
    # No pydantic mypy plugin is configured, so mypy takes the Field defaults for required arguments.
    path = Settings().resolved_model_path
    return path if path.is_absolute() else REPO / path


@pytest.fixture(scope="module")
def model() -> SpeechModel:
    path = configured_model_path()
    try:
        check_model_dir(path)
    except ModelUnavailable as exc:
        pytest.skip(f"No usable speech model: {exc}")
    return SpeechModel.load(path)


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    """Text -> PCM of espeak-ng saying it, through G.711 mu-law, cached per module."""
    require_speech_tools()
    cache: dict[str, bytes] = {}
    folder = tmp_path_factory.mktemp("speech")

    def say(text: str) -> bytes:
        if text not in cache:
            path = synthesise(text, folder / f"{len(cache)}.wav", g711="ulaw")
            cache[text] = read_pcm(path)
        return cache[text]

    return say


def feed(leg: LegTranscriber, pcm: bytes) -> None:
    for frame in frames(pcm):
        leg.feed(frame)


def words(segments) -> list[str]:
    return [word.text for segment in segments for word in segment.words]


def test_a_helpdesk_sentence_is_transcribed(model, speech):
    leg = LegTranscriber(model, "call-1", CALLER)
    feed(leg, silence(0.5) + speech("my printer says paper jam") + silence(1.0))
    segments = leg.close(timeout=30)
    assert len(segments) == 1
    text = segments[0].text
    for expected in ("my", "printer", "paper", "jam"):
        assert expected in text.split(), text
    assert segments[0].speaker == CALLER
    assert 0.3 < segments[0].start < 1.0


def test_words_carry_times_and_confidences(model, speech):
    leg = LegTranscriber(model, "call-1", CALLER)
    feed(leg, speech("my printer says paper jam"))
    [segment] = leg.close(timeout=30)
    assert segment.words
    for word in segment.words:
        assert 0.0 < word.conf <= 1.0
        assert segment.start <= word.start <= word.end <= segment.end
    assert [w.start for w in segment.words] == sorted(w.start for w in segment.words)
    assert segment.text == " ".join(w.text for w in segment.words)


def test_caller_and_agent_legs_get_their_speakers_and_call_times(model, speech):
    events: list[SegmentRecognised] = []
    call = CallTranscription(model, "call-42", events.append)
    caller = call.leg(CALLER, offset_s=0.0)
    agent = call.leg(AGENT, offset_s=3.0)  # the agent answered 3 s into the call
    caller_pcm = silence(0.5) + speech("my printer says paper jam") + silence(6.0)
    agent_pcm = silence(1.0) + speech("have you tried turning it off and on again") + silence(1.0)
    feed(caller, caller_pcm)
    feed(agent, agent_pcm)
    segments = call.finish(timeout=60)

    assert [s.speaker for s in segments] == [CALLER, AGENT]
    caller_segment, agent_segment = segments
    assert "printer" in caller_segment.text
    assert "turning" in agent_segment.text
    assert 0.3 < caller_segment.start < 1.0
    assert 3.0 + 0.8 < agent_segment.start < 3.0 + 1.5  # 1 s of silence into a leg that starts at 3 s
    assert agent_segment.end < 3.0 + duration_s(agent_pcm)
    assert {(e.call_id, e.final, e.segment) for e in events} == {("call-42", True, s) for s in segments}


def test_the_same_agent_speech_is_shifted_by_exactly_the_leg_offset(model, speech):
    pcm = silence(0.5) + speech("please reset my password")
    early = LegTranscriber(model, "call-1", AGENT, 0.0)
    late = LegTranscriber(model, "call-1", AGENT, 12.5)
    feed(early, pcm)
    feed(late, pcm)
    [a] = early.close(timeout=30)
    [b] = late.close(timeout=30)
    assert b.text == a.text  # dither off: identical transcripts
    assert [round(w.start - 12.5, 3) for w in b.words] == [w.start for w in a.words]


def test_silence_only_gives_no_segments(model):
    leg = LegTranscriber(model, "call-1", CALLER)
    feed(leg, silence(5.0))
    assert leg.close(timeout=30) == []


def test_close_without_any_audio(model):
    call = CallTranscription(model, "call-1")
    call.leg(CALLER)
    call.leg(AGENT, 2.0)
    assert call.finish(timeout=30) == []


def test_feed_never_blocks_when_the_recogniser_is_slower(model, speech):
    sentence = speech("my printer says paper jam")
    pcm = (sentence + silence(1.0)) * 12  # ~36 s of audio, fed at once: far faster than it can be decoded
    leg = LegTranscriber(model, "call-1", CALLER)
    slowest = 0.0
    started = time.perf_counter()
    for frame in frames(pcm):
        t0 = time.perf_counter()
        leg.feed(frame)
        slowest = max(slowest, time.perf_counter() - t0)
    feeding = time.perf_counter() - started
    assert leg.backlog_s > 0.5 * duration_s(pcm)  # the recogniser is well behind...
    assert feeding < 0.5 and slowest < 0.05  # ...and the bridge never waited for it
    segments = leg.close(timeout=120)
    # Every utterance comes out (online adaptation makes the later ones differ a little).
    assert len(segments) == 12
    assert all("paper" in s.text for s in segments), [s.text for s in segments]


def test_partial_results_precede_the_final_one(model, speech):
    events: list[SegmentRecognised] = []
    leg = LegTranscriber(model, "call-1", CALLER, on_segment=events.append, partials=True)
    feed(leg, speech("my printer says paper jam") + silence(1.0))
    [segment] = leg.close(timeout=30)
    assert [e.final for e in events][-1] is True and events[-1].segment == segment
    partials = [e.segment.text for e in events if not e.final]
    assert partials and all(segment.text.startswith(p.split()[0]) for p in partials)


def test_the_model_is_loaded_once_per_process(model):
    assert SpeechModel.load(model.path) is model
    assert SpeechModel.is_loaded(model.path)
