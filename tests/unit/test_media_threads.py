"""media.LegReader and media.Player: a thread that dies of an exception reports it through its leg (which
marks the leg's SIP worker failed), instead of ending in silence."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from telephony.media import LegReader, Player
from tests.fakes import FakeLeg


def test_a_reader_whose_leg_fails_reports_it_and_ends() -> None:
    leg = FakeLeg("c1", "5550101")

    def broken() -> bytes | None:
        raise ValueError("a broken codec")

    leg.read_frame = broken  # type: ignore[method-assign]
    ended: list[bool] = []
    reader = LegReader(leg, "caller", on_end=lambda: ended.append(True))
    reader.start()
    assert reader.ended.wait(2)
    reader.join(2)
    assert [(what, str(error)) for what, error in leg.failures] == [("media reader thread (caller)", "a broken codec")]
    assert ended == [True]


def test_a_player_whose_frames_fail_reports_it() -> None:
    leg = FakeLeg("c2", "5550101")

    def frames() -> Iterator[bytes]:
        yield b"\x00\x00" * 160
        raise RuntimeError("the prompt file vanished")

    player = Player(leg, frames(), "hold-c2")
    player.start()
    player._thread.join(2)
    assert not player._thread.is_alive()
    assert [(what, str(error)) for what, error in leg.failures] == [
        ("media player thread (hold-c2)", "the prompt file vanished")]
    assert leg.written == [b"\x00\x00" * 160]


def test_a_reader_of_a_leg_that_ends_reports_nothing() -> None:
    leg = FakeLeg("c3", "5550101")
    reader = LegReader(leg, "caller")
    got = threading.Event()
    reader.add_sink(lambda _frame: got.set())
    reader.start()
    leg.inbound.put(b"\x01\x00" * 160)
    assert got.wait(2)
    leg.hangup()
    assert reader.ended.wait(2)
    assert leg.failures == [] and reader.frames == 1
