"""The Vosk adapter without Vosk: result parsing, model checks, and the leg's thread model with a fake
recogniser (the seam is ``SpeechModel.new_recogniser``)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from transcription.segments import AGENT, CALLER, Segment, SegmentRecognised, Word
from transcription.vosk import (
    FRAME_BYTES,
    CallTranscription,
    LegTranscriber,
    ModelUnavailable,
    RecogniserFailed,
    TranscriptionTimeout,
    check_model_dir,
    parse_conf,
    parse_result,
)

FINAL = json.dumps(
    {
        "result": [
            {"conf": 0.9, "end": 0.66, "start": 0.45, "word": "my"},
            {"conf": 0.5, "end": 1.17, "start": 0.66, "word": "printer"},
        ],
        "text": "my printer",
    }
)


def test_a_final_result_becomes_a_segment_shifted_by_the_leg_offset():
    segment = parse_result(FINAL, AGENT, 2.5)
    assert segment == Segment(
        AGENT, 2.95, 3.67, "my printer", (Word("my", 2.95, 3.16, 0.9), Word("printer", 3.16, 3.67, 0.5))
    )


def test_silence_gives_no_segment():
    assert parse_result('{"text": ""}', CALLER, 0.0) is None
    assert parse_result('{"partial": ""}', CALLER, 0.0, partial=True) is None


def test_a_partial_result_with_words_becomes_a_segment():
    payload = json.dumps({"partial": "my", "partial_result": [{"conf": 1.0, "end": 0.6, "start": 0.4, "word": "my"}]})
    assert parse_result(payload, CALLER, 1.0, partial=True) == Segment(
        CALLER, 1.4, 1.6, "my", (Word("my", 1.4, 1.6, 1.0),)
    )


def test_conf_options_are_parsed():
    assert parse_conf("--a=1\n# note\n\n--b=x # trailing\nnot-an-option\n") == {"--a": "1", "--b": "x"}


def test_a_missing_model_is_unavailable_with_advice(tmp_path):
    with pytest.raises(ModelUnavailable, match="hotline models install"):
        check_model_dir(tmp_path)


def test_a_16khz_model_that_may_not_upsample_is_refused(tmp_path):
    (tmp_path / "am").mkdir()
    (tmp_path / "am" / "final.mdl").write_bytes(b"x")
    (tmp_path / "conf").mkdir()
    mfcc = tmp_path / "conf" / "mfcc.conf"
    mfcc.write_text("--sample-frequency=16000\n")
    with pytest.raises(ModelUnavailable, match="allow-upsample"):
        check_model_dir(tmp_path)
    mfcc.write_text("--sample-frequency=16000\n--allow-upsample=true\n")
    check_model_dir(tmp_path)
    mfcc.write_text("--sample-frequency=8000\n")
    check_model_dir(tmp_path)


class FakeRecogniser:
    """Says one word per non-silent block; an all-zero block ends the utterance. Optionally slow."""

    def __init__(self, delay_s: float = 0.0, fail_after: int | None = None) -> None:
        self.delay_s = delay_s
        self.fail_after = fail_after
        self.samples = 0
        self.words: list[dict[str, object]] = []
        self.blocks: list[int] = []
        self.said = 0

    def AcceptWaveform(self, block: bytes) -> bool:
        if self.fail_after is not None and len(self.blocks) >= self.fail_after:
            raise Exception("Failed to process waveform")
        time.sleep(self.delay_s)
        self.blocks.append(len(block))
        start = self.samples / 8000
        self.samples += len(block) // 2
        if any(block):
            self.words.append({"word": f"w{self.said}", "start": start, "end": self.samples / 8000, "conf": 1.0})
            self.said += 1
            return False
        return bool(self.words)

    def Result(self) -> str:
        words, self.words = self.words, []
        return json.dumps({"result": words, "text": " ".join(str(w["word"]) for w in words)})

    def PartialResult(self) -> str:
        return json.dumps({"partial": " ".join(str(w["word"]) for w in self.words), "partial_result": self.words})

    def FinalResult(self) -> str:
        return self.Result()


class FakeModel:
    def __init__(self, **recogniser: Any) -> None:
        self.recogniser = recogniser
        self.made: list[FakeRecogniser] = []

    def new_recogniser(self, grammar: tuple[str, ...] = ()) -> FakeRecogniser:
        recogniser = FakeRecogniser(**self.recogniser)
        self.made.append(recogniser)
        return recogniser


SPEECH = b"\x01\x00" * (FRAME_BYTES // 2)
QUIET = bytes(FRAME_BYTES)


def test_frames_are_decoded_in_fixed_blocks_and_flushed_on_close():
    model = FakeModel()
    leg = LegTranscriber(model, "call-1", CALLER, 1.0)
    for _ in range(12):
        leg.feed(SPEECH)
    segments = leg.close(timeout=5)
    assert model.made[0].blocks == [1600, 1600, 640]
    assert [s.text for s in segments] == ["w0 w1 w2"]
    assert segments[0].start == 1.0 and segments[0].end == pytest.approx(1.24)
    assert leg.done and leg.backlog_s == 0


def test_feed_never_waits_for_a_slow_recogniser():
    leg = LegTranscriber(FakeModel(delay_s=0.05), "call-1", CALLER)
    started = time.perf_counter()
    for _ in range(500):  # 10 s of audio; the recogniser needs 5 s for it
        leg.feed(SPEECH)
    assert time.perf_counter() - started < 0.5
    assert leg.backlog_s > 5
    leg.abort()
    assert leg.wait(5)


def test_segments_reach_the_handler_final_and_partial():
    events: list[SegmentRecognised] = []
    leg = LegTranscriber(FakeModel(), "call-7", AGENT, 0.0, events.append, partials=True)
    for frame in [SPEECH] * 10 + [QUIET] * 5 + [SPEECH] * 5:
        leg.feed(frame)
    leg.close(timeout=5)
    assert [(e.final, e.segment.text) for e in events] == [
        (False, "w0"),
        (False, "w0 w1"),
        (True, "w0 w1"),
        (False, "w2"),
        (True, "w2"),
    ]
    assert all(e.call_id == "call-7" and e.segment.speaker == AGENT for e in events)


def test_a_failing_handler_does_not_stop_the_recogniser():
    def explode(_event):
        raise RuntimeError("handler bug")

    leg = LegTranscriber(FakeModel(), "call-1", CALLER, on_segment=explode)
    leg.feed(SPEECH * 5)
    assert [s.text for s in leg.close(timeout=5)] == ["w0"]


def test_segments_can_be_delivered_on_an_event_loop():
    import asyncio

    async def scenario() -> list[tuple[SegmentRecognised, bool]]:
        loop = asyncio.get_running_loop()
        received: list[tuple[SegmentRecognised, bool]] = []
        leg = LegTranscriber(
            FakeModel(),
            "call-1",
            CALLER,
            on_segment=lambda e: received.append((e, threading.current_thread() is threading.main_thread())),
            loop=loop,
        )
        leg.feed(SPEECH * 5)
        await asyncio.to_thread(leg.close, 5)
        await asyncio.sleep(0)
        return received

    received = asyncio.run(scenario())
    assert [(e.segment.text, on_loop_thread) for e, on_loop_thread in received] == [("w0", True)]


def test_close_without_audio_gives_nothing():
    leg = LegTranscriber(FakeModel(), "call-1", CALLER)
    assert leg.close(timeout=5) == []


def test_audio_after_end_is_dropped_and_counted():
    leg = LegTranscriber(FakeModel(), "call-1", CALLER)
    leg.end()
    leg.feed(SPEECH)
    assert leg.dropped_bytes == FRAME_BYTES
    assert leg.close(timeout=5) == []


def test_odd_byte_counts_are_refused():
    leg = LegTranscriber(FakeModel(), "call-1", CALLER)
    with pytest.raises(ValueError, match="whole 16-bit samples"):
        leg.feed(b"\x00\x00\x00")
    leg.close(timeout=5)


def test_a_vosk_failure_is_reported_with_what_was_recognised():
    leg = LegTranscriber(FakeModel(fail_after=2), "call-1", CALLER)
    leg.feed(SPEECH * 5 + QUIET * 5 + SPEECH * 10)
    with pytest.raises(RecogniserFailed, match="caller leg of call call-1") as failure:
        leg.close(timeout=5)
    assert [s.text for s in failure.value.segments] == ["w0"]


def test_close_times_out_while_the_thread_is_busy():
    leg = LegTranscriber(FakeModel(delay_s=0.05), "call-1", CALLER)
    leg.feed(SPEECH * 100)
    with pytest.raises(TranscriptionTimeout, match="still had"):
        leg.close(timeout=0.01)
    leg.abort()
    assert leg.wait(5)


def test_a_call_merges_its_legs_in_time_order():
    call = CallTranscription(FakeModel(), "call-1")
    caller = call.leg(CALLER, 0.0)
    agent = call.leg(AGENT, 0.25)
    caller.feed(SPEECH * 5 + QUIET * 10 + SPEECH * 5)
    agent.feed(SPEECH * 5)
    segments = call.finish(timeout=5)
    assert [(s.speaker, s.start) for s in segments] == [(CALLER, 0.0), (AGENT, 0.25), (CALLER, 0.3)]
    with pytest.raises(RuntimeError, match="finished"):
        call.leg("supervisor")


def test_a_call_refuses_a_second_leg_for_the_same_speaker():
    call = CallTranscription(FakeModel(), "call-1")
    call.leg(CALLER)
    with pytest.raises(ValueError, match="already has a caller leg"):
        call.leg(CALLER)
    call.finish(timeout=5)


def test_finish_cuts_slow_legs_short_and_stops_their_threads():
    call = CallTranscription(FakeModel(delay_s=0.05), "call-1")
    leg = call.leg(CALLER)
    leg.feed(SPEECH * 200)
    started = time.monotonic()
    with pytest.raises(TranscriptionTimeout, match="caller") as timeout:
        call.finish(timeout=0.2)
    assert time.monotonic() - started < 2
    assert leg.done
    assert len(timeout.value.segments) == 1  # what was decoded before the cut


def test_no_threads_are_left_behind():
    before = set(threading.enumerate())
    call = CallTranscription(FakeModel(), "call-9")
    call.leg(CALLER).feed(SPEECH)
    call.leg(AGENT).feed(SPEECH)
    call.finish(timeout=5)
    assert {t for t in threading.enumerate() if t.name.startswith("vosk-")} - before == set()
