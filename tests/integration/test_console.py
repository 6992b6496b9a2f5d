"""The consoles as HTML over real stores: sign-in form with its CSRF cookie, the agent's and the
supervisor's pages, and the first Server-Sent Event of each (browser tests drive them in tests/browser)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from accounts.model import Role
from accounts.store import AccountStore
from api.app import create_app
from api.deps import Services
from cases.articles import ArticleStore
from cases.knowledge import ArticleInput
from cases.model import SegmentInput, Speaker
from cases.store import CaseStore
from shifts.rota import Agent, Shift
from shifts.store import RotaStore

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)  # a Wednesday
PASSWORD = "a long password"


@pytest.fixture
def client(engine: Engine) -> TestClient:
    accounts, cases, rota = AccountStore(engine), CaseStore(engine), RotaStore(engine, clock=lambda: NOW)
    accounts.create_user("al", PASSWORD, Role.AGENT, NOW, extension="1001", display_name="Al")
    accounts.create_user("sue", PASSWORD, Role.SUPERVISOR, NOW)
    rota.upsert_agent(Agent("1001", "Al Agent"), actor="test")
    rota.add_shift(Shift.local("1001", datetime(2026, 3, 4, 8), datetime(2026, 3, 4, 16), "UTC"), "test")
    articles = ArticleStore(engine)
    articles.create(ArticleInput("Printer shows offline", "Restart the spooler.", ("printer", "offline")), NOW, "sue")
    cases.call_started("c1@pbx", "5550101", "100", "hotline-1", NOW - timedelta(minutes=5))
    cases.call_queued("c1@pbx", NOW - timedelta(minutes=5))
    cases.call_answered("c1@pbx", "1001", NOW - timedelta(minutes=4))
    cases.attach_transcript("c1@pbx", [SegmentInput(Speaker.CALLER, 1.0, 3.0, "my printer is offline")])
    live = {"waiting": [], "agents": [{"extension": "1001", "state": "on_call", "call_id": "c1@pbx",
                                       "on_shift": True}], "live_calls": 1}
    app = create_app(Services(cases=cases, rota=rota, accounts=accounts, articles=articles, live=lambda: live,
                              clock=lambda: NOW))
    return TestClient(app)


def sign_in(client: TestClient, username: str) -> None:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    done = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)},
                       follow_redirects=False)
    assert (done.status_code, done.headers["location"]) == (303, "/console")


def test_sign_in_form_needs_its_csrf_cookie_and_the_right_password(client: TestClient) -> None:
    assert client.post("/login", data={"username": "al", "password": PASSWORD, "csrf_token": "forged"}
                       ).status_code == 403
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    wrong = client.post("/login", data={"username": "al", "password": "nope", "csrf_token": token})
    assert wrong.status_code == 401 and "wrong" in wrong.text and "hotline_session" not in client.cookies


def test_a_browser_without_a_session_is_sent_to_sign_in(client: TestClient) -> None:
    page = client.get("/console/agent", headers={"Accept": "text/html"}, follow_redirects=False)
    assert (page.status_code, page.headers["location"]) == (303, "/login")
    assert client.get("/console/agent").status_code == 401  # a script gets the JSON refusal


def test_agent_console_shows_the_call_the_cases_and_suggestions(client: TestClient) -> None:
    sign_in(client, "al")
    assert client.get("/console", follow_redirects=False).headers["location"] == "/console/agent"
    page = client.get("/console/agent").text
    assert 'id="caller-number">5550101<' in page and "on_call" in page
    assert "X-CSRF-Token" in page and "/static/vendor/htmx-2.0.11.min.js" in page
    case_id = re.search(r"/console/agent/cases/(\d+)", page).group(1)  # type: ignore[union-attr]
    case = client.get(f"/console/agent/cases/{case_id}").text
    assert "Printer shows offline" in case and "my printer is offline" in case
    assert client.get("/console/supervisor").status_code == 403
    with client.stream("GET", "/console/events?limit=1") as events:
        body = "".join(events.iter_text())
    assert body.startswith("event: desk\n") and "5550101" in body


def test_supervisor_console_shows_wallboard_rota_grid_gaps_and_staffing(client: TestClient) -> None:
    sign_in(client, "sue")
    page = client.get("/console/supervisor").text
    assert 'id="wb-live">1<' in page and "Al Agent (1001)" in page
    assert "08:00\u201316:00" in page and "No agents" not in page
    assert '<li class="gap">' in page  # nobody outside 08:00-16:00 on Wednesday
    checked = client.get("/console/supervisor/rota", params={"week": "2026-03-04", "calls": 40}).text
    assert 'id="staffing"' in checked and "<td>40.0</td>" in checked
    with client.stream("GET", "/console/events?limit=1") as events:
        body = "".join(events.iter_text())
    assert body.startswith("event: wallboard\n") and "Al Agent" in body


def test_sign_out_form_needs_the_session_csrf_token(client: TestClient) -> None:
    sign_in(client, "al")
    page = client.get("/console/agent").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    assert client.post("/logout", data={"csrf_token": "0" * 64}).status_code == 403
    assert client.get("/api/v1/me").status_code == 200  # still signed in
    session = client.cookies["hotline_session"]
    done = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert (done.status_code, done.headers["location"]) == (303, "/login")
    client.cookies.clear()
    assert client.get("/api/v1/me", cookies={"hotline_session": session}).status_code == 401  # revoked
