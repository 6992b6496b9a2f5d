"""Erlang C against the textbook case and its own invariants."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shifts.erlang import StaffingError, agents_needed, erlang_c, service_level


def test_textbook_case_100_calls_in_30_minutes_aht_180_s_80_in_20() -> None:
    staffing = agents_needed(100, 180, 1800, target_sl=0.8, target_s=20)
    assert staffing.load_erlangs == pytest.approx(10.0)
    assert staffing.agents == 14
    assert service_level(13, 10.0, 180, 20) == pytest.approx(0.796, abs=0.001)  # 13 just miss the target
    assert staffing.service_level == pytest.approx(0.889, abs=0.001)
    assert staffing.asa_s == pytest.approx(7.8, abs=0.1)


def test_shrinkage_raises_the_rostered_count() -> None:
    staffing = agents_needed(100, 180, 1800, shrinkage=0.3)
    assert (staffing.agents, staffing.rostered) == (14, 20)


def test_no_calls_need_no_agents() -> None:
    assert agents_needed(0, 180, 1800).agents == 0


@pytest.mark.parametrize("kwargs", [{"target_sl": 1.0}, {"target_sl": 0}, {"shrinkage": 1.0}, {"target_s": -1}])
def test_impossible_targets_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(StaffingError):
        agents_needed(100, 180, 1800, **kwargs)


def test_understaffed_queue_always_waits() -> None:
    assert erlang_c(10, 10.0) == 1.0 and service_level(9, 10.0, 180, 20) == 0.0


@given(load=st.floats(0.1, 300), extra=st.integers(1, 50))
def test_more_agents_never_lower_the_service_level(load: float, extra: int) -> None:
    n = math.floor(load) + 1
    assert service_level(n + extra, load, 180, 20) >= service_level(n, load, 180, 20) - 1e-12
    assert 0.0 <= erlang_c(n, load) <= 1.0
