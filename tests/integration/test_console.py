"""The consoles as HTML over real stores: sign-in form with its CSRF cookie, the agent's and the
supervisor's pages, and the first Server-Sent Event of each (browser tests drive them in tests/browser)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

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
from routing.agents import AgentProfile
from routing.distributor import Distributor, FlowSettings
from routing.queuefile import default_config
from routing.store import RoutingStore
from shifts.rota import Agent, Shift
from shifts.store import RotaStore
from transcription.live import LiveTranscripts
from transcription.segments import Segment, SegmentRecognised

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


# -- the agent's desk over the real routing ACD -------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


class NoCallFlow:
    """The distributor's recorder and transcriber serve only SIP call flows, which these tests do not run."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"no call flow runs here, yet {name} was used")


@dataclass
class Desk:
    agent: TestClient
    supervisor: TestClient
    distributor: Distributor
    journal: RoutingStore
    cases: CaseStore
    hub: LiveTranscripts
    clock: Clock


@pytest.fixture
def world(engine: Engine) -> Desk:
    accounts, cases, rota = AccountStore(engine), CaseStore(engine), RotaStore(engine, clock=lambda: NOW)
    accounts.create_user("al", PASSWORD, Role.AGENT, NOW, extension="1001", display_name="Al")
    accounts.create_user("sue", PASSWORD, Role.SUPERVISOR, NOW)
    rota.upsert_agent(Agent("1001", "Al Agent"), actor="test")
    articles = ArticleStore(engine)
    articles.create(ArticleInput("VPN will not connect", "Renew the certificate.", ("vpn", "certificate")), NOW, "sue")
    clock, journal, hub = Clock(), RoutingStore(engine), LiveTranscripts()
    distributor = Distributor(config=default_config(), recorder=NoCallFlow(), transcriber=NoCallFlow(), clock=clock,
                              settings=FlowSettings(), journal=journal)
    distributor.update_rota([AgentProfile("1001", 1)], ["1001"])  # logs in: available, general wraps up 15 s
    app = create_app(Services(cases=cases, rota=rota, accounts=accounts, articles=articles, routing=distributor,
                              routing_log=journal, live_transcripts=hub, live=distributor.snapshot, clock=clock))
    agent, supervisor = TestClient(app), TestClient(app)
    sign_in(agent, "al")
    sign_in(supervisor, "sue")
    return Desk(agent, supervisor, distributor, journal, cases, hub, clock)


def csrf_of(page: str) -> dict[str, str]:
    token = re.search(r'"X-CSRF-Token": "([^"]+)"', page)
    assert token is not None
    return {"X-CSRF-Token": token.group(1)}


def the_desk(client: TestClient) -> str:
    html: str = client.get("/console/agent/desk").text
    return html


def test_the_desk_shows_the_state_its_time_and_the_pause_reason_and_agents_change_their_own(world: Desk) -> None:
    page = world.agent.get("/console/agent").text
    headers = csrf_of(page)
    assert 'id="agent-state">available<' in page
    assert f'data-since="{NOW.isoformat()}">0:00<' in page
    assert f'data-server-now="{NOW.isoformat()}"' in page  # the browser's timers run on the server's clock
    for control in ('hx-post="/api/v1/agents/1001/available"', 'hx-post="/api/v1/agents/1001/pause"',
                    'hx-post="/api/v1/agents/1001/logout"', "<option>lunch</option>", "<option>back-office</option>"):
        assert control in page
    # The state controls and the live transcript panel sit outside the fragment the event stream replaces.
    assert 'id="state-controls"' not in the_desk(world.agent) and 'id="live-transcript"' not in the_desk(world.agent)

    world.clock.now = NOW + timedelta(seconds=95)
    assert 'id="state-timer"' in the_desk(world.agent) and ">1:35<" in the_desk(world.agent)

    paused = world.agent.post("/api/v1/agents/1001/pause", json={"reason": "lunch: canteen"}, headers=headers)
    assert paused.status_code == 200, paused.text
    desk = the_desk(world.agent)
    assert 'id="agent-state">paused<' in desk and 'id="pause-reason">(lunch: canteen)<' in desk
    assert f'data-since="{world.clock.now.isoformat()}">0:00<' in desk  # time in the new state
    last = world.journal.transitions(NOW, world.clock.now + timedelta(seconds=1))[-1]
    assert (last.extension, last.after, last.by, last.reason) == ("1001", "paused", "al", "lunch: canteen")

    board = world.supervisor.get("/console/supervisor/wallboard").text  # the wallboard reads the same snapshot
    assert f'data-since="{world.clock.now.isoformat()}"' in board and "<td>lunch: canteen</td>" in board

    assert world.agent.post("/api/v1/agents/1001/pause", json={"reason": "x"}).status_code == 403  # no CSRF token
    assert world.agent.post("/api/v1/agents/2001/available", headers=headers).status_code == 403  # not theirs
    assert world.agent.post("/api/v1/agents/1001/logout", json={}, headers=headers).json()["state"] == "logged_out"
    assert 'id="agent-state">logged_out<' in the_desk(world.agent) and "pause-reason" not in the_desk(world.agent)
    refused = world.agent.post("/api/v1/agents/1001/pause", json={"reason": "break"}, headers=headers)
    assert refused.status_code == 409 and "cannot pause while logged_out" in refused.json()["detail"]
    assert world.agent.post("/api/v1/agents/1001/available", headers=headers).json()["state"] == "available"


def test_the_desk_follows_a_call_then_counts_down_routings_wrap_up(world: Desk) -> None:
    headers = csrf_of(world.agent.get("/console/agent").text)
    start = NOW + timedelta(seconds=10)
    world.clock.now = start
    world.cases.call_started("d1@pbx", "5550142", "100", "hotline-1", start)
    world.distributor.routed(lambda acd: acd.enqueue("d1@pbx", "general", start, caller="5550142"))
    world.distributor.routed(lambda acd: acd.assign(start))
    desk = the_desk(world.agent)
    assert 'id="agent-state">ringing<' in desk and "Incoming call" in desk and 'id="caller-number">5550142<' in desk
    assert "data-follow-call" not in desk  # nothing to hear before the answer

    world.distributor.routed(lambda acd: acd.answered("d1@pbx", "1001", start + timedelta(seconds=3)))
    world.cases.call_answered("d1@pbx", "1001", start + timedelta(seconds=3))
    desk = the_desk(world.agent)
    assert 'id="agent-state">on_call<' in desk and "On call" in desk and 'data-follow-call="d1@pbx"' in desk
    refused = world.agent.post("/api/v1/agents/1001/pause", json={"reason": "break"}, headers=headers)
    assert refused.status_code == 409 and "cannot pause while on_call" in refused.json()["detail"]

    # Knowledge-base suggestions from what the call has said so far, before any transcript is stored.
    case_id = world.cases.get_call("d1@pbx").case_id
    assert "VPN will not connect" not in world.agent.get(f"/console/agent/cases/{case_id}").text
    world.hub.open("d1@pbx")
    world.hub.publish(SegmentRecognised("d1@pbx", Segment("caller", 1.0, 3.0, "my vpn says certificate expired"),
                                        True))
    panel = world.agent.get(f"/console/agent/cases/{case_id}").text
    assert "VPN will not connect" in panel and "in progress: see the live transcript" in panel
    suggested = world.agent.get(f"/api/v1/cases/{case_id}/suggestions").json()
    assert [s["article"]["title"] for s in suggested] == ["VPN will not connect"]
    # Escalated during the call, level 2 gets what has been said so far.
    escalated = world.agent.post(f"/api/v1/cases/{case_id}/escalate", json={"reason": "certificate server"},
                                 headers=headers).json()
    assert escalated["notes"][-1]["text"] == (
        "Escalated to level 2: certificate server\n\n"
        f"Call d1@pbx from 5550142 at {start.isoformat()} (in progress; heard so far):\n"
        "  [    1.0 s] caller: my vpn says certificate expired")

    ended = start + timedelta(seconds=63)
    world.clock.now = ended
    world.distributor.routed(lambda acd: acd.hung_up("d1@pbx", ended))
    world.cases.call_ended("d1@pbx", ended, "answered", "caller")
    wrap_until = ended + timedelta(seconds=15)  # the general queue's wrap-up
    assert world.distributor.snapshot()["agents"][0]["wrap_until"] == wrap_until.isoformat()
    world.clock.now = ended + timedelta(seconds=5)
    desk = the_desk(world.agent)
    assert 'id="agent-state">wrap_up<' in desk and 'id="incoming-call"' not in desk
    assert f'id="wrap-up-left" data-until="{wrap_until.isoformat()}">0:10<' in desk
    assert f'id="wrap-up-case" hx-get="/console/agent/cases/{case_id}"' in desk
    assert 'data-follow-call="d1@pbx"' in desk  # the transcript's last words and its end are still to come
    assert "data-pending" in world.agent.get(f"/console/agent/cases/{case_id}").text

    world.clock.now = wrap_until
    world.distributor.tick()  # routing ends wrap-up on its own clock
    desk = the_desk(world.agent)
    assert 'id="agent-state">available<' in desk and "wrap-up-left" not in desk and "data-follow-call" not in desk
    assert f'id="last-call-case" hx-get="/console/agent/cases/{case_id}"' in desk
    world.cases.attach_transcript("d1@pbx", [SegmentInput(Speaker.CALLER, 1.0, 3.0, "my vpn says certificate expired")])
    panel = world.agent.get(f"/console/agent/cases/{case_id}").text
    assert "data-pending" not in panel and "<b>caller</b> my vpn says certificate expired" in panel
