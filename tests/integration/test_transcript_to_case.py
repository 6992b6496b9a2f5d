"""A call's transcript goes through redaction on its way to the case (real Vosk model, real database)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from cases.model import CallOutcome, HangupBy
from cases.store import CaseStore
from hotline.bootstrap import CaseTranscriber
from tests.audio import TEST_SPEED, TEST_VOICE
from tests.e2e.conftest import MODEL
from tests.speech import frames, read_pcm, require_speech_tools, synthesise
from transcription.calls import CallTranscriber
from transcription.pool import PoolConfig, RecogniserPool
from transcription.redaction import redact
from transcription.spool import Spool

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
SECRET = "my password is orange"  # the model writes "my password in orange"


@pytest.mark.parametrize("redacting", [True, False])
def test_spoken_password_is_redacted_before_it_reaches_the_case(
        tmp_path: Path, engine: Engine, redacting: bool) -> None:
    require_speech_tools()
    if not MODEL.exists():
        pytest.fail(f"speech model missing at {MODEL}: run 'hotline models install'")
    cases = CaseStore(engine)
    cases.call_started("c1", "5550101", "100", "hotline-1", T0)
    cases.call_answered("c1", "1001", T0)
    cases.call_ended("c1", T0, CallOutcome.ANSWERED, HangupBy.CALLER)
    pool = RecogniserPool(PoolConfig(MODEL.resolve(), processes=1))
    pool.start()
    try:
        service = CallTranscriber(Spool(tmp_path / "spool"), pool, redactor=redact if redacting else None)
        transcriber = CaseTranscriber(cases, service)
        transcript = transcriber.begin("c1")
        leg = transcript.leg("caller", 0.0)
        speech = read_pcm(synthesise(SECRET, tmp_path / "s.wav", voice=TEST_VOICE, speed=TEST_SPEED, pad_s=1.0))
        for frame in frames(speech):
            leg.feed(frame)
        transcript.finish()
    finally:
        pool.stop()
    assert list((tmp_path / "spool").iterdir()) == []  # attached, so its audio is gone (retention 0)

    (segment,) = cases.get_call("c1").segments
    if redacting:
        assert segment.text.startswith("my password") and segment.text.endswith("[password]"), segment.text
        assert "orange" not in segment.text and all(w.text != "orange" for w in segment.words)
    else:
        assert "orange" in segment.text, segment.text
