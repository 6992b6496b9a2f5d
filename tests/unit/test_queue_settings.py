"""Queue settings changed live by supervisors: validation in the domain, the overrides on top of the queue
file, and the rule by which the running ACD takes a change (virtual clock); then the call flow's edit
command with a fake store, and a ring under way finishing under its old timeout (fake legs)."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from routing.acd import Acd, Entered, Overflowed
from routing.agents import AgentProfile, AgentState, RoutingError
from routing.distributor import Distributor, FlowSettings
from routing.queues import (
    ConfigError,
    QueueChange,
    Strategy,
    changed_settings,
    parse_config,
    queue_document,
    with_changes,
    with_overrides,
)
from tests.fakes import TIMEOUT, FakeDialer, FakeLeg, FakeTranscriber, Recorder, hold_music, run_call

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
L1, L2 = AgentProfile("1001", 1), AgentProfile("2001", 2)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def config(**first: Any) -> Any:
    return parse_config({"queues": {
        "l1": {"numbers": ["100"], "tiers": [{"level": 1}], "announce_every": None, "category": "printer",
               **first},
        "l2": {"tiers": [{"level": 2}], "announce_every": None, "overflow_to": "l1"},
        "l3": {"tiers": [{"level": 2}], "announce_every": None},
    }})


def acd_with(cfg: Any, on_shift: tuple[str, ...] = ("1001", "2001")) -> Acd:
    acd = Acd(cfg)
    acd.set_agents([L1, L2], T0)
    acd.set_on_shift(on_shift, T0)
    return acd


# --- validation ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("changes", "message"), [
    ({"strategy": "psychic"}, "queue 'l1': strategy 'psychic' is not one of longest-idle"),
    ({"overflow_to": "nowhere"}, "queue 'l1': overflow_to 'nowhere' is not a queue"),
    ({"overflow_to": "l1"}, "queue 'l1' cannot overflow to itself"),
    ({"overflow_to": "l2"}, r"overflowing to 'l2' makes a loop \(l1 -> l2 -> l1\)"),
    ({"ring_timeout": -5}, "ring_timeout must be a number of seconds from 0.1 to 86400, got -5"),
    ({"ring_timeout": 0}, "ring_timeout must be a number of seconds from 0.1"),
    ({"wrap_up": -1}, "wrap_up must be a number of seconds from 0"),
    ({"max_wait": 1e300}, "max_wait must be a number of seconds from 1 to 86400"),
    ({"retry_delay": float("nan")}, "retry_delay must be a number"),
    ({"max_misses": -1}, "max_misses must be a whole number >= 0"),
    ({"at_max_wait": "hang-up"}, "at_max_wait must be overflow or callback"),
    ({"join_empty": "yes"}, "join_empty must be true or false"),
    ({"tiers": []}, "tiers must be a non-empty list"),
    ({"tiers": [{"level": 0}]}, "tier 1: level must be a whole number >= 1"),
    ({"numbers": ["200"]}, "numbers cannot be changed here"),
    ({"colour": "blue"}, "colour cannot be changed here"),
    ({}, "give at least one setting to change"),
])
def test_a_bad_change_is_refused_with_one_sentence_and_changes_nothing(changes: dict[str, Any],
                                                                        message: str) -> None:
    cfg = config()
    before = queue_document(cfg.queue("l1"))
    with pytest.raises(ConfigError, match=message):
        with_changes(cfg, "l1", changes)
    assert queue_document(cfg.queue("l1")) == before


def test_an_unknown_queue_is_a_routing_error() -> None:
    with pytest.raises(RoutingError, match="No queue is named 'l9'"):
        with_changes(config(), "l9", {"wrap_up": 5})


def test_the_queue_file_may_not_hold_an_overflow_loop_either() -> None:
    with pytest.raises(ConfigError, match=r"makes a loop \(a -> b -> c -> a\)"):
        parse_config({"queues": {"a": {"overflow_to": "b"}, "b": {"overflow_to": "c"}, "c": {"overflow_to": "a"}}})


def test_a_change_keeps_every_other_setting_and_reports_what_changed() -> None:
    cfg = config(wrap_up=15)
    new = with_changes(cfg, "l1", {"strategy": "ring-all", "ring_timeout": 20, "max_wait": 120,
                                   "at_max_wait": "overflow", "overflow_to": "l3", "wrap_up": 15,
                                   "tiers": [{"level": 1}, {"level": 2}]})
    q = new.queue("l1")
    assert (q.strategy, q.ring_timeout, q.max_wait, q.overflow_to) == (Strategy.RING_ALL, 20.0, 120.0, "l3")
    assert (q.numbers, q.category) == (("100",), "printer")  # the file's own, untouched
    assert q.penalty(L2) == 1
    before, after = changed_settings(cfg.queue("l1"), q)
    assert before == {"strategy": "longest-idle", "tiers": [{"level": 1, "skill": None, "extensions": []}],
                      "ring_timeout": 15.0, "max_wait": None, "overflow_to": None}
    assert after["strategy"] == "ring-all" and after["overflow_to"] == "l3" and "wrap_up" not in after
    assert changed_settings(q, with_changes(new, "l1", {"wrap_up": 15}).queue("l1")) == ({}, {})
    # the document form reads back as the same settings
    assert with_changes(cfg, "l1", queue_document(q)).queue("l1") == q


def test_overrides_go_on_top_of_the_file_and_those_that_no_longer_fit_are_named() -> None:
    overrides: dict[str, dict[str, Any]] = {"l1": {"ring_timeout": 25.0, "overflow_to": "l3"}, "gone": {"wrap_up": 5.0},
                 "l3": {"overflow_to": "l2"}}  # l3 -> l2 -> l1 -> l3: a loop once l1's override is in
    cfg, problems = with_overrides(config(), overrides)
    assert cfg.queue("l1").ring_timeout == 25.0 and cfg.queue("l1").overflow_to == "l3"
    assert cfg.queue("l3").overflow_to is None
    assert len(problems) == 2
    assert "queue 'gone' are ignored: the queue file has no such queue" in problems[0]
    assert "queue 'l3' are ignored" in problems[1] and "makes a loop" in problems[1]


# --- the running ACD -----------------------------------------------------------------------------
def test_waiting_calls_keep_their_place_when_the_strategy_tiers_and_priority_change() -> None:
    acd = acd_with(config(), on_shift=())
    for i, call in enumerate(["a", "b", "c"]):
        acd.enqueue(call, "l1", at(i))
    acd.enqueue("x", "l3", at(10))
    cfg = with_changes(acd.config, "l1", {"strategy": "round-robin", "tiers": [{"level": 2}]})
    acd.reconfigure(with_changes(cfg, "l3", {"priority": 5}), at(20))
    assert [c.call_id for c in acd.waiting("l1")] == ["a", "b", "c"]
    assert [c.call_id for c in acd.waiting()] == ["x", "a", "b", "c"]  # l3 now served first
    assert [acd.position(c) for c in "abc"] == [1, 2, 3]
    assert [c.arrived for c in acd.waiting("l1")] == [at(0), at(1), at(2)]
    # the sorted index stays consistent: removals and new arrivals after the re-ordering
    acd.abandon("b", at(21))
    acd.enqueue("d", "l1", at(22))
    acd.abandon("x", at(23))
    assert [c.call_id for c in acd.waiting()] == ["a", "c", "d"]
    acd.set_on_shift(["2001"], at(24))
    offers = acd.assign(at(24))
    assert [(o.call_id, o.extensions) for o in offers] == [("a", ("2001",))]  # the new tier: level 2


def test_a_ringing_call_finishes_its_ring_under_the_old_timeout() -> None:
    acd = acd_with(config(ring_timeout=15))
    acd.enqueue("a", "l1", T0)
    (offer,) = acd.assign(T0)
    assert offer.ring_timeout == 15.0
    acd.reconfigure(with_changes(acd.config, "l1", {"ring_timeout": 40}), at(1))
    assert acd.agent("1001").state is AgentState.RINGING
    assert acd.call("a").ringing == {"1001"}  # type: ignore[union-attr]
    acd.no_answer("a", "1001", at(15))
    (again,) = acd.assign(at(16))
    assert (again.call_id, again.ring_timeout) == ("a", 40.0)


def test_a_shorter_max_wait_counts_the_time_already_waited() -> None:
    acd = acd_with(config(max_wait=300, overflow_to="l3"), on_shift=())
    acd.enqueue("a", "l1", T0)
    acd.enqueue("b", "l1", at(90))
    assert acd.tick(at(100)) == []
    acd.reconfigure(with_changes(acd.config, "l1", {"max_wait": 60}), at(100))
    assert acd.next_wakeup(at(100)) == at(60)  # already due
    assert acd.tick(at(100)) == [Overflowed("a", "l3")]
    assert acd.tick(at(149)) == []
    assert acd.tick(at(150)) == [Overflowed("b", "l3")]


def test_wrap_up_under_way_keeps_its_length_the_next_one_takes_the_new() -> None:
    acd = acd_with(config(wrap_up=30))
    acd.enqueue("a", "l1", T0)
    acd.assign(T0)
    acd.answered("a", "1001", at(1))
    acd.hung_up("a", at(61))
    acd.reconfigure(with_changes(acd.config, "l1", {"wrap_up": 5}), at(62))
    assert acd.agent("1001").wrap_until == at(91)
    acd.tick(at(91))
    acd.enqueue("b", "l1", at(100))
    acd.assign(at(100))
    acd.answered("b", "1001", at(101))
    acd.hung_up("b", at(110))
    assert acd.agent("1001").wrap_until == at(115)


def test_closing_turns_new_callers_away_and_keeps_those_waiting() -> None:
    acd = acd_with(config(overflow_to="l3"), on_shift=())
    acd.enqueue("a", "l1", T0)
    acd.reconfigure(with_changes(acd.config, "l1", {"closed": True}), at(1))
    assert acd.is_closed("l1")
    assert acd.enqueue("b", "l1", at(2)) == Entered("l3", 1)
    assert [c.call_id for c in acd.waiting("l1")] == ["a"]
    acd.reconfigure(with_changes(acd.config, "l1", {"closed": False}), at(3))
    assert acd.enqueue("c", "l1", at(4)) == Entered("l1", 2)


def test_set_closed_and_the_configuration_agree() -> None:
    acd = acd_with(config())
    acd.set_closed("l1", True)
    assert acd.config.queue("l1").closed is True
    acd.reconfigure(with_changes(acd.config, "l1", {"wrap_up": 3}), at(1))
    assert acd.is_closed("l1")  # a later change of another setting does not reopen it


def test_a_new_announcement_period_reschedules_the_calls_waiting() -> None:
    acd = acd_with(config(announce_every=300), on_shift=())
    acd.enqueue("a", "l1", T0)
    acd.reconfigure(with_changes(acd.config, "l1", {"announce_every": 30}), at(10))
    assert acd.call("a").next_announce == at(40)  # type: ignore[union-attr]
    assert [type(d).__name__ for d in acd.tick(at(40))] == ["Announce"]
    acd.reconfigure(with_changes(acd.config, "l1", {"announce_every": None}), at(50))
    assert acd.call("a").next_announce is None  # type: ignore[union-attr]
    assert acd.tick(at(1000)) == []


def test_a_live_change_cannot_add_or_remove_queues() -> None:
    acd = acd_with(config())
    with pytest.raises(RoutingError, match="same queues"):
        acd.reconfigure(parse_config({"queues": {"l1": {}}}), T0)


# --- the call flow's command ---------------------------------------------------------------------
class FakeStore:
    def __init__(self, fail: bool = False) -> None:
        self.changes: list[QueueChange] = []
        self.fail = fail

    def record_queue_change(self, change: QueueChange) -> QueueChange:
        if self.fail:
            raise OSError("the database is down")
        self.changes.append(change)
        return dataclasses.replace(change, id=len(self.changes))

    def reset_queue_settings(self, change: QueueChange) -> QueueChange:
        return self.record_queue_change(change)


def flow(store: FakeStore, ring_timeout: float = 15.0) -> Distributor:
    cfg = parse_config({"queues": {"general": {"numbers": ["100"], "ring_timeout": ring_timeout,
                                               "announce_every": None},
                                   "other": {}}})
    return Distributor(config=cfg, recorder=Recorder(), transcriber=FakeTranscriber(),
                       clock=lambda: datetime.now(UTC), settings=FlowSettings(hold_audio=hold_music),
                       queue_store=store)


def test_an_edit_is_kept_audited_and_applied_and_a_refused_one_touches_nothing() -> None:
    store = FakeStore()
    distributor = flow(store)
    change = distributor.edit_queue("general", {"ring_timeout": 20, "wrap_up": 0}, "sue")
    assert change is not None and change.id == 1
    assert (change.by, dict(change.before), dict(change.after)) == ("sue", {"ring_timeout": 15.0},
                                                                   {"ring_timeout": 20.0})
    assert distributor.acd.config.queue("general").ring_timeout == 20.0
    assert distributor.edit_queue("general", {"ring_timeout": 20}, "sue") is None  # nothing new: no audit
    with pytest.raises(ConfigError, match="overflow to itself"):
        distributor.edit_queue("general", {"overflow_to": "general", "wrap_up": 9}, "sue")
    assert len(store.changes) == 1 and distributor.acd.config.queue("general").wrap_up == 0.0


def test_a_reset_takes_the_queue_back_to_the_file_and_says_so_in_the_audit() -> None:
    store = FakeStore()
    distributor = flow(store)
    distributor.edit_queue("general", {"ring_timeout": 20, "closed": True}, "sue")
    reset = distributor.reset_queue("general", "bob")
    assert (reset.action, dict(reset.before), dict(reset.after)) == (
        "reset", {"ring_timeout": 20.0, "closed": True}, {"ring_timeout": 15.0, "closed": False})
    assert distributor.acd.config.queue("general").ring_timeout == 15.0
    assert not distributor.acd.is_closed("general")
    assert [c.action for c in store.changes] == ["change", "reset"]


def test_a_change_the_store_cannot_keep_is_not_applied() -> None:
    distributor = flow(FakeStore(fail=True))
    with pytest.raises(OSError):
        distributor.edit_queue("general", {"wrap_up": 9}, "sue")
    assert distributor.acd.config.queue("general").wrap_up == 0.0


def test_the_ring_under_way_rings_out_its_old_timeout_then_the_new_one_applies() -> None:
    distributor = flow(FakeStore(), ring_timeout=0.3)
    dialer = FakeDialer({"1001": "silent", "1002": "silent"})
    distributor.update_rota([AgentProfile("1001"), AgentProfile("1002")], ["1001", "1002"])
    caller = FakeLeg("c1", "5550101")
    thread = run_call(distributor, caller, dialer)
    try:
        assert dialer.dialled.get(timeout=TIMEOUT) == "1001"
        rung = time.monotonic()
        distributor.edit_queue("general", {"ring_timeout": 60}, "sue")
        assert dialer.dialled.get(timeout=TIMEOUT) == "1002"  # 1001 rang out the old 0.3 s, not 60 s
        assert time.monotonic() - rung < TIMEOUT
        assert distributor.acd.agent("1002").state is AgentState.RINGING
        assert not dialer.legs["1002"][0].ended.wait(1.0)  # and 1002 rings under the new 60 s
    finally:
        caller.far_end_hangs_up()
        thread.join(TIMEOUT)
        distributor.stop()
