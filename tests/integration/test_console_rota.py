"""The supervisor's rota editor as HTML over a real rota store: the week grid in the site's time zone
(Europe/Paris here), a night shift on both days it touches, pattern and one-off shifts told apart,
absences, breaks and the coverage gaps row; and the moves the drag and drop sends, through the JSON API
(the browser test drives the drag itself in tests/browser/test_rota_editor.py)."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from accounts.model import Role
from accounts.store import AccountStore
from api.app import create_app
from api.deps import Services
from cases.store import CaseStore
from shifts.plan import ShiftTemplate
from shifts.rota import Agent, Break, Shift
from shifts.rules import Rules, Severity
from shifts.store import RotaStore
from tests.integration.test_console import PASSWORD, sign_in

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)  # Wednesday 11:00 in Paris
SITE = "Europe/Paris"
TUE, WED, THU, FRI = date(2026, 3, 3), date(2026, 3, 4), date(2026, 3, 5), date(2026, 3, 6)


@pytest.fixture
def store(engine: Engine) -> RotaStore:
    rota = RotaStore(engine, clock=lambda: NOW, rules=Rules(short_rest=Severity.ERROR))
    rota.upsert_agent(Agent("1001", "Al Agent", timezone=SITE), actor="test")
    rota.upsert_agent(Agent("1002", "Bea Night", timezone=SITE), actor="test")
    rota.save_template(ShiftTemplate("night", "22:00", "06:00"), "test")
    rota.save_pattern({"kind": "weekly", "agent": "1002", "days": ["tue"], "template": "night", "timezone": SITE},
                      "test")
    return rota


@pytest.fixture
def client(engine: Engine, store: RotaStore) -> TestClient:
    accounts = AccountStore(engine)
    accounts.create_user("sue", PASSWORD, Role.SUPERVISOR, NOW)
    app = create_app(Services(cases=CaseStore(engine), rota=store, accounts=accounts, clock=lambda: NOW,
                              site_timezone=SITE))
    client = TestClient(app)
    sign_in(client, "sue")
    return client


def cell(page: str, agent: str, day: date) -> str:
    found = re.search(rf'<td class="rota-cell[^"]*" data-agent="{agent}" data-day="{day.isoformat()}">(.*?)</td>',
                      page, re.S)
    assert found is not None, f"no cell for {agent} on {day}"
    return found.group(1)


def text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def test_grid_is_in_the_site_zone_with_the_night_shift_on_both_days(client: TestClient, store: RotaStore) -> None:
    # 08:00-16:00 in Paris is 07:00-15:00 UTC: the grid shows the site's clock, and says which it is.
    one_off = store.add_shift(Shift.local("1001", datetime(2026, 3, 5, 8), datetime(2026, 3, 5, 16), SITE), "test")
    page = client.get("/console/supervisor").text
    assert "times in Europe/Paris" in page
    thursday = text(cell(page, "1001", THU))
    assert f"08:00\u201316:00 #{one_off.id}" in thursday and "07:00" not in thursday

    # The weekly night of Tuesday 22:00 to Wednesday 06:00 shows on both days, as a pattern's shift.
    tuesday, wednesday = cell(page, "1002", TUE), cell(page, "1002", WED)
    assert "22:00\u201306:00 \u2192" in text(tuesday) and "\u2190 22:00\u201306:00" in text(wednesday)
    assert 'class="shift duty pattern"' in tuesday and "night" in text(tuesday)
    assert 'class="shift duty one-off"' in cell(page, "1001", THU) and "pattern" not in cell(page, "1001", THU)
    assert "22:00" not in text(cell(page, "1002", THU))


def test_absences_breaks_and_gaps_are_shown_per_local_day(client: TestClient, store: RotaStore) -> None:
    store.add_shift(Shift.local("1001", datetime(2026, 3, 4, 8), datetime(2026, 3, 4, 16), SITE), "test")
    store.add_break(Break("1001", datetime(2026, 3, 4, 11, tzinfo=UTC), datetime(2026, 3, 4, 11, 30, tzinfo=UTC)),
                    "test")
    made = client.post("/api/v1/absences", json={"agent": "1001", "kind": "sickness", "first_day": "2026-03-06"},
                       headers={"X-CSRF-Token": csrf(client)})
    assert made.status_code == 201, made.text
    page = client.get("/console/supervisor/rota").text
    assert "sick (all day)" in text(cell(page, "1001", FRI)) and "sick" not in text(cell(page, "1001", THU))
    assert f'data-delete="/api/v1/absences/{made.json()["id"]}"' in cell(page, "1001", FRI)
    assert "break 12:00\u201312:30" in text(cell(page, "1001", WED))  # 11:00 UTC is noon in Paris
    gaps = re.search(r'<tr class="gaps-row" id="gaps-row">(.*?)</tr>', page, re.S)
    assert gaps is not None
    days = re.findall(r"<td class=\"gap\">(.*?)</td>", gaps.group(1), re.S)
    # Wednesday: nobody from 06:00 (the night ends) to 08:00, during Al's break and after 16:00, local time.
    assert text(days[2]) == "06:00\u201308:00 12:00\u201312:30 16:00\u201324:00"
    assert text(days[0]) == "00:00\u201324:00"  # Monday: nobody at all
    assert "Nobody is available from Wed 2026-03-04 06:00 to Wed 2026-03-04 08:00 Europe/Paris (2 h)." in page


def test_staffing_check_intervals_are_local(client: TestClient) -> None:
    checked = client.get("/console/supervisor/rota", params={"week": "2026-03-04", "calls": 40}).text
    rows = re.findall(r"<tr><td>(\w{3} \d\d:\d\d)</td><td>40.0</td>", checked)
    assert rows[0] == "Mon 00:00" and len(rows) == 48  # the week starts at midnight in Paris (23:00 UTC)


def csrf(client: TestClient) -> str:
    found = re.search(r'"X-CSRF-Token": "([^"]+)"', client.get("/console/supervisor").text)
    assert found is not None
    return found.group(1)


def moves_of(page: str, shift_id: int | None) -> dict[str, list[str]]:
    found = re.search(rf'data-shift-id="{shift_id}"[^>]*data-moves="([^"]+)"', page)
    assert found is not None
    moves: dict[str, list[str]] = json.loads(html.unescape(found.group(1)))
    return moves


def test_a_drop_on_another_day_moves_the_shift_through_the_api(client: TestClient, store: RotaStore) -> None:
    shift = store.add_shift(Shift.local("1001", datetime(2026, 3, 4, 8), datetime(2026, 3, 4, 16), SITE), "test")
    page = client.get("/console/supervisor").text
    target = moves_of(page, shift.id)["1"]  # what the browser sends for a drop one day later
    assert target == ["2026-03-05T08:00:00+01:00", "2026-03-05T16:00:00+01:00"]
    moved = client.put(f"/api/v1/shifts/{shift.id}", headers={"X-CSRF-Token": csrf(client)},
                       json={"agent": "1002", "start": target[0], "end": target[1], "timezone": SITE})
    assert moved.status_code == 200, moved.text
    page = client.get("/console/supervisor").text
    assert f"#{shift.id}" in cell(page, "1002", THU) and f"#{shift.id}" not in cell(page, "1001", WED)

    # A drop one day earlier would leave Bea 2 h of rest after her Tuesday night: refused, nothing changed.
    back = moves_of(page, shift.id)["-1"]
    refused = client.put(f"/api/v1/shifts/{shift.id}", headers={"X-CSRF-Token": csrf(client)},
                         json={"agent": "1002", "start": back[0], "end": back[1], "timezone": SITE})
    assert refused.status_code == 422
    finding = refused.json()["findings"][0]
    assert (finding["rule"], finding["agent"]) == ("min_rest", "1002")
    assert [s["start"] for s in finding["shifts"]] == ["2026-03-03T22:00:00+01:00", "2026-03-04T08:00:00+01:00"]
    assert [(s.start, s.extension) for s in store.list_shifts(NOW - timedelta(days=3), NOW + timedelta(days=7))] \
        == [(datetime(2026, 3, 5, 7, tzinfo=UTC), "1002")]


def test_pattern_shift_dropped_on_another_agent_is_a_swap(client: TestClient, store: RotaStore) -> None:
    page = client.get("/console/supervisor").text
    night = re.search(r'<span class="shift duty pattern"[^>]*data-start="([^"]+)"', cell(page, "1002", TUE))
    assert night is not None and night.group(1) == "2026-03-03T21:00:00+00:00"
    swapped = client.post("/api/v1/swaps", headers={"X-CSRF-Token": csrf(client)},
                          json={"agent": "1002", "start": night.group(1), "to": "1001"})
    assert swapped.status_code == 201, swapped.text
    page = client.get("/console/supervisor").text
    assert 'class="shift duty swap"' in cell(page, "1001", TUE) and "22:00" not in text(cell(page, "1002", TUE))
    assert f'data-swap-id="{swapped.json()["id"]}"' in cell(page, "1001", WED)
    assert 'data-origin="1002"' in cell(page, "1001", WED)
