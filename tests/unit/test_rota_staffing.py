"""Staffing check per interval: Erlang C against the rota, from a forecast or from call history."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from shifts.erlang import StaffingError
from shifts.rota import Absence, Agent, Rota, RotaError, Shift
from shifts.staffing import Demand, Targets, forecast_from_history, rostered, staffing_check

HALF_HOUR = timedelta(minutes=30)
T0 = datetime(2026, 5, 4, 9, tzinfo=UTC)
TEXTBOOK = Targets(aht_s=180, service_level=0.8, answer_s=20, shrinkage=0.0)


def team(size: int, start: datetime = T0 - timedelta(hours=1), end: datetime = T0 + timedelta(hours=4)) -> Rota:
    agents = [Agent(f"{1000 + i}", f"Agent {i}") for i in range(size)]
    return Rota(agents, [Shift(a.extension, start, end, "UTC") for a in agents])


def test_the_textbook_interval_needs_14_agents_and_13_are_short_by_one() -> None:
    demand = [Demand(T0, 100)]
    [short] = staffing_check(team(13), demand, HALF_HOUR, TEXTBOOK)
    [enough] = staffing_check(team(14), demand, HALF_HOUR, TEXTBOOK)

    assert (short.needed.agents, short.rostered, short.short, short.understaffed) == (14, 13, 1, True)
    assert round(short.needed.service_level, 3) == 0.888 and round(short.needed.asa_s, 1) == 7.8
    assert (enough.short, enough.understaffed) == (0, False)


def test_shrinkage_raises_the_agents_to_roster() -> None:
    [row] = staffing_check(team(14), [Demand(T0, 100)], HALF_HOUR, Targets(aht_s=180, shrinkage=0.3))
    assert (row.needed.agents, row.needed.rostered, row.short) == (14, 20, 6)


def test_rostered_counts_only_agents_there_for_the_whole_interval() -> None:
    rota = Rota([Agent("1001", "A"), Agent("1002", "B"), Agent("1003", "C")],
                [Shift("1001", T0 - timedelta(hours=1), T0 + timedelta(minutes=15), "UTC"),
                 Shift("1002", T0, T0 + timedelta(hours=1), "UTC"),
                 Shift("1003", T0, T0 + timedelta(hours=1), "UTC")],
                absences=[Absence("1003", T0 + timedelta(minutes=10), T0 + timedelta(minutes=20), "other")])
    assert rostered(rota, T0, T0 + HALF_HOUR) == 1
    assert rostered(rota, T0 + HALF_HOUR, T0 + 2 * HALF_HOUR) == 2


class History:
    def __init__(self, counts: Mapping[datetime, int]) -> None:
        self.counts = counts
        self.asked: list[tuple[datetime, datetime]] = []

    def arrivals(self, start: datetime, end: datetime, step: timedelta) -> Mapping[datetime, int]:
        self.asked.append((start, end))
        return {t: n for t, n in self.counts.items() if start <= t < end}


def test_a_forecast_from_history_averages_the_same_interval_of_past_weeks() -> None:
    week = timedelta(days=7)
    history = History({T0 - week: 90, T0 - 2 * week: 110, T0 - 3 * week: 100, T0 - 4 * week: 100,
                       T0 + HALF_HOUR - week: 40, T0 - 5 * week: 1000})
    demand = forecast_from_history(history, T0, T0 + 2 * HALF_HOUR, HALF_HOUR, weeks=4)
    assert demand == [Demand(T0, 100.0), Demand(T0 + HALF_HOUR, 10.0)]
    assert len(history.asked) == 4


def test_a_forecast_keeps_the_site_s_local_hours_across_a_dst_change() -> None:
    paris = ZoneInfo("Europe/Paris")
    # Calls come at 09:00 in Paris every Monday: 07:00 UTC in October, 08:00 UTC after the fall-back.
    mondays = [datetime(2026, 10, day, 9, tzinfo=paris).astimezone(UTC) for day in (5, 12, 19)]
    history = History({monday: 30 for monday in mondays})
    after_fall_back = datetime(2026, 10, 26, 9, tzinfo=paris)
    local = forecast_from_history(history, after_fall_back, after_fall_back + HALF_HOUR, HALF_HOUR, weeks=3,
                                  timezone="Europe/Paris")
    assert local == [Demand(after_fall_back, 30.0)]
    in_utc = forecast_from_history(history, after_fall_back, after_fall_back + HALF_HOUR, HALF_HOUR, weeks=3)
    assert in_utc == [Demand(after_fall_back, 0.0)]  # same UTC time: an hour after the calls came
    with pytest.raises(RotaError, match="Unknown timezone 'Mars/Olympus'"):
        forecast_from_history(history, after_fall_back, after_fall_back + HALF_HOUR, HALF_HOUR,
                              timezone="Mars/Olympus")


def test_bad_intervals_are_refused() -> None:
    with pytest.raises(StaffingError, match="The interval must be 15 or 30 minutes"):
        staffing_check(team(1), [Demand(T0, 1)], timedelta(minutes=20))
    with pytest.raises(StaffingError, match="At least one week"):
        forecast_from_history(History({}), T0, T0 + HALF_HOUR, HALF_HOUR, weeks=0)
