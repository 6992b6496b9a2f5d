"""GET /api/v1/calls/{call_id}/transcript/live: Server-Sent Events from the live hub."""

from __future__ import annotations

import json
import threading
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from api.deps import Services
from tests.api_auth import sign_in_as, user
from transcription.live import LiveTranscripts
from transcription.segments import Segment, SegmentRecognised, Word


def seg(text: str, start: float) -> Segment:
    segment = Segment.from_words("caller", [Word(w, start + i * 0.3, start + i * 0.3 + 0.2, 0.8)
                                            for i, w in enumerate(text.split())])
    assert segment is not None
    return segment


def test_events_stream_while_the_call_runs_and_the_stream_ends_with_the_call() -> None:
    hub = LiveTranscripts()
    hub.open("c1")
    hub.publish(SegmentRecognised("c1", seg("my printer", 1.0), final=True))
    client = TestClient(sign_in_as(create_app(Services(cases=None, rota=None, live_transcripts=hub)), user()))
    received: list[tuple[str, dict[str, Any]]] = []
    with client.stream("GET", "/api/v1/calls/c1/transcript/live") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        kind = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                received.append((kind, json.loads(line[6:])))
                if len(received) == 1:  # the replay arrived: now speak on, from another thread
                    def speak() -> None:
                        hub.publish(SegmentRecognised("c1", seg("is jammed", 2.0), final=False))
                        hub.publish(SegmentRecognised("c1", seg("is jammed again", 2.0), final=True))
                        hub.close("c1")
                    threading.Thread(target=speak).start()
    assert [k for k, _ in received] == ["final", "partial", "final", "end"]
    first = received[0][1]
    assert first["speaker"] == "caller" and first["text"] == "my printer" and first["start"] == 1.0
    assert first["words"][1] == {"text": "printer", "start": 1.3, "end": 1.5, "conf": 0.8}
    assert received[-1][1] == {"call_id": "c1"}


def test_a_call_not_in_progress_is_404() -> None:
    client = TestClient(sign_in_as(create_app(Services(cases=None, rota=None, live_transcripts=LiveTranscripts())),
                                   user()))
    response = client.get("/api/v1/calls/nobody/transcript/live")
    assert response.status_code == 404
    assert "not in progress" in response.json()["detail"]
