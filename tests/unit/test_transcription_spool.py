"""The audio spool: WAV per leg readable after a crash, call states, retention."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from transcription.spool import DONE, LIVE, PENDING, Spool, SpoolError, call_folder_name, read_pcm


def test_legs_are_written_as_wav_files_and_read_back_exactly(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    call = spool.begin("a1b2@127.0.0.1")
    caller, agent = call.leg("caller", 0.0), call.leg("agent", 4.5)
    pcm = bytes(range(256)) * 10
    caller.write(pcm[:1000])
    caller.write(pcm[1000:])
    agent.write(b"\x01\x00" * 80)
    spooled = call.close(PENDING)
    with wave.open(str(spooled.folder / "caller.wav")) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()) == (8000, 1, 2, 1280)
    assert read_pcm(spooled.folder / "caller.wav") == pcm
    (found,) = spool.unfinished()
    assert found.call_id == "a1b2@127.0.0.1" and found.state == PENDING
    assert {(leg.speaker, leg.offset_s) for leg in found.legs} == {("caller", 0.0), ("agent", 4.5)}


def test_a_crash_leaves_a_live_call_whose_audio_is_still_readable(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    call = spool.begin("crashed")
    leg = call.leg("caller", 0.0)
    leg.write(b"\x10\x00" * 4000)  # and the process dies here: no close, no header update
    (found,) = Spool(tmp_path).unfinished()
    assert found.state == LIVE
    assert read_pcm(found.legs[0].path) == b"\x10\x00" * 4000  # the header still says 0 bytes


def test_retention_deletes_only_done_calls_past_their_time(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    old = spool.begin("old").close(DONE)
    waiting = spool.begin("waiting").close(PENDING)
    fresh = spool.begin("fresh").close(DONE)
    later = fresh.created + 86400 * 2
    assert spool.purge(keep_days=3, now=later) == 0
    assert spool.purge(keep_days=1, now=later) == 2
    assert not old.folder.exists() and not fresh.folder.exists() and waiting.folder.exists()


def test_bad_input_gets_a_clear_error(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    call = spool.begin("x")
    with pytest.raises(ValueError, match="speaker"):
        call.leg("../etc", 0.0)
    call.leg("caller", 0.0)
    with pytest.raises(ValueError, match="already"):
        call.leg("caller", 1.0)
    (tmp_path / "junk.wav").write_bytes(b"not a wav")
    with pytest.raises(SpoolError, match="not a WAV"):
        read_pcm(tmp_path / "junk.wav")
    assert call_folder_name("a/b@c") != call_folder_name("a_b@c")
