"""Rota documents and files read into the domain, with ``now`` explicit."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shifts.document import parse_document
from shifts.plan import RotaPlan
from shifts.rota import Agent, RotaError
from shifts.rotafile import read_rota_file

NOW = datetime(2026, 10, 21, 9, 30, tzinfo=UTC)  # a Wednesday
SAMPLE = Path(__file__).resolve().parents[2] / "shifts" / "sample_rota.yaml"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
        microsecond: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=UTC)


def test_agents_shifts_and_weekly_patterns_are_read() -> None:
    document = {
        "agents": [{"extension": "1001", "name": "Alice"}, {"extension": 1002, "name": "Bob", "level": 2}],
        "shifts": [{"agent": "1002", "start": "2026-10-24T22:00", "end": "2026-10-25T06:00",
                    "timezone": "Europe/Paris", "note": "cover"}],
        "weekly": [{"agent": "1001", "days": ["mon", "wed"], "start": "08:00", "end": "16:00",
                    "timezone": "UTC"}],
    }
    parsed = parse_document(document, NOW)

    assert parsed.agents == (Agent("1001", "Alice", 1), Agent("1002", "Bob", 2))
    [cover] = parsed.shifts
    assert (cover.extension, cover.start, cover.end, cover.note) == ("1002", utc(2026, 10, 24, 20),
                                                                      utc(2026, 10, 25, 5), "cover")
    rota = RotaPlan(parsed.agents, parsed.patterns).expand(NOW, NOW + timedelta(days=7))
    weekly = [(s.start, s.end) for s in rota.shifts]
    assert weekly == [(utc(2026, 10, 21, 8), utc(2026, 10, 21, 16)),  # today's, running at NOW
                      (utc(2026, 10, 26, 8), utc(2026, 10, 26, 16)),
                      (utc(2026, 10, 28, 8), utc(2026, 10, 28, 16))]  # NOW + 7 days falls in it


def test_weekly_expansion_includes_a_night_shift_that_began_yesterday() -> None:
    document = {"agents": [{"extension": "1001", "name": "Alice"}],
                "weekly": [{"agent": "1001", "days": ["tue"], "start": "22:00", "end": "12:00",
                            "timezone": "UTC"}]}
    parsed = parse_document(document, NOW)
    rota = RotaPlan(parsed.agents, parsed.patterns).expand(NOW, NOW + timedelta(days=1))

    assert [(s.start, s.end) for s in rota.shifts] == [(utc(2026, 10, 20, 22), utc(2026, 10, 21, 12))]
    assert rota.on_shift(NOW) == {"1001"}


def test_weekly_patterns_are_kept_as_patterns_not_expanded() -> None:
    document = {"agents": [{"extension": "1001", "name": "Alice", "skills": ["network"],
                            "timezone": "Europe/Paris"}],
                "weekly": [{"agent": "1001", "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                            "start": "00:00", "end": "08:00", "timezone": "UTC"}]}
    parsed = parse_document(document, NOW)

    assert parsed.shifts == ()
    [pattern] = parsed.patterns
    assert (pattern.agent, pattern.template.name if pattern.template else None) == ("1001", "00:00-08:00")
    assert parsed.agents[0].skills == ("network",) and parsed.agents[0].timezone == "Europe/Paris"


def test_explicit_shifts_that_ended_are_history_and_dropped() -> None:
    document = {"agents": [{"extension": "1001", "name": "Alice"}],
                "shifts": [{"agent": "1001", "start": "2026-10-20T08:00Z", "end": "2026-10-20T16:00Z",
                            "timezone": "UTC"}]}
    assert parse_document(document, NOW).shifts == ()


def test_times_with_an_offset_are_kept_as_given() -> None:
    document = {"shifts": [{"agent": "1001", "start": "2026-10-25T02:30+01:00", "end": "2026-10-25T08:00+01:00",
                            "timezone": "Europe/Paris"}]}
    [only] = parse_document(document, NOW).shifts
    assert only.start == utc(2026, 10, 25, 1, 30)


@pytest.mark.parametrize(("document", "message"), [
    ({"agents": [{"name": "Alice"}]}, r"agents\[0\]\.extension is missing"),
    ({"agents": [{"extension": "1001", "name": "Alice", "level": 0}]}, r"agents\[0\]: Agent 1001 has level 0"),
    ({"agents": [{"extension": "1 001", "name": "Alice"}]}, r"agents\[0\]: Extension '1 001' is not a valid"),
    ({"agents": {"extension": "1001"}}, "agents must be a list"),
    ({"agents": ["1001"]}, r"agents\[0\] must be a mapping"),
    ({"shifts": [{"agent": "1001", "start": "tomorrow", "end": "2026-10-25T06:00", "timezone": "UTC"}]},
     r"shifts\[0\]\.start 'tomorrow' is not an ISO 8601 date-time"),
    ({"shifts": [{"agent": "1001", "start": "2026-10-25T06:00", "timezone": "UTC"}]},
     r"shifts\[0\]\.end is missing"),
    ({"shifts": [{"agent": "1001", "start": "2026-10-25T06:00", "end": "2026-10-25T05:00", "timezone": "UTC"}]},
     r"shifts\[0\]: Shift of 1001 ends at .* which is not after its start"),
    ({"shifts": [{"agent": "1001", "start": "2026-10-25T02:30", "end": "2026-10-25T08:00",
                  "timezone": "Europe/Paris"}]}, r"shifts\[0\]: 2026-10-25T02:30:00 happens twice in Europe/Paris"),
    ({"shifts": [{"agent": "1001", "start": "2026-10-25T06:00", "end": "2026-10-25T08:00", "timezone": "Paris"}]},
     r"shifts\[0\]: Unknown timezone 'Paris'"),
    ({"weekly": [{"agent": "1001", "days": ["mon"], "start": 720, "end": "20:00", "timezone": "UTC"}]},
     r"weekly\[0\]\.start must be a string, got 720"),
    ({"weekly": [{"agent": "1001", "days": ["someday"], "start": "08:00", "end": "20:00", "timezone": "UTC"}]},
     r"weekly\[0\]: Weekly pattern of 1001 has unknown day 'someday'"),
    ({"agent": []}, r"Unknown section 'agent' in the rota document"),
])
def test_document_errors_name_the_entry(document: dict[str, Any], message: str) -> None:
    with pytest.raises(RotaError, match=message):
        parse_document(document, NOW)


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(RotaError, match="naive datetime"):
        parse_document({}, NOW.replace(tzinfo=None))


# --- files -------------------------------------------------------------------------------------------


def test_yaml_times_extensions_and_dates_stay_strings(tmp_path: Path) -> None:
    path = tmp_path / "rota.yaml"
    path.write_text("agents:\n  - {extension: 0101, name: Zoe, level: 2}\n"
                    "weekly:\n  - {agent: 0101, days: [sat], start: 12:00, end: 24:00, timezone: UTC}\n"
                    "shifts:\n  - {agent: 0101, start: 2026-10-24T08:00, end: 2026-10-24 10:00, timezone: UTC}\n")
    document = read_rota_file(path)

    assert document["agents"] == [{"extension": "0101", "name": "Zoe", "level": 2}]
    assert document["weekly"][0]["start"] == "12:00"
    assert document["shifts"][0]["start"] == "2026-10-24T08:00"
    parsed = parse_document(document, NOW)
    rota = RotaPlan(parsed.agents, parsed.patterns, parsed.shifts).expand(NOW, NOW + timedelta(days=7))
    assert [s.start for s in rota.shifts] == [utc(2026, 10, 24, 8), utc(2026, 10, 24, 12)]


def test_json_files_are_read(tmp_path: Path) -> None:
    path = tmp_path / "rota.json"
    path.write_text(json.dumps({"agents": [{"extension": "1001", "name": "Alice"}]}))
    assert read_rota_file(path) == {"agents": [{"extension": "1001", "name": "Alice"}]}


def test_unreadable_and_malformed_files_raise_rota_errors(tmp_path: Path) -> None:
    with pytest.raises(RotaError, match=r"Cannot read the rota file .*missing\.yaml"):
        read_rota_file(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("agents: [\n")
    with pytest.raises(RotaError, match=r"bad\.yaml is not valid YAML"):
        read_rota_file(bad)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{")
    with pytest.raises(RotaError, match=r"bad\.json is not valid JSON"):
        read_rota_file(bad_json)


def test_the_sample_rota_keeps_alice_on_shift_around_the_clock_and_bob_never() -> None:
    parsed = parse_document(read_rota_file(SAMPLE), NOW)
    rota = RotaPlan(parsed.agents, parsed.patterns).expand(NOW, NOW + timedelta(days=15))

    assert {a.extension: a.name for a in parsed.agents} == {"1001": "Alice", "1002": "Bob"}
    for minutes in range(0, 14 * 24 * 60, 97):
        assert rota.on_shift(NOW + timedelta(minutes=minutes)) == {"1001"}
    assert rota.on_shift(NOW + timedelta(days=14)) == {"1001"}
    assert rota.next_boundaries(NOW, NOW + timedelta(days=14)) == []  # no flapping at noon or midnight
