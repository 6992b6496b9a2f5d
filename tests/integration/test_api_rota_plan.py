"""The supervisor API for the rota plan on a real database: templates, patterns, absences, holidays, swaps,
breaks, copy a week, coverage, validation, staffing, audit, iCalendar and CSV in and out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

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
    assert response.headers["X-Rule-Findings"] == "1"
    assert response.json()["findings"] == [{
        "severity": "error", "rule": "overlap", "agent": "1001",
        "start": "2026-10-20T04:00:00Z", "end": "2026-10-20T16:00:00Z",
        "shifts": [{"id": None, "agent": "1001", "start": "2026-10-20T06:00:00+02:00",
                    "end": "2026-10-20T14:00:00+02:00", "timezone": "Europe/Paris", "kind": "duty", "note": "early"},
                   {"id": None, "agent": "1001", "start": "2026-10-20T12:00:00+02:00",
                    "end": "2026-10-20T18:00:00+02:00", "timezone": "Europe/Paris", "kind": "duty", "note": ""}],
        "message": response.json()["detail"]}]
    assert changes.calls == before


def test_a_refusal_lists_every_finding_and_quotes_five(client: TestClient, team: None) -> None:
    ok(client.post(f"{V1}/templates", json={"name": "mid", "start": "10:00", "end": "18:00"}), 201)
    response = client.post(f"{V1}/patterns", json={"kind": "weekly", "agent": "1001", "template": "mid",
                                                   "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                                                   "timezone": "Europe/Paris"})
    assert response.status_code == 422
    findings = response.json()["findings"]
    assert len(findings) == int(response.headers["X-Rule-Findings"]) > 5
    assert {(f["rule"], f["agent"]) for f in findings} == {("overlap", "1001")}
    # Local times, on both sides of the fall-back on the 25th.
    assert {f["shifts"][1]["start"][11:] for f in findings} == {"10:00:00+02:00", "10:00:00+01:00"}
    assert response.json()["detail"].endswith(f"And {len(findings) - 5} more findings of the same edit.")

    # A pattern that begins months ahead is checked over its first weeks, not waved through.
    later = client.post(f"{V1}/patterns", json={"kind": "weekly", "agent": "1001", "template": "mid", "days": ["mon"],
                                                "timezone": "Europe/Paris", "valid_from": "2027-03-01"})
    assert later.status_code == 422
    assert [f["shifts"][1]["start"] for f in later.json()["findings"]][:2] == [
        "2027-03-01T10:00:00+01:00", "2027-03-08T10:00:00+01:00"]
    assert len(ok(client.get(f"{V1}/patterns"))) == 3

    # So is a template change that first shows there.
    ok(client.post(f"{V1}/templates", json={"name": "spring", "start": "06:00", "end": "09:00"}), 201)
    ok(client.post(f"{V1}/patterns", json={"kind": "weekly", "agent": "1002", "template": "spring", "days": ["mon"],
                                           "timezone": "Europe/Paris", "valid_from": "2027-03-01"}), 201)
    spring = next(t for t in ok(client.get(f"{V1}/templates")) if t["name"] == "spring")
    moved = client.put(f"{V1}/templates/{spring['id']}", json={"name": "spring", "start": "13:00", "end": "16:00"})
    assert moved.status_code == 422 and moved.json()["findings"][0]["shifts"][0]["start"] == "2027-03-01T13:00:00+01:00"


def test_short_rest_is_a_warning_in_validation_not_a_refusal(client: TestClient, team: None) -> None:
    added = ok(client.post(f"{V1}/shifts", json={"agent": "1002", "start": "2026-10-21T05:00",
                                                 "end": "2026-10-21T09:00", "timezone": "Europe/Paris"}), 201)
    warnings = added["warnings"]
    assert [(w["severity"], w["rule"], w["shifts"][0]["start"], w["shifts"][1]["start"]) for w in warnings] == [
        ("warning", "min_rest", "2026-10-20T14:00:00+02:00", "2026-10-21T05:00:00+02:00"),
        ("warning", "min_rest", "2026-10-21T05:00:00+02:00", "2026-10-21T14:00:00+02:00")]
    report = ok(client.get(f"{V1}/rota/validation", params={"start": "2026-10-20T00:00:00Z",
                                                             "end": "2026-10-22T00:00:00Z"}))
    after_late, before_late = report["findings"]
    assert {(f["severity"], f["rule"], f["agent"]) for f in (after_late, before_late)} == {
        ("warning", "min_rest", "1002")}
    assert "rests only 7 h between the shift Tue 2026-10-20 14:00" in after_late["message"]
    assert "rests only 5 h between the shift Wed 2026-10-21 05:00" in before_late["message"]
    moved = ok(client.put(f"{V1}/shifts/{added['id']}", json={"agent": "1002", "start": "2026-10-21T06:00",
                                                               "end": "2026-10-21T09:00", "timezone": "Europe/Paris"}))
    assert [w["message"][:25] for w in moved["warnings"]] == ["Agent 1002 rests only 5 h"]


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


def test_copy_a_week(client: TestClient, team: None, store: RotaStore) -> None:
    ok(client.post(f"{V1}/agents", json={"extension": "1004", "name": "Dan"}))
    for day in ("2026-10-19", "2026-10-21"):
        ok(client.post(f"{V1}/shifts", json={"agent": "1004", "start": f"{day}T09:00", "end": f"{day}T17:00",
                                             "timezone": "Europe/Paris"}), 201)
    ok(client.post(f"{V1}/breaks", json={"agent": "1004", "start": "2026-10-21T12:00:00+02:00",
                                         "end": "2026-10-21T12:45:00+02:00"}), 201)
    ok(client.post(f"{V1}/breaks", json={"agent": "1002", "start": "2026-10-22T18:00:00+02:00",
                                         "end": "2026-10-22T18:10:00+02:00"}), 201)  # on Bob's late shift
    ok(client.post(f"{V1}/absences", json={"agent": "1004", "first_day": "2026-10-19"}), 201)
    week = {"source_monday": "2026-10-19", "target_monday": "2026-10-26"}

    copied = ok(client.post(f"{V1}/shifts/copy-week", json=week), 201)
    assert [s["start"] for s in copied["shifts"]] == ["2026-10-26T08:00:00Z", "2026-10-28T08:00:00Z"]  # CET now
    assert [(b["agent"], b["start"]) for b in copied["breaks"]] == [("1004", "2026-10-28T11:00:00Z"),
                                                                    ("1002", "2026-10-29T17:00:00Z")]
    assert (copied["skipped"], copied["warnings"]) == ([], [])
    assert store.list_absences(datetime(2026, 10, 26, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)) == []
    pattern_shifts = ok(client.get(f"{V1}/shifts", params={"start": "2026-10-26T00:00:00+01:00",
                                                           "end": "2026-11-02T00:00:00+01:00"}))
    assert len(pattern_shifts) == 2  # only the copies are one-off; the patterns were not copied

    again = ok(client.post(f"{V1}/shifts/copy-week", json=week), 201)
    assert (again["shifts"], again["breaks"], len(again["skipped"])) == ([], [], 4)
    assert again["skipped"][0].endswith("is in the target week already.")
    [audit, *_] = ok(client.get(f"{V1}/rota/audit"))
    assert (audit["action"], audit["after"]["skipped"]) == ("copy_week", again["skipped"])

    ok(client.post(f"{V1}/patterns", json={"kind": "weekly", "agent": "1004", "template": "early", "days": ["mon"],
                                           "timezone": "Europe/Paris", "valid_from": "2026-11-02"}), 201)
    response = client.post(f"{V1}/shifts/copy-week", json={"source_monday": "2026-10-19",
                                                           "target_monday": "2026-11-02"})
    assert response.status_code == 422  # Dan's Monday would overlap his new early shift of the 2nd
    assert [(f["rule"], f["agent"], [s["id"] for s in f["shifts"]]) for f in response.json()["findings"]] == [
        ("overlap", "1004", [None, None])]  # the copy was rolled back: it has no id
    assert ok(client.get(f"{V1}/shifts", params={"start": "2026-11-02T00:00:00Z", "end": "2026-11-09T00:00:00Z"})) == []

    described = ok(client.get("/openapi.json"))["paths"][f"{V1}/shifts/copy-week"]["post"]["description"]
    assert "**Not copied**: the shifts patterns give" in described and "absences" in described


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


class MondayMornings:
    """Call history: 30 calls at 09:00 Paris time every Monday."""

    def arrivals(self, start: datetime, end: datetime, step: timedelta) -> dict[datetime, int]:
        found, t = {}, start
        while t < end:
            local = t.astimezone(ZoneInfo("Europe/Paris"))
            if local.weekday() == 0 and (local.hour, local.minute) == (9, 0):
                found[t] = 30
            t += step
        return found


def test_staffing_from_history_at_the_site_s_local_hours(store: RotaStore) -> None:
    app = sign_in_as(create_app(Services(cases=None, rota=store, call_history=MondayMornings())), user())
    body = {"start": "2026-10-26T08:00:00Z", "end": "2026-10-26T08:30:00Z", "history_weeks": 2,
            "shrinkage": 0}  # 09:00 in Paris, the Monday after the fall-back
    with TestClient(app) as client:
        [local] = ok(client.post(f"{V1}/rota/staffing", json=body | {"timezone": "Europe/Paris"}))
        [in_utc] = ok(client.post(f"{V1}/rota/staffing", json=body))
        bad = client.post(f"{V1}/rota/staffing", json=body | {"timezone": "Nowhere"})
    assert (local["calls"], in_utc["calls"]) == (30.0, 0.0)
    assert bad.status_code == 422 and bad.json()["detail"].startswith("Unknown timezone 'Nowhere'")


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
    assert imported == {"shifts": 5, "absences": 0, "warnings": []}  # night 23-24, early, late, night 24-25, early 25

    csv_text = client.get(f"{V1}/rota/export.csv", params=period).text
    assert csv_text.splitlines()[0] == "type,agent,start,end,timezone,kind,note"
    night = next(line for line in csv_text.splitlines() if line.startswith("shift,1003,2026-10-24T20:00"))
    ok(client.post(f"{V1}/agents", json={"extension": "2002", "name": "Fred"}))
    lone = "type,agent,start,end,timezone,kind,note\n" + night.replace("1003", "2002") + "\n"
    imported = ok(client.post(f"{V1}/rota/import-file", content=lone, headers={"content-type": "text/csv"}), 201)
    assert imported == {"shifts": 1, "absences": 0, "warnings": []}
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
    assert response.json()["detail"] == "Agent 1001 is named by pattern 1; change or delete it first."
    assert client.get(f"{V1}/agents/1001").status_code == 200
    ok(client.post(f"{V1}/patterns", json={"kind": "on_call", "agents": ["1003"], "template": "early",
                                           "timezone": "Europe/Paris", "anchor": "2027-01-04"}), 201)
    response = client.delete(f"{V1}/agents/1003")
    assert response.json()["detail"] == "Agent 1003 is named by patterns 3, 4; change or delete them first."
    ok(client.post(f"{V1}/agents", json={"extension": "1005", "name": "Eve"}))
    assert ok(client.delete(f"{V1}/agents/1005"))["name"] == "Eve"


def test_breaks_holidays_and_swaps_are_edited_in_place(client: TestClient, team: None, store: RotaStore) -> None:
    pause = ok(client.post(f"{V1}/breaks", json={"agent": "1001", "start": "2026-10-19T09:00:00Z",
                                                 "end": "2026-10-19T09:15:00Z"}), 201)
    moved = ok(client.put(f"{V1}/breaks/{pause['id']}", json={"agent": "1001", "start": "2026-10-19T07:00:00Z",
                                                              "end": "2026-10-19T07:20:00Z"}))
    assert (moved["id"], moved["start"]) == (pause["id"], "2026-10-19T07:00:00Z")
    assert store.rota(NOW, NOW).routable(NOW) == frozenset()  # Alice's break is now
    bad = client.put(f"{V1}/breaks/{pause['id']}", json={"agent": "1001", "start": "2026-10-19T08:00:00Z",
                                                         "end": "2026-10-19T07:00:00Z"})
    assert bad.status_code == 422 and "Break of 1001 ends at 2026-10-19T07:00:00+00:00" in bad.json()["detail"]
    assert client.put(f"{V1}/breaks/999", json=moved).status_code == 404
    [audit] = ok(client.get(f"{V1}/rota/audit", params={"limit": 1}))
    assert (audit["action"], audit["before"]["start"], audit["after"]["start"]) == (
        "update_break", "2026-10-19T09:00:00+00:00", "2026-10-19T07:00:00+00:00")

    # Dan works early every day but Christmas, and has a one-off shift on Christmas morning.
    ok(client.post(f"{V1}/agents", json={"extension": "1004", "name": "Dan", "timezone": "Europe/Paris"}))
    ok(client.post(f"{V1}/patterns", json={"kind": "weekly", "agent": "1004", "template": "early",
                                           "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                                           "timezone": "Europe/Paris", "skip_holidays": True}), 201)
    xmas = ok(client.post(f"{V1}/holidays", json={"day": "2026-12-25", "name": "Christmas Day"}), 201)
    ok(client.post(f"{V1}/shifts", json={"agent": "1004", "start": "2026-12-25T08:00", "end": "2026-12-25T12:00",
                                         "timezone": "Europe/Paris"}), 201)
    ok(client.post(f"{V1}/holidays", json={"day": "2026-12-26", "name": "Boxing Day"}), 201)
    renamed = ok(client.put(f"{V1}/holidays/{xmas['id']}", json={"day": "2026-12-25", "name": "Noël"}))
    assert (renamed["name"], renamed["warnings"]) == ("Noël", [])
    [audit] = ok(client.get(f"{V1}/rota/audit", params={"limit": 1}))
    assert (audit["action"], audit["before"]["name"], audit["after"]["name"]) == ("update_holiday", "Christmas Day",
                                                                                  "Noël")
    # Far beyond the checked month, moving or removing the holiday would give Dan two shifts that morning.
    for response in (client.put(f"{V1}/holidays/{xmas['id']}", json={"day": "2027-01-01", "name": "New Year"}),
                     client.delete(f"{V1}/holidays/{xmas['id']}")):
        assert response.status_code == 422
        assert [(f["rule"], f["shifts"][0]["start"]) for f in response.json()["findings"]] == [
            ("overlap", "2026-12-25T06:00:00+01:00")]
    clash = client.put(f"{V1}/holidays/{xmas['id']}", json={"day": "2026-12-26", "name": "Noël"})
    assert clash.status_code == 422 and clash.json()["detail"].startswith("2026-12-26 is already a holiday")
    assert [h["name"] for h in ok(client.get(f"{V1}/holidays"))] == ["Noël", "Boxing Day"]

    swap = ok(client.post(f"{V1}/swaps", json={"agent": "1002", "start": "2026-10-20T12:00:00Z", "to": "1001"}), 201)
    # Alice works early then Bob's late (one span), then early again next morning: 8 h of rest.
    assert [(w["rule"], w["agent"], w["shifts"][1]["start"]) for w in swap["warnings"]] == [
        ("min_rest", "1001", "2026-10-21T06:00:00+02:00")]
    changed = ok(client.put(f"{V1}/swaps/{swap['id']}", json={"agent": "1002", "start": "2026-10-20T12:00:00Z",
                                                              "to": "1004", "note": "Dan covers"}))
    assert (changed["id"], changed["to"], changed["note"]) == (swap["id"], "1004", "Dan covers")
    assert [(w["rule"], w["agent"]) for w in changed["warnings"]] == [("min_rest", "1004")]  # Dan's early next day
    to_carol = ok(client.put(f"{V1}/swaps/{swap['id']}", json={"agent": "1002", "start": "2026-10-20T12:00:00Z",
                                                               "to": "1003"}))
    # Carol's night follows at 22:00 (one span), but her previous night ended at 06:00.
    assert [(w["rule"], w["shifts"][0]["end"]) for w in to_carol["warnings"]] == [
        ("min_rest", "2026-10-20T06:00:00+02:00")]
    shifts = ok(client.get(f"{V1}/shifts", params={"start": "2026-10-20T12:00:00Z", "end": "2026-10-20T13:00:00Z",
                                                    "expanded": "true"}))
    assert [(s["agent"], s["note"]) for s in shifts] == [("1003", "swapped from 1002")]
    actions = [e["action"] for e in ok(client.get(f"{V1}/rota/audit", params={"limit": 3}))]
    assert actions == ["update_swap", "update_swap", "add_swap"]


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
