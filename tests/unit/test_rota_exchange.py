"""iCalendar and CSV in and out of the rota, with DST-crossing shifts and clear errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shifts.exchange import from_csv, from_ical, to_csv, to_ical
from shifts.rota import Absence, Agent, RotaError, Shift

NIGHT = Shift.local("1001", datetime(2026, 10, 24, 22), datetime(2026, 10, 25, 6), "Europe/Paris", note="cover",
                    kind="on_call")
SICK = Absence("1002", datetime(2026, 10, 26, 12, tzinfo=UTC), datetime(2026, 10, 27, tzinfo=UTC), "sickness")


def test_icalendar_round_trip_keeps_instants_kinds_and_notes() -> None:
    data = to_ical([Agent("1001", "Alice")], [NIGHT], [SICK])
    assert b"SUMMARY:Alice (1001): on_call" in data
    entries = from_ical(data)
    assert entries.shifts == (NIGHT,)
    assert entries.shifts[0].length == timedelta(hours=9)
    assert entries.absences == (SICK,)


def test_icalendar_events_from_elsewhere_with_a_tzid_and_a_duration() -> None:
    data = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:1\r\nSUMMARY:night\r\n"
            b"X-HOTLINE-AGENT:1001\r\nDTSTART;TZID=Europe/Paris:20270327T220000\r\nDURATION:PT7H\r\n"
            b"END:VEVENT\r\nEND:VCALENDAR\r\n")
    [shift] = from_ical(data).shifts
    assert (shift.start, shift.end) == (datetime(2027, 3, 27, 21, tzinfo=UTC), datetime(2027, 3, 28, 4, tzinfo=UTC))


def test_an_all_day_leave_is_whole_days_in_the_agent_s_zone() -> None:
    data = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:1\r\nSUMMARY:holiday\r\n"
            b"X-HOTLINE-AGENT:1001\r\nX-HOTLINE-TYPE:absence\r\nDTSTART;VALUE=DATE:20261026\r\n"
            b"DTEND;VALUE=DATE:20261028\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    [leave] = from_ical(data, {"1001": "Europe/Paris"}).absences
    assert (leave.start, leave.end, leave.kind) == (datetime(2026, 10, 25, 23, tzinfo=UTC),
                                                    datetime(2026, 10, 27, 23, tzinfo=UTC), "leave")
    [in_utc] = from_ical(data).absences  # an agent the reader is not told of: UTC days
    assert in_utc.start == datetime(2026, 10, 26, tzinfo=UTC)
    with pytest.raises(RotaError, match=r"Event 1 \(holiday\): Unknown timezone 'Atlantis'"):
        from_ical(data, {"1001": "Atlantis"})


@pytest.mark.parametrize(("event", "message"), [
    (b"X-HOTLINE-AGENT:1001\r\nDTSTART:20261024T220000\r\nDTEND:20261025T060000\r\n", "has no time zone"),
    (b"X-HOTLINE-AGENT:1001\r\nDTEND:20261025T060000Z\r\n", "DTSTART is missing"),
    (b"X-HOTLINE-AGENT:no way\r\nDTSTART:20261024T220000Z\r\nDTEND:20261025T060000Z\r\n", "not a valid SIP user"),
    (b"X-HOTLINE-AGENT:1001\r\nDTSTART:20261024T220000Z\r\nDTEND:20261024T210000Z\r\n", "not after its start"),
])
def test_bad_icalendar_events_are_named_in_the_error(event: bytes, message: str) -> None:
    data = b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:late\r\n" + event + b"END:VEVENT\r\nEND:VCALENDAR\r\n"
    with pytest.raises(RotaError, match=rf"Event 1 \(late\).*{message}"):
        from_ical(data)


def test_csv_round_trip_and_local_times() -> None:
    text = to_csv([NIGHT], [SICK])
    assert from_csv(text).shifts == (NIGHT,) and from_csv(text).absences == (SICK,)
    local = "agent,start,end,timezone\n1001,2027-03-27T22:00,2027-03-28T06:00,Europe/Paris\n"
    [shift] = from_csv(local).shifts
    assert shift.length == timedelta(hours=7)  # spring forward


@pytest.mark.parametrize(("text", "message"), [
    ("who,when\n", "The CSV header lacks the column 'agent'"),
    ("agent,start,end,timezone\n1001,2026-10-25T02:30,2026-10-25T06:00,Europe/Paris\n",
     "CSV line 2: 2026-10-25T02:30:00 happens twice in Europe/Paris"),
    ("type,agent,start,end\nholiday,1001,2026-10-25T02:30Z,2026-10-25T06:00Z\n",
     "CSV line 2: type 'holiday' is neither shift nor absence"),
])
def test_bad_csv_lines_are_named_in_the_error(text: str, message: str) -> None:
    with pytest.raises(RotaError, match=message):
        from_csv(text)
