"""The rota domain: who is on shift, boundaries, validation, weekly patterns across DST. Time is explicit."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from shifts.plan import expand, weekly
from shifts.rota import (
    Agent,
    BecameRoutable,
    Boundary,
    Rota,
    RotaError,
    Shift,
    StoppedRoutable,
    localize,
)
from shifts.rules import Rules, Severity, check

PARIS = ZoneInfo("Europe/Paris")
ALICE, BOB = Agent("1001", "Alice"), Agent("1002", "Bob", level=2)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
        microsecond: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=UTC)


def shift(extension: str, start: datetime, end: datetime, timezone: str = "UTC") -> Shift:
    return Shift(extension, start, end, timezone)


# --- on_shift ----------------------------------------------------------------------------------------


def test_on_shift_includes_the_start_and_excludes_the_end() -> None:
    rota = Rota([ALICE], [shift("1001", utc(2026, 5, 4, 8), utc(2026, 5, 4, 16))])

    assert rota.on_shift(utc(2026, 5, 4, 7, 59, 59)) == frozenset()
    assert rota.on_shift(utc(2026, 5, 4, 8)) == {"1001"}
    assert rota.on_shift(utc(2026, 5, 4, 15, 59, 59, 999999)) == {"1001"}
    assert rota.on_shift(utc(2026, 5, 4, 16)) == frozenset()


def test_on_shift_compares_instants_not_wall_clocks() -> None:
    rota = Rota([ALICE], [Shift.local("1001", datetime(2026, 5, 4, 8), datetime(2026, 5, 4, 16), "Europe/Paris")])

    assert rota.on_shift(utc(2026, 5, 4, 6)) == {"1001"}  # 08:00 in Paris (CEST) is 06:00 UTC
    assert rota.on_shift(datetime(2026, 5, 4, 7, 30, tzinfo=PARIS)) == frozenset()
    assert rota.on_shift(utc(2026, 5, 4, 14)) == frozenset()  # 16:00 CEST


def test_on_shift_lists_every_agent_on_shift() -> None:
    rota = Rota([ALICE, BOB], [shift("1001", utc(2026, 5, 4, 8), utc(2026, 5, 4, 16)),
                               shift("1002", utc(2026, 5, 4, 12), utc(2026, 5, 4, 20))])

    assert rota.on_shift(utc(2026, 5, 4, 13)) == {"1001", "1002"}
    assert rota.on_shift(utc(2026, 5, 4, 17)) == {"1002"}


def test_a_night_shift_crossing_midnight_covers_both_days() -> None:
    rota = Rota([ALICE], [shift("1001", utc(2026, 5, 4, 22), utc(2026, 5, 5, 6))])

    assert rota.on_shift(utc(2026, 5, 4, 23, 59)) == {"1001"}
    assert rota.on_shift(utc(2026, 5, 5, 0, 0)) == {"1001"}
    assert rota.on_shift(utc(2026, 5, 5, 5, 59)) == {"1001"}
    assert rota.on_shift(utc(2026, 5, 5, 6)) == frozenset()


def test_on_shift_refuses_a_naive_instant() -> None:
    rota = Rota([ALICE], [])
    with pytest.raises(RotaError, match="naive datetime"):
        rota.on_shift(datetime(2026, 5, 4, 8))


# --- boundaries --------------------------------------------------------------------------------------


def test_next_boundaries_are_sorted_and_say_who_starts_and_ends() -> None:
    rota = Rota([ALICE, BOB], [shift("1002", utc(2026, 5, 4, 12), utc(2026, 5, 4, 20)),
                               shift("1001", utc(2026, 5, 4, 8), utc(2026, 5, 4, 12))])

    assert rota.next_boundaries(utc(2026, 5, 4, 0), utc(2026, 5, 5, 0)) == [
        Boundary(utc(2026, 5, 4, 8), started=frozenset({"1001"})),
        Boundary(utc(2026, 5, 4, 12), started=frozenset({"1002"}), ended=frozenset({"1001"})),
        Boundary(utc(2026, 5, 4, 20), ended=frozenset({"1002"})),
    ]


def test_next_boundaries_window_excludes_after_and_includes_until() -> None:
    rota = Rota([ALICE], [shift("1001", utc(2026, 5, 4, 8), utc(2026, 5, 4, 16))])

    assert [b.at for b in rota.next_boundaries(utc(2026, 5, 4, 8), utc(2026, 5, 4, 16))] == [utc(2026, 5, 4, 16)]
    assert rota.next_boundaries(utc(2026, 5, 4, 8), utc(2026, 5, 4, 15)) == []


def test_touching_shifts_of_one_agent_are_no_boundary() -> None:
    rota = Rota([ALICE], [shift("1001", utc(2026, 5, 4, 0), utc(2026, 5, 4, 12)),
                          shift("1001", utc(2026, 5, 4, 12), utc(2026, 5, 5, 0))])

    assert rota.on_shift(utc(2026, 5, 4, 12)) == {"1001"}
    assert rota.boundary_at(utc(2026, 5, 4, 12)) is None
    assert [b.at for b in rota.next_boundaries(utc(2026, 5, 3), utc(2026, 5, 6))] == [
        utc(2026, 5, 4, 0), utc(2026, 5, 5, 0)]


def test_boundary_events_are_past_tense_ends_first() -> None:
    boundary = Boundary(utc(2026, 5, 4, 12), started=frozenset({"1003", "1002"}), ended=frozenset({"1001"}))

    assert boundary.events() == (StoppedRoutable("1001", utc(2026, 5, 4, 12)),
                                 BecameRoutable("1002", utc(2026, 5, 4, 12)),
                                 BecameRoutable("1003", utc(2026, 5, 4, 12)))
    with pytest.raises(AttributeError):
        boundary.events()[0].extension = "9"  # type: ignore[misc]  # frozen


# --- validation --------------------------------------------------------------------------------------


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(RotaError, match=r"Shift of 1001 starts at 2026-05-04T08:00:00 is a naive datetime"):
        Shift("1001", datetime(2026, 5, 4, 8), utc(2026, 5, 4, 16), "UTC")


def test_a_naive_end_is_refused() -> None:
    with pytest.raises(RotaError, match=r"Shift of 1001 ends at 2026-05-04T16:00:00 is a naive datetime"):
        Shift("1001", utc(2026, 5, 4, 8), datetime(2026, 5, 4, 16), "UTC")


@pytest.mark.parametrize("end", [utc(2026, 5, 4, 8), utc(2026, 5, 4, 7)])
def test_an_end_not_after_the_start_is_refused(end: datetime) -> None:
    with pytest.raises(RotaError, match=r"Shift of 1001 ends at .* which is not after its start at "
                                        r"2026-05-04T08:00:00\+00:00"):
        Shift("1001", utc(2026, 5, 4, 8), end, "UTC")


def messages(rota: Rota, rules: Rules | None = None) -> list[str]:
    return [f"{f.severity}: {f.message}" for f in check(rota, rules or Rules())]


def test_a_shift_longer_than_the_maximum_is_an_error() -> None:
    long = shift("1001", utc(2026, 5, 4, 6), utc(2026, 5, 4, 22, 30))
    assert messages(Rota([ALICE], [long])) == [
        "error: Shift of 1001 from Mon 2026-05-04 06:00 to Mon 2026-05-04 22:30 UTC lasts 16 h 30 min, "
        "longer than the maximum of 16 h."]


def test_the_maximum_shift_length_and_its_severity_are_configurable() -> None:
    eight_and_a_bit = Rota([ALICE], [shift("1001", utc(2026, 5, 4, 8), utc(2026, 5, 4, 16, 1))])
    assert messages(Rota([ALICE], [shift("1001", utc(2026, 5, 4, 6), utc(2026, 5, 4, 22))])) == []  # 16 h is fine
    assert messages(eight_and_a_bit, Rules(max_shift=timedelta(hours=8), too_long=Severity.WARNING)) == [
        "warning: Shift of 1001 from Mon 2026-05-04 08:00 to Mon 2026-05-04 16:01 UTC lasts 8 h 01 min, "
        "longer than the maximum of 8 h."]
    assert messages(eight_and_a_bit, Rules(max_shift=timedelta(hours=8), too_long=Severity.OFF)) == []


def test_overlapping_shifts_of_one_agent_are_an_error() -> None:
    first = shift("1001", utc(2026, 5, 4, 8), utc(2026, 5, 4, 16))
    second = shift("1001", utc(2026, 5, 4, 15), utc(2026, 5, 4, 20))
    assert messages(Rota([ALICE], [second, first])) == [
        "error: Shifts of agent 1001 overlap: Mon 2026-05-04 08:00 to Mon 2026-05-04 16:00 UTC and "
        "Mon 2026-05-04 15:00 to Mon 2026-05-04 20:00 UTC."]


def test_a_shift_inside_a_longer_one_overlaps_and_so_does_a_later_one() -> None:
    outer = shift("1001", utc(2026, 5, 4, 6), utc(2026, 5, 4, 20))
    inner = shift("1001", utc(2026, 5, 4, 8), utc(2026, 5, 4, 9))
    later = shift("1001", utc(2026, 5, 4, 10), utc(2026, 5, 4, 11))
    found = check(Rota([ALICE], [outer, inner, later]))
    assert [(f.rule, f.start, f.end) for f in found] == [("overlap", outer.start, inner.end),
                                                         ("overlap", outer.start, later.end)]


def test_too_little_rest_is_a_warning_and_touching_shifts_are_fine() -> None:
    late = shift("1001", utc(2026, 5, 4, 14), utc(2026, 5, 4, 22))
    early = shift("1001", utc(2026, 5, 5, 6), utc(2026, 5, 5, 14))
    touching = shift("1001", utc(2026, 5, 5, 14), utc(2026, 5, 5, 18))
    assert messages(Rota([ALICE], [late, early, touching])) == [
        "warning: Agent 1001 rests only 8 h between the shift Mon 2026-05-04 14:00 to Mon 2026-05-04 22:00 UTC "
        "and the shift Tue 2026-05-05 06:00 to Tue 2026-05-05 14:00 UTC; the minimum is 11 h."]
    assert messages(Rota([ALICE], [late, early]), Rules(min_rest=timedelta(hours=8))) == []
    assert [f.severity for f in check(Rota([ALICE], [late, early]), Rules(short_rest=Severity.ERROR))] == ["error"]


def test_findings_can_be_limited_to_a_period() -> None:
    first = shift("1001", utc(2026, 5, 4, 8), utc(2026, 5, 4, 16))
    second = shift("1001", utc(2026, 5, 4, 15), utc(2026, 5, 4, 20))
    rota = Rota([ALICE], [first, second])
    assert check(rota, start=utc(2026, 5, 4, 20)) == []
    assert len(check(rota, start=utc(2026, 5, 4, 19), end=utc(2026, 5, 5))) == 1


def test_overlapping_shifts_of_different_agents_are_fine() -> None:
    rota = Rota([ALICE, BOB], [shift("1001", utc(2026, 5, 4, 8), utc(2026, 5, 4, 16)),
                               shift("1002", utc(2026, 5, 4, 8), utc(2026, 5, 4, 16))])
    assert check(rota) == []


def test_a_shift_for_an_unknown_agent_is_refused() -> None:
    with pytest.raises(RotaError, match=r"is for agent 1003, who is not in the rota"):
        Rota([ALICE], [shift("1003", utc(2026, 5, 4, 8), utc(2026, 5, 4, 16))])


def test_an_agent_twice_is_refused() -> None:
    with pytest.raises(RotaError, match="Agent 1001 appears twice"):
        Rota([ALICE, Agent("1001", "Alice again")], [])


@pytest.mark.parametrize("extension", ["", "10 01", "1001@example.org", "-1001", "x" * 33, "ünï"])
def test_a_bad_extension_is_refused(extension: str) -> None:
    with pytest.raises(RotaError, match=r"Extension .* is not a valid SIP user"):
        Agent(extension, "Somebody")
    with pytest.raises(RotaError, match=r"is not a valid SIP user"):
        Shift(extension, utc(2026, 5, 4, 8), utc(2026, 5, 4, 16), "UTC")


@pytest.mark.parametrize("extension", ["1", "1001", "alice", "agent.7_b-2", "x" * 32])
def test_good_extensions_are_accepted(extension: str) -> None:
    assert Agent(extension, "Somebody").extension == extension


@pytest.mark.parametrize(("name", "level", "message"), [
    ("", 1, "needs a name"), ("  ", 1, "needs a name"), ("Alice", 0, "has level 0"),
    ("Alice", True, "has level True"), ("Alice", "2", "has level '2'"),
])
def test_bad_agent_names_and_levels_are_refused(name: str, level: int, message: str) -> None:
    with pytest.raises(RotaError, match=message):
        Agent("1001", name, level)


@pytest.mark.parametrize("timezone", ["Europe/Pariss", "", "../../etc/passwd", "CEST+2"])
def test_an_unknown_timezone_is_refused(timezone: str) -> None:
    with pytest.raises(RotaError, match=r"Unknown timezone .*: give an IANA time zone name"):
        Shift("1001", utc(2026, 5, 4, 8), utc(2026, 5, 4, 16), timezone)


def test_rota_error_is_a_value_error() -> None:
    assert issubclass(RotaError, ValueError)


# --- wall-clock times --------------------------------------------------------------------------------


def test_localize_refuses_a_time_skipped_by_spring_forward() -> None:
    with pytest.raises(RotaError, match=r"2027-03-28T02:30:00 does not exist in Europe/Paris"):
        localize(datetime(2027, 3, 28, 2, 30), PARIS)


def test_localize_refuses_a_time_repeated_by_fall_back() -> None:
    with pytest.raises(RotaError, match=r"2026-10-25T02:30:00 happens twice in Europe/Paris"):
        localize(datetime(2026, 10, 25, 2, 30), PARIS)


def test_localize_keeps_aware_times_and_converts_to_utc() -> None:
    assert localize(datetime(2026, 10, 25, 2, 30, tzinfo=UTC), PARIS) == utc(2026, 10, 25, 2, 30)
    assert localize(datetime(2026, 7, 1, 9), PARIS) == utc(2026, 7, 1, 7)


def test_a_local_night_shift_across_fall_back_lasts_nine_hours() -> None:
    night = Shift.local("1001", datetime(2026, 10, 24, 22), datetime(2026, 10, 25, 6), "Europe/Paris")
    assert night.length == timedelta(hours=9)
    assert night.start.tzinfo is UTC


# --- weekly patterns ---------------------------------------------------------------------------------


def test_expand_yields_shifts_on_the_chosen_days_only() -> None:
    pattern = weekly("1001", ["mon", "wed"], "09:00", "17:00", "UTC")
    shifts = expand(pattern, date(2026, 5, 4), 7)  # Monday 4 May 2026

    assert [(s.start, s.end) for s in shifts] == [(utc(2026, 5, 4, 9), utc(2026, 5, 4, 17)),
                                                  (utc(2026, 5, 6, 9), utc(2026, 5, 6, 17))]
    assert all(s.extension == "1001" and s.timezone == "UTC" for s in shifts)


def test_an_end_at_or_before_the_start_crosses_midnight() -> None:
    night = expand(weekly("1001", ["fri"], "22:00", "06:00", "UTC"), date(2026, 5, 8), 1)
    whole_day = expand(weekly("1001", ["fri"], "06:00", "06:00", "UTC"), date(2026, 5, 8), 1)

    assert [(s.start, s.end) for s in night] == [(utc(2026, 5, 8, 22), utc(2026, 5, 9, 6))]
    assert whole_day[0].length == timedelta(hours=24)


def test_24_00_ends_at_the_midnight_closing_the_day() -> None:
    shifts = expand(weekly("1001", ["sun"], "12:00", "24:00", "UTC"), date(2026, 5, 10), 1)
    assert [(s.start, s.end) for s in shifts] == [(utc(2026, 5, 10, 12), utc(2026, 5, 11, 0))]


def test_night_shift_across_spring_forward_lasts_seven_hours() -> None:
    # Europe/Paris moves from 02:00 CET to 03:00 CEST on Sunday 2027-03-28.
    pattern = weekly("1001", ["sat"], "22:00", "06:00", "Europe/Paris")
    [night] = expand(pattern, date(2027, 3, 27), 1)

    assert night.start == utc(2027, 3, 27, 21)
    assert night.end == utc(2027, 3, 28, 4)
    assert night.length == timedelta(hours=7)


def test_night_shift_across_fall_back_lasts_nine_hours() -> None:
    # Europe/Paris moves from 03:00 CEST back to 02:00 CET on Sunday 2026-10-25.
    pattern = weekly("1001", ["sat"], "22:00", "06:00", "Europe/Paris")
    [night] = expand(pattern, date(2026, 10, 24), 1)

    assert night.start == utc(2026, 10, 24, 20)
    assert night.end == utc(2026, 10, 25, 5)
    assert night.length == timedelta(hours=9)


def test_ordinary_nights_around_the_change_last_eight_hours() -> None:
    pattern = weekly("1001", ["fri", "sat", "sun"], "22:00", "06:00", "Europe/Paris")
    lengths = [s.length for s in expand(pattern, date(2026, 10, 23), 3)]
    assert lengths == [timedelta(hours=8), timedelta(hours=9), timedelta(hours=8)]


def test_a_pattern_start_skipped_by_spring_forward_moves_past_the_gap() -> None:
    [early] = expand(weekly("1001", ["sun"], "02:30", "06:00", "Europe/Paris"), date(2027, 3, 28), 1)
    assert early.start == datetime(2027, 3, 28, 3, 30, tzinfo=PARIS)
    assert early.length == timedelta(hours=2, minutes=30)


def test_expanded_week_feeds_on_shift() -> None:
    patterns = [weekly("1001", ["mon", "tue", "wed", "thu", "fri"], "08:00", "16:00", "Europe/Paris"),
                weekly("1002", ["sat", "sun"], "22:00", "06:00", "Europe/Paris")]
    shifts = [s for p in patterns for s in expand(p, date(2027, 3, 22), 7)]
    rota = Rota([ALICE, BOB], shifts)

    assert rota.on_shift(datetime(2027, 3, 26, 15, 59, tzinfo=PARIS)) == {"1001"}  # Friday
    assert rota.on_shift(datetime(2027, 3, 27, 23, 0, tzinfo=PARIS)) == {"1002"}  # Saturday night
    assert rota.on_shift(datetime(2027, 3, 28, 5, 59, tzinfo=PARIS)) == {"1002"}  # CEST by now
    assert rota.on_shift(datetime(2027, 3, 28, 6, 0, tzinfo=PARIS)) == frozenset()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"days": []}, "needs a list of days"),
    ({"days": "mon"}, "needs a list of days"),
    ({"days": ["mon", "funday"]}, "unknown day 'funday'"),
    ({"start": "8:00"}, r"start '8:00' is not a time of day written HH:MM"),
    ({"end": "25:00"}, r"end '25:00' is not a time of day"),
    ({"end": "12:60"}, r"end '12:60' is not a time of day"),
    ({"start": "24:00"}, "starts at 24:00"),
    ({"timezone": "Mars/Olympus"}, "Unknown timezone 'Mars/Olympus'"),
    ({"agent": "no way"}, "is not a valid SIP user"),
])
def test_bad_weekly_patterns_are_refused(kwargs: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {"agent": "1001", "days": ["mon"], "start": "08:00", "end": "16:00",
                                 "timezone": "UTC"} | kwargs
    with pytest.raises(RotaError, match=message):
        weekly(**fields)  # type: ignore[arg-type]


def test_weekly_days_are_normalised_to_week_order() -> None:
    assert weekly("1001", ["Sun", "mon", "sun"], "08:00", "16:00", "UTC").days == ("mon", "sun")
