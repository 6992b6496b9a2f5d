"""The transcript's values: words, segments, the recognised event, call order."""

from __future__ import annotations

import dataclasses

import pytest

from transcription.segments import AGENT, CALLER, Segment, SegmentRecognised, Word, in_call_order


def test_a_segment_spans_its_words():
    words = [Word("paper", 1.2, 1.6, 0.9), Word("jam", 1.6, 2.0, 0.7)]
    segment = Segment.from_words(CALLER, words)
    assert segment == Segment(CALLER, 1.2, 2.0, "paper jam", tuple(words))
    assert segment.confidence == pytest.approx(0.8)


def test_no_words_make_no_segment():
    assert Segment.from_words(AGENT, []) is None


def test_a_word_shifted_keeps_its_length_and_confidence():
    assert Word("hello", 0.5, 0.9, 0.6).shifted(2.0) == Word("hello", 2.5, 2.9, 0.6)


def test_time_running_backwards_is_rejected():
    with pytest.raises(ValueError, match="ends"):
        Word("x", 2.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="caller"):
        Segment(CALLER, 3.0, 2.0, "x")


def test_values_are_frozen():
    segment = Segment(AGENT, 0.0, 1.0, "hi")
    with pytest.raises(dataclasses.FrozenInstanceError):
        segment.text = "bye"  # type: ignore[misc]
    event = SegmentRecognised("call-1", segment, final=True)
    assert event.final and event.segment is segment


def test_call_order_sorts_by_start_then_end_then_speaker():
    a = Segment(AGENT, 1.0, 2.0, "a")
    b = Segment(CALLER, 1.0, 2.0, "b")
    c = Segment(CALLER, 0.5, 3.0, "c")
    d = Segment(CALLER, 1.0, 1.5, "d")
    assert in_call_order([a, b, c, d]) == [c, d, a, b]
