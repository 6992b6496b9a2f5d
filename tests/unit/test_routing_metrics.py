"""Metrics from the queue event log and the agents' transitions, driven through the real ACD."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from routing.acd import Acd
from routing.agents import AgentProfile
from routing.metrics import agent_metrics, queue_metrics
from routing.queues import parse_config

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


@pytest.fixture
def day() -> Acd:
    """Four calls on one agent, service level 20 s, short abandon 5 s, wrap-up 10 s."""
    acd = Acd(parse_config({"queues": {"q": {"service_level": 20, "short_abandon": 5, "wrap_up": 10,
                                             "announce_every": None}}}))
    acd.set_agents([AgentProfile("1001")], T0)
    acd.set_on_shift(["1001"], T0)
    acd.enqueue("fast", "q", at(0))
    acd.assign(at(0))
    acd.answered("fast", "1001", at(10))  # wait 10 (within 20)
    acd.hung_up("fast", at(70))  # talk 60
    acd.enqueue("slow", "q", at(50))
    acd.enqueue("short", "q", at(60))
    acd.abandon("short", at(63))  # a short abandon (3 s)
    acd.enqueue("long", "q", at(65))
    acd.tick(at(80))  # wrap-up over
    acd.assign(at(80))
    acd.answered("slow", "1001", at(90))  # wait 40 (outside 20)
    acd.abandon("long", at(100))  # a long abandon (35 s)
    acd.hung_up("slow", at(210))  # talk 120
    acd.tick(at(220))
    return acd


def test_queue_metrics_from_the_log(day: Acd) -> None:
    m = queue_metrics(day.log, T0, at(300), day.config.queues)["q"]
    assert (m.offered, m.answered, m.abandoned, m.short_abandoned, m.answered_within_sl) == (4, 2, 2, 1, 1)
    assert m.service_level == pytest.approx(1 / 2)
    assert m.service_level_with_abandons == pytest.approx(1 / 3)  # the short abandon is not counted
    assert m.asa == pytest.approx((10 + 40) / 2)
    assert m.abandonment_rate == pytest.approx(2 / 4)
    assert m.aht == pytest.approx(((60 + 10) + (120 + 10)) / 2)


def test_a_window_only_counts_what_happened_inside_it(day: Acd) -> None:
    m = queue_metrics(day.log, at(75), at(300), day.config.queues)["q"]
    assert (m.offered, m.answered, m.abandoned) == (0, 1, 1)


def test_agent_occupancy_is_busy_time_over_working_time(day: Acd) -> None:
    m = agent_metrics(day.log, day.transitions, T0, at(300))["1001"]
    # On a call 10-70 and 90-210, wrap-up 70-80 and 210-220: 200 s busy of 300 s logged in.
    assert (m.calls, m.talk, m.wrap_up, m.working) == (2, 180, 20, 300)
    assert m.occupancy == pytest.approx(200 / 300)
    assert agent_metrics(day.log, day.transitions, at(100), at(200))["1001"].occupancy == pytest.approx(1.0)


def test_a_pause_is_not_working_time() -> None:
    acd = Acd(parse_config({"queues": {"q": {}}}))
    acd.set_agents([AgentProfile("1001")], T0)
    acd.set_on_shift(["1001"], T0)
    acd.pause("1001", "lunch", at(100), "1001")
    m = agent_metrics(acd.log, acd.transitions, T0, at(400))["1001"]
    assert m.working == 100 and m.occupancy == 0


def test_off_shift_time_is_not_working_time_but_a_call_past_the_shift_end_is() -> None:
    acd = Acd(parse_config({"queues": {"q": {}}}))
    acd.set_agents([AgentProfile("1001")], T0)
    acd.set_on_shift(["1001"], at(100))
    acd.enqueue("a", "q", at(150))
    acd.assign(at(150))
    acd.answered("a", "1001", at(150))
    acd.set_on_shift([], at(200))
    acd.hung_up("a", at(250))
    m = agent_metrics(acd.log, acd.transitions, T0, at(1000))["1001"]
    assert m.working == 150  # on shift 100-200, then the call until 250
    assert m.occupancy == pytest.approx(100 / 150)


def test_no_calls_give_no_ratios() -> None:
    m = queue_metrics([], T0, at(10), parse_config({"queues": {"q": {}}}).queues)["q"]
    assert (m.service_level, m.asa, m.abandonment_rate, m.aht) == (None, None, None, None)
