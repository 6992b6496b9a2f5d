"""The live transcript hub: replay on subscribe, fan-out, end of stream, forgetting old calls."""

from __future__ import annotations

from transcription.live import END, FINAL, PARTIAL, LiveEvent, LiveTranscripts
from transcription.segments import Segment, SegmentRecognised, Word


def seg(speaker: str, text: str, start: float) -> Segment:
    words = [Word(w, start + i * 0.3, start + i * 0.3 + 0.25, 0.9) for i, w in enumerate(text.split())]
    segment = Segment.from_words(speaker, words)
    assert segment is not None
    return segment


def test_a_late_subscriber_gets_what_was_said_then_what_follows() -> None:
    hub = LiveTranscripts()
    hub.open("c1")
    hub.publish(SegmentRecognised("c1", seg("caller", "my printer", 1.0), final=True))
    hub.publish(SegmentRecognised("c1", seg("agent", "which", 2.0), final=False))
    got: list[LiveEvent] = []
    assert hub.subscribe("c1", got.append) is not None
    assert [(e.kind, e.segment.text if e.segment else None) for e in got] == [(FINAL, "my printer"), (PARTIAL, "which")]
    hub.publish(SegmentRecognised("c1", seg("agent", "which printer", 2.0), final=True))
    hub.close("c1")
    assert [e.kind for e in got] == [FINAL, PARTIAL, FINAL, END]
    hub.publish(SegmentRecognised("c1", seg("agent", "too late", 9.0), final=True))
    assert len(got) == 4  # nothing after the end


def test_unknown_and_long_ended_calls_have_no_stream_and_unsubscribed_listeners_hear_nothing() -> None:
    hub = LiveTranscripts(keep_ended=2)
    assert hub.subscribe("nobody", lambda e: None) is None
    for i in range(4):
        hub.open(f"c{i}")
        hub.close(f"c{i}")
    assert hub.subscribe("c0", lambda e: None) is None
    replay: list[LiveEvent] = []
    assert hub.subscribe("c3", replay.append) is not None and [e.kind for e in replay] == [END]
    hub.open("live")
    got: list[LiveEvent] = []
    sub = hub.subscribe("live", got.append)
    assert sub is not None and hub.is_live("live")
    sub.close()
    hub.publish(SegmentRecognised("live", seg("caller", "hello", 0.5), final=True))
    assert got == []


def test_a_failing_listener_does_not_stop_the_others() -> None:
    hub = LiveTranscripts()
    hub.open("c1")
    got: list[LiveEvent] = []

    def broken(event: LiveEvent) -> None:
        raise RuntimeError("console gone")

    hub.subscribe("c1", broken)
    hub.subscribe("c1", got.append)
    hub.publish(SegmentRecognised("c1", seg("caller", "hello", 0.5), final=True))
    assert [e.kind for e in got] == [FINAL]
