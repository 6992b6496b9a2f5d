"""Interval reports from the queue log: buckets on the site's local clock (23 or 25 hours on a day the
clocks change), empty intervals as rows of zeros, and each call counted in the interval it arrived in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from routing.acd import Acd
from routing.agents import AgentProfile
from routing.metrics import interval_metrics, interval_starts
from routing.queues import parse_config

PARIS = ZoneInfo("Europe/Paris")
HOUR = timedelta(hours=1)


def local_day(day: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = day.replace(tzinfo=tz)
    return start.astimezone(UTC), (start + timedelta(days=1)).replace(tzinfo=tz).astimezone(UTC)


@pytest.mark.parametrize(("day", "step", "count"), [
    (datetime(2026, 3, 28), HOUR, 24),
    (datetime(2026, 3, 29), HOUR, 23),  # 02:00 becomes 03:00
    (datetime(2026, 10, 25), HOUR, 25),  # 02:00-03:00 is lived twice
    (datetime(2026, 3, 29), timedelta(minutes=30), 46),
    (datetime(2026, 10, 25), timedelta(minutes=15), 100),
])
def test_buckets_follow_the_local_clock(day: datetime, step: timedelta, count: int) -> None:
    start, end = local_day(day, PARIS)
    starts = interval_starts(start, end, step, PARIS)
    assert len(starts) == count
    assert starts[0] == start
    assert all((s.astimezone(PARIS).minute * 60) % int(step.total_seconds()) == 0 for s in starts)
    assert starts == sorted(set(starts))


@pytest.mark.parametrize("in_zone", [False, True])
def test_the_repeated_hour_is_two_rows_one_per_offset(in_zone: bool) -> None:
    start, end = local_day(datetime(2026, 10, 25), PARIS)
    if in_zone:  # the same instants given as Paris times: still 25 rows
        start, end = start.astimezone(PARIS), end.astimezone(PARIS)
    rows, _ = interval_metrics([], start, end, HOUR, PARIS, {})
    labels = [r.start.isoformat() for r in rows[1:4]]
    assert labels == ["2026-10-25T01:00:00+02:00", "2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00"]
    assert all(r.end == n.start for r, n in pairwise(rows))
    assert rows[-1].end == end and len(rows) == 25


def test_a_zone_a_quarter_hour_off_utc_gets_its_own_local_hours() -> None:
    kathmandu = ZoneInfo("Asia/Kathmandu")  # UTC+05:45
    start, end = local_day(datetime(2026, 5, 1), kathmandu)
    starts = interval_starts(start, end, HOUR, kathmandu)
    assert [s.astimezone(kathmandu).hour for s in starts] == list(range(24))


def test_a_window_not_on_a_boundary_starts_with_a_short_interval() -> None:
    start = datetime(2026, 5, 1, 9, 40, tzinfo=UTC)
    starts = interval_starts(start, start + 2 * HOUR, HOUR, UTC)
    assert [s.strftime("%H:%M") for s in starts] == ["09:40", "10:00", "11:00"]


@pytest.mark.parametrize("step", [timedelta(minutes=7), timedelta(minutes=105), timedelta(0), timedelta(hours=5)])
def test_an_interval_that_does_not_divide_the_day_is_refused(step: timedelta) -> None:
    with pytest.raises(ValueError, match="does not divide a day"):
        interval_starts(datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 5, 2, tzinfo=UTC), step, UTC)


def test_an_empty_window_is_refused() -> None:
    t = datetime(2026, 5, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="is empty"):
        interval_starts(t, t, HOUR, UTC)


T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)  # 09:00 in Paris


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def morning() -> Acd:
    """09:00-12:00 Paris: three calls at 09:xx (one answered late in the next hour), none at 10:xx, one
    overflowing at 11:xx. Service level 20 s, short abandon 5 s, wrap-up 10 s on both queues."""
    queue = {"service_level": 20, "short_abandon": 5, "wrap_up": 10, "announce_every": None}
    acd = Acd(parse_config({"queues": {
        "general": {**queue, "max_wait": 60, "overflow_to": "network"},
        "network": {**queue, "tiers": [{"level": 2}]},
    }}))
    acd.set_agents([AgentProfile("1001"), AgentProfile("2001", 2, frozenset({"network"}))], T0)
    acd.set_on_shift(["1001", "2001"], T0)
    acd.enqueue("quick", "general", at(10))
    acd.assign(at(10))
    acd.answered("quick", "1001", at(10) + timedelta(seconds=8))  # within 20 s
    acd.hung_up("quick", at(12) + timedelta(seconds=8))  # talk 120 s
    acd.tick(at(12) + timedelta(seconds=18))  # wrap-up 10 s
    acd.enqueue("short", "general", at(20))
    acd.abandon("short", at(20) + timedelta(seconds=3))  # a short abandon
    acd.set_closed("general", True)
    acd.set_closed("network", True)
    acd.enqueue("late", "general", at(59) + timedelta(seconds=50))  # general sends it on; network refuses it
    acd.set_closed("general", False)
    acd.set_closed("network", False)
    acd.enqueue("slow", "general", at(59) + timedelta(seconds=55))  # this one arrives at 09:59:55
    acd.set_agents([AgentProfile("2001", 2, frozenset({"network"}))], at(59))  # 1001 leaves: nobody for general
    acd.abandon("slow", at(60) + timedelta(seconds=35))  # abandons at 10:00:35, after 40 s
    acd.enqueue("overflowed", "general", at(150))
    acd.tick(at(151))  # max wait 60 s: to network
    acd.assign(at(151))
    acd.answered("overflowed", "2001", at(151) + timedelta(seconds=30))  # waited 90 s
    acd.hung_up("overflowed", at(161))
    acd.tick(at(170))
    return acd


def test_rows_per_hour_with_empty_hours_and_calls_in_their_arrival_hour(morning: Acd) -> None:
    rows, total = interval_metrics(morning.log, at(0), at(180), HOUR, PARIS, morning.config.queues)
    assert [r.start.strftime("%H:%M") for r in rows] == ["09:00", "10:00", "11:00"]
    nine, ten, eleven = rows
    # the abandon at 10:00:35 counts where the call arrived, 09:59:55; the refused call is offered only
    assert (nine.offered, nine.answered, nine.abandoned, nine.short_abandoned) == (4, 1, 2, 1)
    assert nine.answered_within_sl == 1 and nine.service_level == 1.0
    assert nine.service_level_with_abandons == pytest.approx(1 / 2)  # 1 within / (1 + 2 - 1 short)
    assert nine.abandonment_rate == pytest.approx(2 / 3)
    assert nine.asa == 8.0 and nine.aht == 130.0 and nine.longest_wait == 40.0
    assert (ten.offered, ten.answered, ten.abandoned) == (0, 0, 0)  # present, with zeros
    assert (ten.service_level, ten.asa, ten.aht, ten.longest_wait) == (None, None, None, None)
    assert (eleven.offered, eleven.answered, eleven.answered_within_sl, eleven.asa) == (1, 1, 0, 90.0)
    assert eleven.service_level == 0.0
    assert (total.offered, total.answered, total.abandoned) == (5, 2, 2)
    assert total.start == at(0) and total.end == at(180)
    assert total.asa == pytest.approx((8 + 90) / 2)


def test_per_queue_rows_count_a_call_where_it_was_and_where_it_ended(morning: Acd) -> None:
    queues = morning.config.queues
    _, general = interval_metrics(morning.log, at(0), at(180), HOUR, PARIS, queues, "general")
    _, network = interval_metrics(morning.log, at(0), at(180), HOUR, PARIS, queues, "network")
    assert (general.offered, general.answered, general.abandoned) == (5, 1, 2)  # the overflowed one left it
    assert (network.offered, network.answered, network.abandoned) == (2, 1, 0)  # and the one refused there


def test_calls_that_arrived_before_the_window_are_left_out(morning: Acd) -> None:
    rows, total = interval_metrics(morning.log, at(60), at(180), HOUR, PARIS, morning.config.queues)
    assert len(rows) == 2
    assert (total.offered, total.abandoned) == (1, 0)  # 09:59:55's abandon at 10:00:35 is not 10:00's


def test_the_total_is_the_sum_of_the_rows(morning: Acd) -> None:
    rows, total = interval_metrics(morning.log, at(0), at(180), timedelta(minutes=15), PARIS,
                                   morning.config.queues)
    assert len(rows) == 12
    for field in ("offered", "answered", "abandoned", "short_abandoned", "answered_within_sl"):
        assert sum(getattr(r, field) for r in rows) == getattr(total, field), field
