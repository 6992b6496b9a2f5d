"""The supervisor API for the rota plan on a real database: templates, patterns, absences, holidays, swaps,
breaks, copy a week, coverage, validation, staffing, audit, iCalendar and CSV in and out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from api.app import create_app
from api.deps import Services
from hotline.db import make_engine
from shifts.store import RotaStore
from tests.api_auth import sign_in_as, user

pytestmark = pytest.mark.integration

NOW = datetime(2026, 10, 19, 7, 0, tzinfo=UTC)  # Monday 19 Oct, 09:00 in Paris
V1 = "/api/v1"


class ChangeRecorder:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1


@pytest.fixture
def store(migrated_database_url: str) -> Iterator[RotaStore]:
    engine = make_engine(migrated_database_url)
    yield RotaStore(engine, clock=lambda: NOW)
    engine.dispose()


@pytest.fixture
def changes() -> ChangeRecorder:
    return ChangeRecorder()


@pytest.fixture
def client(store: RotaStore, changes: ChangeRecorder) -> Iterator[TestClient]:
    app = sign_in_as(create_app(Services(cases=None, rota=store, on_rota_changed=changes)),
                     user("supervisor", username="sue"))
    with TestClient(app) as client:
        yield client


def ok(response: Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture
def team(client: TestClient) -> None:
    for extension, name, level, skills in (("1001", "Alice", 1, []), ("1002", "Bob", 1, []),
                                           ("1003", "Carol", 2, ["network"])):
        ok(client.post(f"{V1}/agents", json={"extension": extension, "name": name, "level": level,
                                             "skills": skills, "timezone": "Europe/Paris"}))
    for name, start, end in (("early", "06:00", "14:00"), ("late", "14:00", "22:00"), ("night", "22:00", "06:00")):
        ok(client.post(f"{V1}/templates", json={"name": name, "start": start, "end": end,
                                                "breaks": [{"after_minutes": 240, "minutes": 30}]}), 201)
    for agent, template in (("1001", "early"), ("1002", "late"), ("1003", "night")):
        ok(client.post(f"{V1}/patterns", json={"kind": "weekly", "agent": agent, "template": template,
                                               "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                                               "timezone": "Europe/Paris"}), 201)


def test_templates_and_patterns_make_a_covered_week_across_fall_back(client: TestClient, team: None) -> None:
    week = {"start": "2026-10-19T00:00:00+02:00", "end": "2026-10-26T00:00:00+01:00"}
    shifts = ok(client.get(f"{V1}/shifts", params=week | {"expanded": "true"}))
    assert len(shifts) == 7 * 3 + 1  # and the night from Sunday 18th into Monday
    night = next(s for s in shifts if s["agent"] == "1003" and s["start"].startswith("2026-10-24"))
    assert (night["start"], night["end"]) == ("2026-10-24T20:00:00Z", "2026-10-25T05:00:00Z")  # 9 h
    report = ok(client.post(f"{V1}/rota/coverage", json=week))
    # The only gaps are the breaks (one agent at a time): 21 of them, 30 minutes each.
    assert len(report["gaps"]) == 7 * 3 and all(g["message"].endswith("(30 min).") for g in report["gaps"])
    assert report["gaps"][0]["start"] == "2026-10-19T00:00:00Z"  # 02:00 in Paris, 4 h into the night


def test_changing_a_template_changes_every_pattern_using_it(client: TestClient, team: None) -> None:
    [early] = [t for t in ok(client.get(f"{V1}/templates")) if t["name"] == "early"]
    ok(client.put(f"{V1}/templates/{early['id']}", json={"name": "early", "start": "07:00", "end": "14:00"}))
    shifts = ok(client.get(f"{V1}/shifts", params={"start": "2026-10-20T00:00:00Z", "end": "2026-10-21T00:00:00Z",
                                                    "expanded": "true"}))
    assert {s["start"] for s in shifts if s["agent"] == "1001"} == {"2026-10-20T05:00:00Z"}  # 07:00 CEST
    report = ok(client.post(f"{V1}/rota/coverage", json={"start": "2026-10-20T00:00:00Z",
                                                          "end": "2026-10-21T00:00:00Z"}))
    assert "2026-10-20T04:00:00Z" in [g["start"] for g in report["gaps"]]  # 06:00-07:00 is now a gap
    audit = ok(client.get(f"{V1}/rota/audit", params={"limit": 1}))
    assert audit[0]["action"] == "save_template" and audit[0]["before"]["start"] == "06:00"
    assert audit[0]["after"]["start"] == "07:00" and audit[0]["actor"] == "sue"


def test_a_rotating_and_an_on_call_pattern(client: TestClient, team: None) -> None:
    ok(client.post(f"{V1}/agents", json={"extension": "1005", "name": "Fay", "level": 2}))
    ok(client.post(f"{V1}/agents", json={"extension": "1006", "name": "Gil", "level": 3}))
    ok(client.post(f"{V1}/templates", json={"name": "on-call", "start": "18:00", "end": "08:00", "kind": "on_call"}),
       201)
    ok(client.post(f"{V1}/patterns", json={"kind": "on_call", "agents": ["1005", "1006"], "template": "on-call",
                                           "anchor": "2026-10-19", "timezone": "Europe/Paris"}), 201)
    shifts = ok(client.get(f"{V1}/shifts", params={"start": "2026-10-25T12:00:00Z", "end": "2026-10-27T00:00:00Z",
                                                    "expanded": "true"}))
    assert {(s["agent"], s["kind"]) for s in shifts if s["kind"] == "on_call"} == {
        ("1005", "on_call"), ("1006", "on_call")}  # Sunday night is Fay's last, Monday night Gil's first
    response = client.post(f"{V1}/patterns", json={"kind": "on_call", "agents": ["1001"], "template": "on-call",
                                                   "anchor": "2026-10-19", "timezone": "Europe/Paris"})
    assert response.status_code == 422
    assert response.json()["detail"] == "On-call rotation needs level 2 or more, but agent 1001 has level 1."
    response = client.post(f"{V1}/patterns", json={"kind": "rotating", "agent": "1002", "timezone": "UTC",
                                                   "anchor": "2026-10-19", "cycle": ["early", "mid", None]})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("The rotating pattern names template 'mid', which does not exist")
    patterns = ok(client.get(f"{V1}/patterns"))
    assert [p["spec"]["kind"] for p in patterns] == ["weekly", "weekly", "weekly", "on_call"]


def test_an_overlap_from_a_pattern_is_refused_with_the_reason(client: TestClient, team: None,
                                                              changes: ChangeRecorder) -> None:
    before = changes.calls
    response = client.post(f"{V1}/shifts", json={"agent": "1001", "start": "2026-10-20T12:00",
                                                 "end": "2026-10-20T18:00", "timezone": "Europe/Paris"})
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "Shifts of agent 1001 overlap: Tue 2026-10-20 06:00 to Tue 2026-10-20 14:00 Europe/Paris "
        "(2026-10-20 04:00 UTC) and Tue 2026-10-20 12:00 to Tue 2026-10-20 18:00 Europe/Paris "
        "(2026-10-20 10:00 UTC).")
    assert changes.calls == before


def test_short_rest_is_a_warning_in_validation_not_a_refusal(client: TestClient, team: None) -> None:
    ok(client.post(f"{V1}/shifts", json={"agent": "1002", "start": "2026-10-21T05:00", "end": "2026-10-21T09:00",
                                         "timezone": "Europe/Paris"}), 201)
    report = ok(client.get(f"{V1}/rota/validation", params={"start": "2026-10-20T00:00:00Z",
                                                             "end": "2026-10-22T00:00:00Z"}))
    after_late, before_late = report["findings"]
    assert {(f["severity"], f["rule"], f["agent"]) for f in (after_late, before_late)} == {
        ("warning", "min_rest", "1002")}
    assert "rests only 7 h between the shift Tue 2026-10-20 14:00" in after_late["message"]
    assert "rests only 5 h between the shift Wed 2026-10-21 05:00" in before_late["message"]


def test_absences_holidays_swaps_and_breaks(client: TestClient, team: None, store: RotaStore) -> None:
    sick = ok(client.post(f"{V1}/absences", json={"agent": "1001", "kind": "sickness", "first_day": "2026-10-19"}),
              201)
    assert (sick["start"], sick["end"]) == ("2026-10-18T22:00:00Z", "2026-10-19T22:00:00Z")
    assert store.rota(NOW, NOW).routable(NOW) == frozenset()  # Alice off sick: nobody at 09:00
    ok(client.post(f"{V1}/swaps", json={"agent": "1002", "start": "2026-10-19T12:00:00Z", "to": "1001"}), 201)
    ok(client.post(f"{V1}/holidays", json={"day": "2026-12-25", "name": "Christmas Day"}), 201)
    assert client.post(f"{V1}/holidays", json={"day": "2026-12-25", "name": "Again"}).json() == {
        "detail": "2026-12-25 is already a holiday."}
    ok(client.post(f"{V1}/breaks", json={"agent": "1003", "start": "2026-10-19T23:00:00Z",
                                         "end": "2026-10-19T23:15:00Z"}), 201)
    shifts = ok(client.get(f"{V1}/shifts", params={"start": "2026-10-19T12:00:00Z", "end": "2026-10-19T13:00:00Z",
                                                    "expanded": "true"}))
    assert [(s["agent"], s["note"]) for s in shifts] == [("1001", "swapped from 1002")]
    assert len(ok(client.get(f"{V1}/breaks"))) == 1
    assert ok(client.delete(f"{V1}/absences/{sick['id']}"))["kind"] == "sickness"
    assert client.delete(f"{V1}/absences/{sick['id']}").status_code == 404
    assert store.rota(NOW, NOW).routable(NOW) == {"1001"}
    actions = [e["action"] for e in ok(client.get(f"{V1}/rota/audit", params={"limit": 5}))]
    assert actions == ["delete_absence", "add_break", "add_holiday", "add_swap", "add_absence"]


def test_copy_a_week(client: TestClient, team: None) -> None:
    ok(client.post(f"{V1}/agents", json={"extension": "1004", "name": "Dan"}))
    for day in ("2026-10-19", "2026-10-21"):
        ok(client.post(f"{V1}/shifts", json={"agent": "1004", "start": f"{day}T09:00", "end": f"{day}T17:00",
                                             "timezone": "Europe/Paris"}), 201)
    copied = ok(client.post(f"{V1}/shifts/copy-week", json={"source_monday": "2026-10-19",
                                                             "target_monday": "2026-10-26"}), 201)
    assert [s["start"] for s in copied] == ["2026-10-26T08:00:00Z", "2026-10-28T08:00:00Z"]
    response = client.post(f"{V1}/shifts/copy-week", json={"source_monday": "2026-10-19",
                                                           "target_monday": "2026-10-26"})
    assert response.status_code == 422 and "Shifts of agent 1004 overlap" in response.json()["detail"]


def test_staffing_flags_understaffed_intervals(client: TestClient, team: None) -> None:
    body = {"start": "2026-10-19T08:00:00Z", "end": "2026-10-19T09:00:00Z", "interval_minutes": 30,
            "forecast": [{"start": "2026-10-19T08:00:00Z", "calls": 100}, {"start": "2026-10-19T08:30:00Z",
                                                                           "calls": 1}],
            "aht_s": 180, "service_level": 0.8, "answer_s": 20, "shrinkage": 0}
    busy, quiet = ok(client.post(f"{V1}/rota/staffing", json=body))
    assert (busy["agents_needed"], busy["rostered"], busy["short"], busy["understaffed"]) == (14, 1, 13, True)
    assert round(busy["asa_s"], 1) == 7.8
    assert (quiet["agents_needed"], quiet["understaffed"]) == (1, False)
    response = client.post(f"{V1}/rota/staffing", json=body | {"forecast": None})
    assert response.status_code == 422 and "no call history source" in response.json()["detail"]
    response = client.post(f"{V1}/rota/staffing", json=body | {"interval_minutes": 20})
    assert response.status_code == 422


def test_icalendar_and_csv_round_trip(client: TestClient, team: None, store: RotaStore) -> None:
    period = {"start": "2026-10-24T00:00:00Z", "end": "2026-10-25T12:00:00Z"}
    ics = client.get(f"{V1}/rota/export.ics", params=period)
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    assert b"X-HOTLINE-AGENT:1003" in ics.content and b"DTSTART:20261024T200000Z" in ics.content
    ok(client.post(f"{V1}/agents", json={"extension": "2001", "name": "Eve"}))
    response = client.post(f"{V1}/rota/import-file", content=ics.content, headers={"content-type": "text/calendar"})
    assert response.status_code == 422 and "Shifts of agent 1001 overlap" in response.json()["detail"]  # twice
    moved = ics.content
    for agent in (b"1001", b"1002", b"1003"):  # one agent takes every shift: they touch, none overlaps
        moved = moved.replace(b"X-HOTLINE-AGENT:" + agent, b"X-HOTLINE-AGENT:2001")
    imported = ok(client.post(f"{V1}/rota/import-file", content=moved, headers={"content-type": "text/calendar"}),
                  201)
    assert imported == {"shifts": 5, "absences": 0}  # night 23-24, early, late, night 24-25, early 25

    csv_text = client.get(f"{V1}/rota/export.csv", params=period).text
    assert csv_text.splitlines()[0] == "type,agent,start,end,timezone,kind,note"
    night = next(line for line in csv_text.splitlines() if line.startswith("shift,1003,2026-10-24T20:00"))
    ok(client.post(f"{V1}/agents", json={"extension": "2002", "name": "Fred"}))
    lone = "type,agent,start,end,timezone,kind,note\n" + night.replace("1003", "2002") + "\n"
    imported = ok(client.post(f"{V1}/rota/import-file", content=lone, headers={"content-type": "text/csv"}), 201)
    assert imported == {"shifts": 1, "absences": 0}
    response = client.post(f"{V1}/rota/import-file", content=lone, headers={"content-type": "text/csv"})
    assert response.status_code == 422 and "Shifts of agent 2002 overlap" in response.json()["detail"]
    shifts = store.list_shifts(datetime(2026, 10, 24, 12, tzinfo=UTC), datetime(2026, 10, 26, tzinfo=UTC))
    assert [(s.start, s.length) for s in shifts if s.extension == "2002"] == [
        (datetime(2026, 10, 24, 20, tzinfo=UTC), timedelta(hours=9))]

    bad = client.post(f"{V1}/rota/import-file", content="type,agent,start,end\nshift,2001,tomorrow,later\n",
                      headers={"content-type": "text/csv"})
    assert bad.status_code == 422
    assert bad.json()["detail"] == ("CSV line 2: start 'tomorrow' is not an ISO 8601 date-time such as "
                                    "2026-10-24T22:00.")
    bad = client.post(f"{V1}/rota/import-file", content=b"BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:x\n"
                      b"DTSTART:20261024T200000Z\nDTEND:20261024T210000Z\nEND:VEVENT\nEND:VCALENDAR\n",
                      headers={"content-type": "text/calendar"})
    assert bad.json()["detail"] == "Event 1 (x) has no X-HOTLINE-AGENT property naming the agent's extension."


def test_deleting_an_agent_a_pattern_names_is_refused(client: TestClient, team: None) -> None:
    response = client.delete(f"{V1}/agents/1001")
    assert response.status_code == 422
    assert response.json()["detail"] == "Weekly pattern of 1001 names agent 1001, who is not in the rota."
    assert client.get(f"{V1}/agents/1001").status_code == 200


def test_shifts_and_absences_are_edited_in_place(client: TestClient, team: None, store: RotaStore) -> None:
    ok(client.post(f"{V1}/agents", json={"extension": "1004", "name": "Dan", "timezone": "Europe/Paris"}))
    shift = ok(client.post(f"{V1}/shifts", json={"agent": "1004", "start": "2026-10-19T09:00",
                                                 "end": "2026-10-19T17:00", "timezone": "Europe/Paris"}), 201)
    moved = ok(client.put(f"{V1}/shifts/{shift['id']}", json={"agent": "1004", "start": "2026-10-19T08:00",
                                                              "end": "2026-10-19T12:00", "timezone": "Europe/Paris",
                                                              "note": "half day"}))
    assert (moved["id"], moved["start"], moved["note"]) == (shift["id"], "2026-10-19T06:00:00Z", "half day")
    response = client.put(f"{V1}/shifts/{shift['id']}", json={"agent": "1001", "start": "2026-10-19T08:00",
                                                              "end": "2026-10-19T12:00", "timezone": "Europe/Paris"})
    assert response.status_code == 422 and "Shifts of agent 1001 overlap" in response.json()["detail"]
    assert client.put(f"{V1}/shifts/999", json=moved | {"start": "2026-10-19T08:00"}).status_code == 404

    leave = ok(client.post(f"{V1}/absences", json={"agent": "1004", "first_day": "2026-10-19"}), 201)
    assert store.rota(NOW, NOW).routable(NOW) == {"1001"}
    ok(client.put(f"{V1}/absences/{leave['id']}", json={"agent": "1004", "start": "2026-10-19T12:00:00+02:00",
                                                          "end": "2026-10-20T00:00:00+02:00", "kind": "leave"}))
    assert store.rota(NOW, NOW).routable(NOW) == {"1001", "1004"}  # the morning is worked after all
    [update, *_] = ok(client.get(f"{V1}/rota/audit"))
    assert (update["action"], update["before"]["start"], update["after"]["start"]) == (
        "update_absence", "2026-10-18T22:00:00+00:00", "2026-10-19T10:00:00+00:00")
