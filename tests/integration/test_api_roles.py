"""Every route of the app, every role: each gets exactly what it must, and a refusal carries no data.

The table below is the access policy. The test walks ``app.routes``: a route that is not in the table
(a new endpoint nobody classified) fails the test, as does a route in the table that no longer exists.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from starlette.routing import Mount, Route

from accounts.model import Role, TokenKind
from accounts.store import AccountStore
from api.app import create_app
from api.deps import Services
from cases.articles import ArticleStore
from cases.store import CaseStore
from hotline.bootstrap import CaseRecorder
from routing.distributor import Distributor, FlowSettings
from routing.queuefile import default_config
from routing.store import RoutingStore
from shifts.store import RotaStore

pytestmark = pytest.mark.integration

PUBLIC = "public"
ANY = frozenset(Role)
STAFF = frozenset({Role.SUPERVISOR, Role.ADMIN})
ADMIN = frozenset({Role.ADMIN})

_ROTA_READS = ["/agents", "/agents/{extension}", "/templates", "/patterns", "/shifts", "/absences", "/breaks",
               "/holidays", "/swaps", "/rota/on-shift", "/rota/validation", "/rota/audit", "/rota/export.ics",
               "/rota/export.csv"]
_ROTA_WRITES = [("POST", "/agents"), ("DELETE", "/agents/{extension}"), ("POST", "/templates"),
                ("PUT", "/templates/{template_id}"), ("DELETE", "/templates/{template_id}"), ("POST", "/patterns"),
                ("PUT", "/patterns/{pattern_id}"), ("DELETE", "/patterns/{pattern_id}"), ("POST", "/shifts"),
                ("PUT", "/shifts/{shift_id}"), ("DELETE", "/shifts/{shift_id}"), ("POST", "/shifts/copy-week"),
                ("POST", "/absences"), ("PUT", "/absences/{absence_id}"), ("DELETE", "/absences/{absence_id}"),
                ("POST", "/breaks"), ("PUT", "/breaks/{break_id}"), ("DELETE", "/breaks/{break_id}"),
                ("POST", "/holidays"),
                ("PUT", "/holidays/{holiday_id}"), ("DELETE", "/holidays/{holiday_id}"), ("POST", "/swaps"),
                ("PUT", "/swaps/{swap_id}"), ("DELETE", "/swaps/{swap_id}"),
                ("POST", "/rota/import"), ("POST", "/rota/import-file"), ("POST", "/rota/coverage"),
                ("POST", "/rota/staffing")]

POLICY: dict[tuple[str, str], str | frozenset[Role]] = {
    ("GET", "/health"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("POST", "/api/v1/session"): PUBLIC,
    ("DELETE", "/api/v1/session"): ANY,
    ("GET", "/api/v1/me"): ANY,
    ("GET", "/api/v1/me/tokens"): ANY,
    ("POST", "/api/v1/me/tokens"): ANY,
    ("DELETE", "/api/v1/me/tokens/{token_id}"): ANY,
    ("GET", "/api/v1/cases"): ANY,
    ("GET", "/api/v1/cases/{case_id}"): ANY,
    ("POST", "/api/v1/cases"): ANY,
    ("PATCH", "/api/v1/cases/{case_id}"): ANY,
    ("POST", "/api/v1/cases/{case_id}/notes"): ANY,
    ("POST", "/api/v1/cases/{case_id}/escalate"): ANY,
    ("POST", "/api/v1/cases/{case_id}/close"): ANY,
    ("GET", "/api/v1/cases/{case_id}/suggestions"): ANY,
    ("GET", "/api/v1/calls/{sip_call_id:path}"): ANY,
    ("GET", "/api/v1/kb/articles"): ANY,
    ("GET", "/api/v1/kb/articles/{article_id}"): ANY,
    ("GET", "/api/v1/kb/suggestions"): ANY,
    ("POST", "/api/v1/kb/articles"): STAFF,
    ("PUT", "/api/v1/kb/articles/{article_id}"): STAFF,
    ("DELETE", "/api/v1/kb/articles/{article_id}"): STAFF,
    ("GET", "/api/v1/wallboard"): STAFF,
    ("GET", "/"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): ANY,
    ("GET", "/console"): ANY,
    ("GET", "/console/agent"): ANY,
    ("GET", "/console/agent/desk"): ANY,
    ("GET", "/console/agent/cases"): ANY,
    ("GET", "/console/agent/cases/{case_id}"): ANY,
    ("GET", "/console/supervisor"): STAFF,
    ("GET", "/console/supervisor/wallboard"): STAFF,
    ("GET", "/console/supervisor/reports"): STAFF,
    ("GET", "/console/supervisor/rota"): STAFF,
    ("GET", "/console/supervisor/queues"): STAFF,
    ("GET", "/console/supervisor/queues/figures"): STAFF,
    ("GET", "/console/admin/users"): ADMIN,
    ("GET", "/console/events"): ANY,
    ("GET", "/static"): PUBLIC,
    ("GET", "/api/v1/users"): ADMIN,
    ("POST", "/api/v1/users"): ADMIN,
    ("GET", "/api/v1/users/{user_id}"): ADMIN,
    ("PATCH", "/api/v1/users/{user_id}"): ADMIN,
    ("PUT", "/api/v1/users/{user_id}/sip-password"): ADMIN,
    ("DELETE", "/api/v1/users/{user_id}/sip-password"): ADMIN,
    ("GET", "/api/v1/calls/{call_id:path}/transcript/live"): ANY,  # agents: their own calls only
    ("GET", "/api/v1/queues"): STAFF,
    ("GET", "/api/v1/queues/{name}"): STAFF,
    ("GET", "/api/v1/queues/{name}/metrics"): STAFF,
    ("PATCH", "/api/v1/queues/{name}"): STAFF,
    ("GET", "/api/v1/queues/{name}/changes"): STAFF,
    ("POST", "/api/v1/queues/{name}/reset"): STAFF,
    ("POST", "/api/v1/queues/{name}/close"): STAFF,
    ("POST", "/api/v1/queues/{name}/open"): STAFF,
    ("GET", "/api/v1/queue-log"): STAFF,
    ("POST", "/api/v1/queue-calls/{call_id}/transfer"): STAFF,
    ("GET", "/api/v1/agent-states"): STAFF,
    ("GET", "/api/v1/reports/intervals"): STAFF,
    ("GET", "/api/v1/reports/intervals.csv"): STAFF,
    ("GET", "/api/v1/reports/agents"): STAFF,
    ("GET", "/api/v1/reports/agents.csv"): STAFF,
    # an agent their own extension only (the table's agent is 1001; another's is refused below)
    ("GET", "/api/v1/agents/{extension}/state"): ANY,
    ("POST", "/api/v1/agents/{extension}/pause"): ANY,
    ("POST", "/api/v1/agents/{extension}/available"): ANY,
    ("POST", "/api/v1/agents/{extension}/logout"): ANY,
    **{("GET", "/api/v1" + path): STAFF for path in _ROTA_READS},
    **{(method, "/api/v1" + path): STAFF for method, path in _ROTA_WRITES},
}

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app serves, with the prefixes of included routers applied."""
    found: set[tuple[str, str]] = set()
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        assert context.path is not None
        if isinstance(route, Mount):  # static files: every method but GET/HEAD is refused by the app
            found.add(("GET", context.path))
            continue
        assert isinstance(route, APIRoute | Route), f"a route of an unknown kind: {route!r}"
        found.update((method, context.path) for method in route.methods or () if method != "HEAD")
    return found


@pytest.fixture
def app_and_tokens(engine: Engine) -> Iterator[tuple[FastAPI, dict[Role, str]]]:
    accounts = AccountStore(engine)
    tokens = {}
    for role in Role:
        user = accounts.create_user(f"the-{role}", "a long password", role, T0,
                                    extension="1001" if role is Role.AGENT else None)
        tokens[role], _ = accounts.issue_token(user.id, TokenKind.API, "test", T0)
    # the routing the agent-state and queue routes read; no call is made, so no transcriber is needed
    routing = Distributor(config=default_config(), recorder=CaseRecorder(CaseStore(engine)),
                          transcriber=None, clock=lambda: datetime.now(UTC),  # type: ignore[arg-type]
                          settings=FlowSettings())
    app = create_app(Services(cases=CaseStore(engine), rota=RotaStore(engine), accounts=accounts,
                              articles=ArticleStore(engine), routing=routing, routing_log=RoutingStore(engine)))
    yield app, tokens
    routing.stop()


def test_every_route_is_in_the_policy(app_and_tokens: tuple[FastAPI, dict[Role, str]]) -> None:
    app, _ = app_and_tokens
    present = routes(app)
    assert present - POLICY.keys() == set(), "routes nobody classified: add them to POLICY"
    assert POLICY.keys() - present == set(), "POLICY names routes that no longer exist"


def _concrete(path: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(0)
        return "1001" if "extension" in name else "x" if name.endswith(":path}") else "987654"

    return re.sub(r"\{[^}]+\}", value, path)


def test_each_role_gets_exactly_what_it_must(app_and_tokens: tuple[FastAPI, dict[Role, str]]) -> None:
    app, tokens = app_and_tokens
    client = TestClient(app)
    checked = 0
    for (method, path), allowed in sorted(POLICY.items(), key=lambda item: item[0]):
        url = _concrete(path) if path != "/static" else "/static/console.js"
        if path == "/console/events":
            url += "?limit=1"
        for role in (None, *Role):
            headers = {"Authorization": f"Bearer {tokens[role]}"} if role is not None else {}
            response = client.request(method, url, headers=headers, json={} if method in ("POST", "PUT", "PATCH")
                                      else None)
            may = allowed == PUBLIC or (role is not None and role in allowed)
            where = f"{method} {path} as {role or 'anonymous'}: {response.status_code} {response.text[:200]}"
            if may:
                assert response.status_code not in (401, 403), where
            else:
                assert response.status_code == (401 if role is None else 403), where
                body = response.json()
                assert set(body) == {"detail"} and isinstance(body["detail"], str) and body["detail"], where
                if role is None:
                    assert response.headers["www-authenticate"] == "Bearer", where
            checked += 1
    assert checked == 4 * len(POLICY)


def test_an_agent_sees_and_changes_only_their_own_state(app_and_tokens: tuple[FastAPI, dict[Role, str]]) -> None:
    app, tokens = app_and_tokens
    client = TestClient(app)
    agent = {"Authorization": f"Bearer {tokens[Role.AGENT]}"}
    for method, path in [("GET", "/state"), ("POST", "/available"), ("POST", "/logout")]:
        response = client.request(method, f"/api/v1/agents/1002{path}", headers=agent)
        assert response.status_code == 403, (method, path, response.text)
    response = client.post("/api/v1/agents/1002/pause", headers=agent, json={"reason": "lunch"})
    assert response.status_code == 403, response.text


def test_bad_credentials_are_401_never_data(app_and_tokens: tuple[FastAPI, dict[Role, str]]) -> None:
    app, tokens = app_and_tokens
    client = TestClient(app)
    for headers in ({"Authorization": "Bearer hl_nope"}, {"Authorization": f"Basic {tokens[Role.ADMIN]}"},
                    {"Authorization": "Bearer"}, {"Cookie": "hotline_session=hl_nope"}):
        response = client.get("/api/v1/cases", headers=headers)
        assert response.status_code == 401
        assert set(response.json()) == {"detail"}
