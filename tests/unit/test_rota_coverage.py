"""Coverage of a period: gaps in 24/7 coverage and intervals below the minimum per level and skill."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shifts.coverage import Gap, Shortfall, Staffing, coverage
from shifts.rota import Absence, Agent, Break, Rota, RotaError, Shift

ALICE, BOB = Agent("1001", "Alice"), Agent("1002", "Bob", 2, skills=("network",))


def utc(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 5, day, hour, minute, tzinfo=UTC)


def shift(extension: str, start: datetime, end: datetime) -> Shift:
    return Shift(extension, start, end, "UTC")


def test_a_day_covered_end_to_end_has_no_gap() -> None:
    rota = Rota([ALICE, BOB], [shift("1001", utc(4, 0), utc(4, 12)), shift("1002", utc(4, 12), utc(5, 0))])
    report = coverage(rota, utc(4), utc(5))
    assert report.covered and report.gaps == ()


def test_gaps_are_found_at_the_edges_and_in_the_middle() -> None:
    rota = Rota([ALICE, BOB], [shift("1001", utc(4, 6), utc(4, 14)), shift("1002", utc(4, 15), utc(4, 22))],
                absences=[Absence("1002", utc(4, 18), utc(4, 19), "leave")],
                breaks=[Break("1001", utc(4, 10), utc(4, 10, 30))])
    report = coverage(rota, utc(4), utc(5))
    assert report.gaps == (Gap(utc(4, 0), utc(4, 6)), Gap(utc(4, 10), utc(4, 10, 30)), Gap(utc(4, 14), utc(4, 15)),
                           Gap(utc(4, 18), utc(4, 19)), Gap(utc(4, 22), utc(5, 0)))
    assert report.gaps[2].message == ("Nobody is available from 2026-05-04T14:00:00+00:00 to "
                                      "2026-05-04T15:00:00+00:00 (1 h).")


def test_minimum_staffing_per_level_and_skill() -> None:
    carol = Agent("1003", "Carol", 1)
    rota = Rota([ALICE, BOB, carol], [shift("1001", utc(4, 0), utc(5, 0)), shift("1002", utc(4, 8), utc(4, 16)),
                                      shift("1003", utc(4, 6), utc(4, 12))])
    report = coverage(rota, utc(4), utc(5), Staffing(total=2, levels={2: 1}, skills={"network": 1}))
    assert report.gaps == ()
    assert report.shortfalls == (
        Shortfall("level 2", utc(4, 0), utc(4, 8), 1, 0), Shortfall("skill network", utc(4, 0), utc(4, 8), 1, 0),
        Shortfall("total", utc(4, 0), utc(4, 6), 2, 1),
        Shortfall("level 2", utc(4, 16), utc(5, 0), 1, 0), Shortfall("skill network", utc(4, 16), utc(5, 0), 1, 0),
        Shortfall("total", utc(4, 16), utc(5, 0), 2, 1),
    )
    assert report.shortfalls[2].message == ("total: 1 available where 2 are needed, from 2026-05-04T00:00:00+00:00 "
                                            "to 2026-05-04T06:00:00+00:00 (6 h).")


def test_a_level_2_agent_counts_for_level_1() -> None:
    rota = Rota([ALICE, BOB], [shift("1002", utc(4, 0), utc(5, 0))])
    assert coverage(rota, utc(4), utc(5), Staffing(levels={1: 1})).covered


def test_bad_periods_and_minimums_are_refused() -> None:
    with pytest.raises(RotaError, match="is not after its start"):
        coverage(Rota([], []), utc(5), utc(4))
    with pytest.raises(RotaError, match="minimum staffing for level 2 must be a whole number >= 0, got -1"):
        Staffing(levels={2: -1})
    with pytest.raises(RotaError, match="names level 0"):
        Staffing(levels={0: 1})


def test_an_empty_rota_is_one_gap() -> None:
    assert coverage(Rota([], []), utc(4), utc(4) + timedelta(hours=1)).gaps == (Gap(utc(4), utc(4, 1)),)
