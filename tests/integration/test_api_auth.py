"""Sign-in, the session cookie and its CSRF token, API tokens, and an agent's view of cases, over real stores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from accounts.model import Role
from accounts.store import AccountStore
from api.app import create_app
from api.deps import Services
from cases.store import CaseStore
from shifts.store import RotaStore

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PASSWORD = "a long password"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def accounts(engine: Engine) -> AccountStore:
    store = AccountStore(engine)
    store.create_user("al", PASSWORD, Role.AGENT, T0, extension="1001")
    store.create_user("bo", PASSWORD, Role.AGENT, T0, extension="1002")
    store.create_user("sue", PASSWORD, Role.SUPERVISOR, T0)
    store.create_user("root", PASSWORD, Role.ADMIN, T0)
    return store


@pytest.fixture
def client(engine: Engine, accounts: AccountStore, clock: Clock) -> Iterator[TestClient]:
    app = create_app(Services(cases=CaseStore(engine), rota=RotaStore(engine), accounts=accounts, clock=clock,
                              session_ttl=timedelta(hours=1)))
    with TestClient(app) as client:
        yield client


def sign_in(client: TestClient, username: str) -> str:
    response = client.post("/api/v1/session", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["csrf_token"])


def test_sign_in_sets_an_httponly_samesite_cookie_and_a_csrf_token(client: TestClient) -> None:
    response = client.post("/api/v1/session", json={"username": "sue", "password": PASSWORD})
    cookie = response.headers["set-cookie"]
    assert "hotline_session=hl_" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert response.json()["user"]["role"] == "supervisor"
    me = client.get("/api/v1/me").json()
    assert (me["username"], me["csrf_token"]) == ("sue", response.json()["csrf_token"])


@pytest.mark.parametrize(("username", "password"), [("sue", "wrong password"), ("nobody", PASSWORD)])
def test_wrong_name_or_password_gets_the_same_401(client: TestClient, username: str, password: str) -> None:
    response = client.post("/api/v1/session", json={"username": username, "password": password})
    assert response.status_code == 401
    assert response.json() == {"detail": "The user name or password is wrong, or the user is deactivated."}
    assert "set-cookie" not in response.headers


def test_a_change_under_the_cookie_needs_the_csrf_token(client: TestClient) -> None:
    csrf = sign_in(client, "sue")
    refused = client.post("/api/v1/me/tokens", json={"label": "x"})
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    assert client.post("/api/v1/me/tokens", json={"label": "x"}, headers={"X-CSRF-Token": "0" * 64}) \
        .status_code == 403
    assert client.get("/api/v1/me/tokens").json() == []  # nothing was created
    made = client.post("/api/v1/me/tokens", json={"label": "x"}, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201


def test_sign_out_ends_the_session_and_expiry_too(client: TestClient, clock: Clock) -> None:
    csrf = sign_in(client, "sue")
    cookie = client.cookies["hotline_session"]
    assert client.delete("/api/v1/session", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get("/api/v1/me", cookies={"hotline_session": cookie}).status_code == 401
    client.cookies.clear()
    sign_in(client, "sue")
    clock.now = T0 + timedelta(hours=1)
    assert client.get("/api/v1/me").status_code == 401


def test_api_token_is_shown_once_works_and_can_be_revoked(client: TestClient) -> None:
    csrf = sign_in(client, "sue")
    made = client.post("/api/v1/me/tokens", json={"label": "script"}, headers={"X-CSRF-Token": csrf}).json()
    listed = client.get("/api/v1/me/tokens").json()
    assert [t["label"] for t in listed] == ["script"] and "token" not in listed[0]
    client.cookies.clear()
    bearer = {"Authorization": f"Bearer {made['token']}"}
    assert client.get("/api/v1/me", headers=bearer).json()["username"] == "sue"
    assert client.post("/api/v1/me/tokens", json={"label": "more"}, headers=bearer).status_code == 201  # no CSRF
    assert client.delete(f"/api/v1/me/tokens/{made['id']}", headers=bearer).json()["revoked_at"] is not None
    assert client.get("/api/v1/me", headers=bearer).status_code == 401


def test_an_agent_sees_only_the_cases_they_work(client: TestClient, engine: Engine) -> None:
    cases = CaseStore(engine)
    mine = cases.call_started("a@pbx", "555", "100", "hotline-1", T0)
    cases.call_answered("a@pbx", "1001", T0 + timedelta(seconds=5))
    theirs = cases.call_started("b@pbx", "777", "100", "hotline-1", T0)
    cases.call_answered("b@pbx", "1002", T0 + timedelta(seconds=5))
    unanswered = cases.call_started("c@pbx", "888", "100", "hotline-1", T0)

    sign_in(client, "al")
    listing = client.get("/api/v1/cases").json()
    assert ([c["id"] for c in listing["items"]], listing["total"]) == ([mine], 1)
    assert client.get(f"/api/v1/cases/{mine}").status_code == 200
    for other in (theirs, unanswered):
        hidden = client.get(f"/api/v1/cases/{other}")
        assert hidden.status_code == 404 and hidden.json() == {"detail": f"There is no case with id {other}."}
    assert client.get("/api/v1/calls/a@pbx").status_code == 200
    assert client.get("/api/v1/calls/b@pbx").status_code == 404

    client.cookies.clear()
    sign_in(client, "sue")
    assert client.get("/api/v1/cases").json()["total"] == 3


def test_admin_manages_users_but_not_themselves_out(client: TestClient, accounts: AccountStore) -> None:
    csrf = sign_in(client, "root")
    headers = {"X-CSRF-Token": csrf}
    made = client.post("/api/v1/users", json={"username": "cy", "password": PASSWORD, "role": "agent",
                                              "extension": "1003"}, headers=headers)
    assert made.status_code == 201 and "password" not in made.json()
    assert client.post("/api/v1/users", json={"username": "cy", "password": PASSWORD, "role": "admin"},
                       headers=headers).status_code == 409
    assert client.post("/api/v1/users", json={"username": "dee", "password": PASSWORD, "role": "agent"},
                       headers=headers).json() == {"detail": "An agent must be linked to their rota extension."}
    root = accounts.find_user("root")
    assert client.patch(f"/api/v1/users/{root.id}", json={"active": False}, headers=headers).status_code == 409
    deactivated = client.patch(f"/api/v1/users/{made.json()['id']}", json={"active": False}, headers=headers)
    assert deactivated.json()["active"] is False
    assert accounts.authenticate("cy", PASSWORD) is None


def test_repeated_failed_sign_ins_are_refused_for_a_while_without_locking_the_user_out(
        client: TestClient, clock: Clock) -> None:
    for _ in range(5):
        assert client.post("/api/v1/session", json={"username": "sue", "password": "guess"}).status_code == 401
    refused = client.post("/api/v1/session", json={"username": "sue", "password": PASSWORD})
    assert refused.status_code == 429, "the right password is not even checked while the pair is throttled"
    assert refused.headers["Retry-After"] == "900"
    assert refused.json() == {"detail": "Too many failed sign-ins; try again in 900 s."}
    assert "set-cookie" not in refused.headers
    sign_in(client, "bo")  # another user from the same address is not held up
    clock.now = T0 + timedelta(minutes=10)
    assert client.post("/api/v1/session", json={"username": "sue", "password": PASSWORD}).headers[
        "Retry-After"] == "300"
    clock.now = T0 + timedelta(minutes=15)
    sign_in(client, "sue")


def test_the_sign_in_page_says_when_to_try_again(client: TestClient) -> None:
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    form = {"username": "al", "password": "guess", "csrf_token": token}
    codes = [client.post("/login", data=form, follow_redirects=False).status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]
    last = client.post("/login", data={**form, "password": PASSWORD}, follow_redirects=False)
    assert last.status_code == 429 and "Too many failed sign-ins" in last.text
    assert "hotline_session" not in last.headers.get("set-cookie", "")
