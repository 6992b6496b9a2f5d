"""Where the rota editor's drag and drop puts a one-off shift (``api.rota_grid.moves``): the same local start
time in the shift's own zone and the same length, across the DST changes of Europe/Paris."""

from __future__ import annotations

from datetime import datetime

from api.rota_grid import moves
from shifts.rota import Shift


def test_a_night_moved_across_the_spring_change_keeps_its_start_on_the_clock_and_its_length() -> None:
    # Friday 27 March 2026 22:00-06:00 (8 h); the clocks go forward in the night of Saturday to Sunday.
    night = Shift.local("1001", datetime(2026, 3, 27, 22), datetime(2026, 3, 28, 6), "Europe/Paris")
    targets = moves(night)
    assert targets["1"] == ["2026-03-28T22:00:00+01:00", "2026-03-29T07:00:00+02:00"]  # 8 h, ends 07:00
    assert targets["2"] == ["2026-03-29T22:00:00+02:00", "2026-03-30T06:00:00+02:00"]
    assert targets["-1"] == ["2026-03-26T22:00:00+01:00", "2026-03-27T06:00:00+01:00"]
    assert "0" not in targets and len(targets) == 14


def test_a_start_the_clocks_skip_moves_past_the_gap() -> None:
    early = Shift.local("1001", datetime(2026, 3, 28, 2, 30), datetime(2026, 3, 28, 6), "Europe/Paris")
    assert moves(early)["1"] == ["2026-03-29T03:30:00+02:00", "2026-03-29T07:00:00+02:00"]
