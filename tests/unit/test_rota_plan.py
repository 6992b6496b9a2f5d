"""The rota plan: templates, weekly / rotating / on-call patterns, holidays, swaps, absences, breaks, and
the routable set with its end-of-shift grace. Time is explicit; Europe/Paris DST nights included."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shifts.plan import (
    BreakRule,
    Holiday,
    OnCallRotation,
    RotaPlan,
    RotatingPattern,
    ShiftTemplate,
    Swap,
    WeeklyPattern,
    copy_week,
    day_windows,
    expand,
)
from shifts.rota import Absence, Agent, BecameRoutable, Boundary, Break, Rota, RotaError, Shift, StoppedRoutable

PARIS = ZoneInfo("Europe/Paris")
EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
EARLY = ShiftTemplate("early", "06:00", "14:00", breaks=(BreakRule(timedelta(hours=4), timedelta(minutes=30)),))
LATE = ShiftTemplate("late", "14:00", "22:00")
NIGHT = ShiftTemplate("night", "22:00", "06:00")
ALICE, BOB, CAROL = Agent("1001", "Alice"), Agent("1002", "Bob", 2), Agent("1003", "Carol", 2, skills=("network",))
FIVE_MIN = timedelta(minutes=5)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def paris(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


def every_day(agent: str, template: ShiftTemplate, **kwargs: object) -> WeeklyPattern:
    return WeeklyPattern(agent=agent, days=EVERY_DAY, template=template, timezone="Europe/Paris", **kwargs)  # type: ignore[arg-type]


# --- templates and DST -------------------------------------------------------------------------------


def test_templates_know_their_nominal_length_and_refuse_bad_breaks() -> None:
    assert (EARLY.nominal_length, NIGHT.nominal_length, NIGHT.crosses_midnight) == (
        timedelta(hours=8), timedelta(hours=8), True)
    with pytest.raises(RotaError, match=r"Template early: the break 8 h after the start does not end before"):
        ShiftTemplate("early", "06:00", "14:00", breaks=(BreakRule(timedelta(hours=8), timedelta(minutes=5)),))
    with pytest.raises(RotaError, match="Template x: breaks overlap at 1 h 10 min after the start"):
        ShiftTemplate("x", "06:00", "14:00", breaks=(BreakRule(timedelta(hours=1), timedelta(minutes=30)),
                                                     BreakRule(timedelta(minutes=70), timedelta(minutes=5))))
    with pytest.raises(RotaError, match="Template name '' is not valid"):
        ShiftTemplate("", "06:00", "14:00")


@pytest.mark.parametrize(("day", "length"), [
    (date(2027, 3, 27), timedelta(hours=7)),  # Sat night: 02:00 CET -> 03:00 CEST
    (date(2026, 10, 24), timedelta(hours=9)),  # Sat night: 03:00 CEST -> 02:00 CET
    (date(2026, 10, 23), timedelta(hours=8)),
    (date(2026, 10, 25), timedelta(hours=8)),
])
def test_a_paris_night_has_its_real_length(day: date, length: timedelta) -> None:
    [night] = expand(every_day("1001", NIGHT), day, 1)
    assert night.length == length
    assert night.start.astimezone(PARIS).hour == 22 and night.end.astimezone(PARIS).hour == 6


def test_three_templates_cover_the_dst_weeks_without_gap_or_overlap() -> None:
    plan = RotaPlan((ALICE, BOB, CAROL), (every_day("1001", EARLY), every_day("1002", LATE),
                                          every_day("1003", NIGHT)))
    for first, last in ((paris(2027, 3, 22), paris(2027, 4, 5)), (paris(2026, 10, 19), paris(2026, 11, 2))):
        rota = plan.expand(first, last)
        spans = sorted((s.start, s.end) for s in rota.shifts)
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert end == start  # every instant covered exactly once


# --- patterns ----------------------------------------------------------------------------------------


def test_a_rotating_3x8_cycle_follows_its_anchor() -> None:
    cycle = (EARLY, EARLY, LATE, LATE, NIGHT, NIGHT, None, None)
    pattern = RotatingPattern(agent="1001", cycle=cycle, anchor=date(2026, 5, 4), timezone="UTC")
    shifts = expand(pattern, date(2026, 5, 2), 10)  # two days before the anchor: days 6 and 7 (off)
    assert [(s.start.date().isoformat(), s.note) for s in shifts] == [
        ("2026-05-04", "early"), ("2026-05-05", "early"), ("2026-05-06", "late"), ("2026-05-07", "late"),
        ("2026-05-08", "night"), ("2026-05-09", "night")]


def test_an_on_call_rotation_takes_weekly_turns_and_needs_the_level() -> None:
    day_and_night = ShiftTemplate("on-call", "08:00", "08:00")
    rotation = OnCallRotation(agents=("1002", "1003"), template=day_and_night, anchor=date(2026, 5, 4),
                              timezone="Europe/Paris")
    rota = RotaPlan((ALICE, BOB, CAROL), (rotation,)).expand(paris(2026, 5, 4, 8), paris(2026, 5, 18, 8))
    owners = {(s.start.astimezone(PARIS).date(), s.extension, s.kind) for s in rota.shifts}
    assert (date(2026, 5, 4), "1002", "on_call") in owners
    assert (date(2026, 5, 10), "1002", "on_call") in owners
    assert (date(2026, 5, 11), "1003", "on_call") in owners
    assert rota.routable(paris(2026, 5, 12, 3)) == {"1003"}
    with pytest.raises(RotaError, match="On-call rotation needs level 2 or more, but agent 1001 has level 1"):
        RotaPlan((ALICE, BOB), (OnCallRotation(agents=("1001", "1002"), template=day_and_night),))


def test_validity_dates_bound_a_pattern() -> None:
    pattern = every_day("1001", LATE, valid_from=date(2026, 5, 5), valid_until=date(2026, 5, 6))
    assert [s.start.date() for s in expand(pattern, date(2026, 5, 1), 10)] == [date(2026, 5, 5), date(2026, 5, 6)]
    with pytest.raises(RotaError, match="valid until 2026-05-01, before it starts on 2026-05-05"):
        every_day("1001", LATE, valid_from=date(2026, 5, 5), valid_until=date(2026, 5, 1))


def test_patterns_of_unknown_agents_are_refused() -> None:
    with pytest.raises(RotaError, match="Weekly pattern of 1009 names agent 1009, who is not in the rota"):
        RotaPlan((ALICE,), (every_day("1009", LATE),))


def test_public_holidays_remove_the_shifts_of_patterns_that_skip_them() -> None:
    holidays = (Holiday(date(2026, 12, 25), "Christmas"),)
    plan = RotaPlan((ALICE, BOB), (every_day("1001", LATE, skip_holidays=True), every_day("1002", NIGHT)),
                    holidays=holidays)
    rota = plan.expand(paris(2026, 12, 24), paris(2026, 12, 27))
    assert sorted(s.start.astimezone(PARIS).day for s in rota.shifts if s.extension == "1001") == [24, 26]
    assert sorted(s.start.astimezone(PARIS).day for s in rota.shifts if s.extension == "1002") == [23, 24, 25, 26]


def test_a_swap_hands_one_shift_to_another_agent() -> None:
    plan = RotaPlan((ALICE, BOB), (every_day("1001", LATE),),
                    swaps=(Swap("1001", paris(2026, 5, 5, 14), "1002", note="dentist"),
                           Swap("1001", paris(2026, 5, 30, 14), "1002")))
    rota = plan.expand(paris(2026, 5, 4), paris(2026, 5, 7))
    owners = [(s.start.astimezone(PARIS).day, s.extension, s.note) for s in rota.shifts]
    assert owners == [(4, "1001", "late"), (5, "1002", "swapped from 1001: dentist"), (6, "1001", "late")]
    assert rota.issues == ()  # the swap of the 30th is outside the period
    far = plan.expand(paris(2026, 5, 29), paris(2026, 5, 31))
    assert far.issues == ()
    with pytest.raises(RotaError, match="hands it to the same agent"):
        Swap("1001", paris(2026, 5, 5, 14), "1001")
    stray = RotaPlan((ALICE, BOB), (every_day("1001", LATE),), swaps=(Swap("1001", paris(2026, 5, 5, 15), "1002"),))
    assert stray.expand(paris(2026, 5, 4), paris(2026, 5, 7)).issues == (
        "Swap of the shift of 1001 starting 2026-05-05T13:00:00+00:00 matches no shift.",)


def test_copy_week_keeps_local_wall_clock_times_across_dst() -> None:
    shift = Shift.local("1001", datetime(2027, 3, 22, 8), datetime(2027, 3, 22, 16), "Europe/Paris")
    plan = RotaPlan((ALICE,), shifts=(shift,))
    copied = copy_week(plan, date(2027, 3, 22), date(2027, 3, 29), Rota([ALICE], []))
    assert [(s.start, s.end) for s in copied.shifts] == [(paris(2027, 3, 29, 8), paris(2027, 3, 29, 16))]
    assert copied.shifts[0].start == utc(2027, 3, 29, 6)  # CEST now, one hour earlier in UTC than the week before
    with pytest.raises(RotaError, match="The target week must be given by its Monday; 2027-03-30 is a tue"):
        copy_week(plan, date(2027, 3, 22), date(2027, 3, 30), Rota([ALICE], []))


def test_copy_week_copies_the_hand_made_schedule_not_what_recurs() -> None:
    bob_early = every_day("1002", EARLY)  # template break 10:00-10:30 comes with it each day
    alice_tuesday = Shift.local("1001", datetime(2026, 10, 20, 9), datetime(2026, 10, 20, 17), "Europe/Paris",
                                note="training day")
    sunday_night = Shift.local("1001", datetime(2026, 10, 25, 22), datetime(2026, 10, 26, 6), "Europe/Paris")
    night_before = Shift.local("1001", datetime(2026, 10, 18, 22), datetime(2026, 10, 19, 6), "Europe/Paris")
    plan = RotaPlan(
        (ALICE, BOB, CAROL), (bob_early,), shifts=(night_before, alice_tuesday, sunday_night),
        absences=(Absence("1002", paris(2026, 10, 21), paris(2026, 10, 22), "sickness"),),
        swaps=(Swap("1002", paris(2026, 10, 22, 6), "1003"),),
        breaks=(Break("1001", paris(2026, 10, 20, 12), paris(2026, 10, 20, 13), id=1),  # in Alice's shift
                Break("1002", paris(2026, 10, 23, 8), paris(2026, 10, 23, 8, 15), id=2),  # in Bob's pattern shift
                Break("1001", paris(2026, 10, 26, 2), paris(2026, 10, 26, 2, 20), id=3),  # in Sunday's night
                Break("1003", paris(2026, 10, 20, 12), paris(2026, 10, 20, 12, 5), id=4)))  # Carol is off
    target_week = (paris(2026, 10, 25), paris(2026, 11, 4))
    copied = copy_week(plan, date(2026, 10, 19), date(2026, 10, 26), plan.expand(*target_week))

    # One-off shifts starting in the week (local dates), not the night begun the Sunday before, not Bob's.
    assert [(s.extension, s.start, s.end, s.note) for s in copied.shifts] == [
        ("1001", paris(2026, 10, 27, 9), paris(2026, 10, 27, 17), "training day"),
        ("1001", paris(2026, 11, 1, 22), paris(2026, 11, 2, 6), "")]
    # Breaks follow their shift, also a break added to a pattern's shift and one after midnight of Sunday.
    assert [(b.extension, b.start, b.end) for b in copied.breaks] == [
        ("1001", paris(2026, 10, 27, 12), paris(2026, 10, 27, 13)),
        ("1002", paris(2026, 10, 30, 8), paris(2026, 10, 30, 8, 15)),
        ("1001", paris(2026, 11, 2, 2), paris(2026, 11, 2, 2, 20))]
    assert copied.skipped == ()  # Carol's break lies in no shift of hers: not part of the week

    # Copying again adds nothing, and says so.
    after = RotaPlan(plan.agents, plan.patterns, plan.shifts + copied.shifts, breaks=plan.breaks + copied.breaks)
    again = copy_week(after, date(2026, 10, 19), date(2026, 10, 26), after.expand(*target_week))
    assert (again.shifts, again.breaks) == ((), ())
    assert len(again.skipped) == 5 and again.skipped[0] == (
        "Shift of 1001 Tue 2026-10-27 09:00 to Tue 2026-10-27 17:00 Europe/Paris (2026-10-27 08:00 UTC) "
        "is in the target week already.")


def test_copy_week_skips_a_break_with_no_shift_around_it_in_the_target_week() -> None:
    until_sunday = every_day("1002", EARLY, valid_until=date(2026, 10, 25))
    plan = RotaPlan((BOB,), (until_sunday,), breaks=(Break("1002", paris(2026, 10, 23, 8), paris(2026, 10, 23, 9)),))
    copied = copy_week(plan, date(2026, 10, 19), date(2026, 10, 26),
                       plan.expand(paris(2026, 10, 25), paris(2026, 11, 4)))
    assert copied.breaks == ()
    assert copied.skipped == ("Break of 1002 Fri 2026-10-30 08:00 to 09:00 Europe/Paris: the agent has no shift "
                              "around it in the target week.",)


# --- routable set ------------------------------------------------------------------------------------


def test_routable_excludes_the_grace_before_the_end_but_on_shift_does_not() -> None:
    rota = Rota([ALICE], [Shift("1001", utc(2026, 5, 4, 8), utc(2026, 5, 4, 16), "UTC")])
    assert rota.routable(utc(2026, 5, 4, 15, 54), FIVE_MIN) == {"1001"}
    assert rota.routable(utc(2026, 5, 4, 15, 55), FIVE_MIN) == frozenset()
    assert rota.on_shift(utc(2026, 5, 4, 15, 55)) == {"1001"}
    assert rota.routable(utc(2026, 5, 4, 15, 55)) == {"1001"}  # no grace


def test_touching_shifts_are_one_span_and_have_no_grace_in_between() -> None:
    rota = Rota([ALICE], [Shift("1001", utc(2026, 5, 4, 0), utc(2026, 5, 4, 12), "UTC"),
                          Shift("1001", utc(2026, 5, 4, 12), utc(2026, 5, 5, 0), "UTC")])
    assert rota.routable(utc(2026, 5, 4, 11, 58), FIVE_MIN) == {"1001"}
    assert rota.change_instants(utc(2026, 5, 3), utc(2026, 5, 6), FIVE_MIN) == [utc(2026, 5, 4),
                                                                               utc(2026, 5, 4, 23, 55)]


def test_absences_and_breaks_make_an_agent_unroutable_at_once() -> None:
    rota = Rota([ALICE, BOB], [Shift("1001", utc(2026, 5, 4, 8), utc(2026, 5, 4, 16), "UTC"),
                               Shift("1002", utc(2026, 5, 4, 8), utc(2026, 5, 4, 16), "UTC")],
                absences=[Absence("1001", utc(2026, 5, 4, 12), utc(2026, 5, 5), "sickness")],
                breaks=[Break("1002", utc(2026, 5, 4, 10), utc(2026, 5, 4, 10, 30))])
    assert rota.routable(utc(2026, 5, 4, 11), FIVE_MIN) == {"1001", "1002"}
    assert rota.routable(utc(2026, 5, 4, 11, 56), FIVE_MIN) == {"1002"}  # sick from noon: grace before it
    assert rota.routable(utc(2026, 5, 4, 10, 15), FIVE_MIN) == {"1001"}  # Bob on a break
    assert rota.on_shift(utc(2026, 5, 4, 13)) == {"1001", "1002"} and rota.absent(utc(2026, 5, 4, 13)) == {"1001"}
    assert rota.next_boundaries(utc(2026, 5, 4), utc(2026, 5, 5), FIVE_MIN) == [
        Boundary(utc(2026, 5, 4, 8), started=frozenset({"1001", "1002"})),
        Boundary(utc(2026, 5, 4, 9, 55), ended=frozenset({"1002"})),
        Boundary(utc(2026, 5, 4, 10, 30), started=frozenset({"1002"})),
        Boundary(utc(2026, 5, 4, 11, 55), ended=frozenset({"1001"})),
        Boundary(utc(2026, 5, 4, 15, 55), ended=frozenset({"1002"})),
    ]


def test_template_breaks_follow_the_shift() -> None:
    rota = RotaPlan((ALICE,), (every_day("1001", EARLY),)).expand(paris(2026, 5, 4), paris(2026, 5, 5))
    assert [(b.start, b.end) for b in rota.breaks] == [(paris(2026, 5, 4, 10), paris(2026, 5, 4, 10, 30))]
    assert rota.routable(paris(2026, 5, 4, 10, 10)) == frozenset()


def test_boundary_events_are_past_tense_ends_first() -> None:
    boundary = Boundary(utc(2026, 5, 4, 12), started=frozenset({"1003", "1002"}), ended=frozenset({"1001"}))
    assert boundary.events() == (StoppedRoutable("1001", utc(2026, 5, 4, 12)),
                                 BecameRoutable("1002", utc(2026, 5, 4, 12)),
                                 BecameRoutable("1003", utc(2026, 5, 4, 12)))


def test_a_negative_grace_is_refused() -> None:
    with pytest.raises(RotaError, match="grace must not be negative"):
        Rota([ALICE], []).routable(utc(2026, 5, 4), -FIVE_MIN)


# --- properties of the expansion ---------------------------------------------------------------------

DAY_STARTS = st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31))
ZONES = st.sampled_from(["Europe/Paris", "America/New_York", "Australia/Lord_Howe", "UTC", "Asia/Kolkata"])
CLOCKS = st.sampled_from(["00:00", "01:30", "02:00", "02:30", "06:00", "14:00", "22:00", "23:59"])
DAY_SETS = st.lists(st.sampled_from(EVERY_DAY), min_size=1, max_size=7, unique=True)


@settings(max_examples=150, deadline=None)
@given(first=DAY_STARTS, days=st.integers(1, 60), split=st.integers(0, 60), tz=ZONES, start=CLOCKS, end=CLOCKS,
       weekdays=DAY_SETS)
def test_expanding_in_two_parts_loses_and_doubles_nothing(first: date, days: int, split: int, tz: str, start: str,
                                                         end: str, weekdays: list[str]) -> None:
    pattern = WeeklyPattern(agent="1001", days=weekdays, template=ShiftTemplate("t", start, end), timezone=tz)
    split = min(split, days)
    whole = expand(pattern, first, days)
    parts = expand(pattern, first, split) + expand(pattern, first + timedelta(days=split), days - split)
    assert [(s.start, s.end) for s in whole] == [(s.start, s.end) for s in parts]
    chosen = {EVERY_DAY.index(d) for d in weekdays}
    template, zone = ShiftTemplate("t", start, end), ZoneInfo(tz)
    exist = [first + timedelta(days=i) for i in range(days) if (first + timedelta(days=i)).weekday() in chosen]
    exist = [day for day in exist if template.span(day, zone)[1] > template.span(day, zone)[0]]  # not all skipped
    assert [s.start for s in whole] == [template.span(day, zone)[0] for day in exist]


@settings(max_examples=150, deadline=None)
@given(first=DAY_STARTS, days=st.integers(1, 40), tz=ZONES, start=CLOCKS, end=CLOCKS)
def test_expanded_shifts_keep_their_wall_clock_and_real_length(first: date, days: int, tz: str, start: str,
                                                              end: str) -> None:
    template = ShiftTemplate("t", start, end)
    zone = ZoneInfo(tz)
    for shift in expand(WeeklyPattern(agent="1001", days=EVERY_DAY, template=template, timezone=tz), first, days):
        local_start, local_end = shift.start.astimezone(zone), shift.end.astimezone(zone)
        assert shift.length > timedelta(0)
        if (local_start.strftime("%H:%M"), local_end.strftime("%H:%M")) != (start, end):
            continue  # a wall-clock time the clocks skipped: moved past the gap
        # The real length differs from the nominal one by the clock change in between, if any.
        change = local_start.utcoffset() - local_end.utcoffset()  # type: ignore[operator]
        assert shift.length == template.nominal_length + change


@settings(max_examples=100, deadline=None)
@given(first=DAY_STARTS, weeks=st.integers(1, 6), tz=ZONES)
def test_an_early_late_night_week_covers_every_instant_exactly_once(first: date, weeks: int, tz: str) -> None:
    patterns = [WeeklyPattern(agent=a, days=EVERY_DAY, template=t, timezone=tz)
                for a, t in (("1001", EARLY), ("1002", LATE), ("1003", NIGHT))]
    shifts = sorted((s for p in patterns for s in expand(p, first, weeks * 7)), key=lambda s: s.start)
    assert all(a.end == b.start for a, b in itertools.pairwise(shifts))
    assert sum((s.length for s in shifts), timedelta(0)) == shifts[-1].end - shifts[0].start


@settings(max_examples=100, deadline=None)
@given(offset=st.integers(0, 7), first=DAY_STARTS, days=st.integers(1, 30))
def test_a_rotating_cycle_is_periodic(offset: int, first: date, days: int) -> None:
    cycle = (EARLY, EARLY, LATE, LATE, NIGHT, NIGHT, None, None)
    anchor = first + timedelta(days=offset)
    pattern = RotatingPattern(agent="1001", cycle=cycle, anchor=anchor, timezone="UTC")
    later = RotatingPattern(agent="1001", cycle=cycle, anchor=anchor + timedelta(days=8), timezone="UTC")
    assert [(s.start, s.note) for s in expand(pattern, first, days)] == \
        [(s.start, s.note) for s in expand(later, first, days)]


MINUTE = timedelta(minutes=1)
BASE = datetime(2026, 3, 28, tzinfo=UTC)
SPANS = st.tuples(st.integers(0, 48 * 60), st.integers(1, 16 * 60))


@settings(max_examples=200, deadline=None)
@given(shifts=st.lists(st.tuples(st.sampled_from(["1001", "1002"]), SPANS), max_size=6),
       gone=st.lists(st.tuples(st.sampled_from(["1001", "1002"]), SPANS, st.booleans()), max_size=4),
       grace=st.integers(0, 30), probes=st.lists(st.integers(0, 72 * 60), min_size=1, max_size=20))
def test_the_routable_set_changes_only_at_the_scheduled_instants(
        shifts: list[tuple[str, tuple[int, int]]], gone: list[tuple[str, tuple[int, int], bool]], grace: int,
        probes: list[int]) -> None:
    def span(start: int, length: int) -> tuple[datetime, datetime]:
        return BASE + start * MINUTE, BASE + (start + length) * MINUTE

    rota = Rota([Agent("1001", "A"), Agent("1002", "B")],
                [Shift(ext, *span(*s), "UTC") for ext, s in shifts],
                absences=[Absence(ext, *span(*s), "leave") for ext, s, is_break in gone if not is_break],
                breaks=[Break(ext, *span(*s)) for ext, s, is_break in gone if is_break])
    g = grace * MINUTE
    instants = rota.change_instants(BASE - timedelta(days=1), BASE + timedelta(days=4), g)
    for probe in probes:
        t = BASE + probe * MINUTE
        # Constant between scheduled instants: the set at t is the set just after the last instant <= t.
        last = max((i for i in instants if i <= t), default=BASE - timedelta(days=1))
        assert rota.routable(t, g) == rota.routable(last, g)
        # And it agrees with the definition: available from now until the grace has passed (every edge is on
        # a whole minute, so checking each minute is exact).
        expected = {ext for ext in ("1001", "1002")
                    if all(ext in rota.available(t + k * MINUTE) for k in range(grace + 1))}
        assert rota.routable(t, g) == expected
    for boundary in rota.next_boundaries(BASE - timedelta(days=1), BASE + timedelta(days=4), g):
        before = rota.routable(boundary.at - timedelta(microseconds=1), g)
        after = rota.routable(boundary.at, g)
        assert (boundary.started, boundary.ended) == (after - before, before - after)


def test_the_shift_windows_of_a_day_include_the_night_begun_the_evening_before() -> None:
    paris = ZoneInfo("Europe/Paris")
    templates = [ShiftTemplate("early", "06:00", "14:00"), ShiftTemplate("late", "14:00", "22:00"),
                 ShiftTemplate("night", "22:00", "06:00"), ShiftTemplate("standby", "08:00", "20:00", kind="on_call")]
    windows = day_windows(templates, date(2026, 3, 29), paris)  # the clocks go forward at 02:00
    assert [(w.name, w.start.astimezone(paris).strftime("%d %H:%M"), w.end - w.start) for w in windows] == [
        ("night", "28 22:00", timedelta(hours=7)), ("early", "29 06:00", timedelta(hours=8)),
        ("late", "29 14:00", timedelta(hours=8)), ("night", "29 22:00", timedelta(hours=8))]
    assert day_windows([ShiftTemplate("day", "08:00", "16:00")], date(2026, 3, 29), paris)[0].start == datetime(
        2026, 3, 29, 6, 0, tzinfo=UTC)
    assert day_windows([], date(2026, 3, 29), paris) == []
