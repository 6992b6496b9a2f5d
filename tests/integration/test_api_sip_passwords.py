"""SIP passwords through the API over a real account store: admins set (shown once), rotate and remove them;
every refusal is a 4xx with a sentence; the user resource tells whether one is set; the view Kamailio reads
follows."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from accounts.model import Role, TokenKind
from accounts.store import AccountStore
from api.app import create_app
from api.deps import Services
from cases.store import CaseStore
from shifts.store import RotaStore

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PASSWORD = "a long password"
REALM = "sip.example.org"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def accounts(engine: Engine) -> AccountStore:
    store = AccountStore(engine)
    store.create_user("al", PASSWORD, Role.AGENT, T0, extension="1001")
    store.create_user("bo", PASSWORD, Role.SUPERVISOR, T0, extension="1001")  # shares al's extension
    store.create_user("sue", PASSWORD, Role.SUPERVISOR, T0)
    store.create_user("root", PASSWORD, Role.ADMIN, T0)
    return store


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(engine: Engine, accounts: AccountStore, clock: Clock) -> Iterator[TestClient]:
    app = create_app(Services(cases=CaseStore(engine), rota=RotaStore(engine), accounts=accounts, clock=clock,
                              sip_realm=REALM))
    with TestClient(app) as client:
        yield client


def bearer(accounts: AccountStore, username: str) -> dict[str, str]:
    secret, _ = accounts.issue_token(accounts.find_user(username).id, TokenKind.API, "test", T0)
    return {"Authorization": f"Bearer {secret}"}


def view(engine: Engine) -> set[tuple[str, str, str, str]]:
    with engine.connect() as conn:
        return set(conn.execute(text("SELECT username, domain, ha1, ha1b FROM sip_subscribers")).tuples())


def digests(username: str, password: str) -> tuple[str, str, str, str]:
    def md5(s: str) -> str:
        return hashlib.md5(s.encode()).hexdigest()

    return (username, REALM, md5(f"{username}:{REALM}:{password}"), md5(f"{username}@{REALM}:{REALM}:{password}"))


def test_admin_sets_a_generated_sip_password_shown_once(client: TestClient, accounts: AccountStore,
                                                        engine: Engine, clock: Clock) -> None:
    admin = bearer(accounts, "root")
    al = accounts.find_user("al").id
    before = client.get(f"/api/v1/users/{al}", headers=admin).json()
    assert (before["sip_password_set"], before["sip_password_changed_at"]) == (False, None)

    clock.now = T0 + timedelta(hours=1)
    done = client.put(f"/api/v1/users/{al}/sip-password", json={"password": None}, headers=admin)
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["user_id"], body["username"], body["realm"]) == (al, "1001", REALM)
    assert len(body["password"]) >= 16
    assert done.headers["cache-control"] == "no-store"
    assert view(engine) == {digests("1001", body["password"])}

    # Never again: neither the user resource nor the list carry it.
    one = client.get(f"/api/v1/users/{al}", headers=admin)
    every = client.get("/api/v1/users", headers=admin)
    assert body["password"] not in one.text and body["password"] not in every.text
    assert one.json()["sip_password_set"] is True
    assert datetime.fromisoformat(one.json()["sip_password_changed_at"]) == clock.now
    assert one.json()["sip_realm"] == REALM
    listed = {u["username"]: u["sip_password_set"] for u in every.json()}
    assert listed == {"al": True, "bo": False, "sue": False, "root": False}

    rotated = client.put(f"/api/v1/users/{al}/sip-password", json={}, headers=admin).json()  # left out: generate
    assert rotated["password"] != body["password"]
    assert view(engine) == {digests("1001", rotated["password"])}


def test_admin_sets_a_chosen_sip_password_and_removes_it(client: TestClient, accounts: AccountStore,
                                                         engine: Engine) -> None:
    admin = bearer(accounts, "root")
    al = accounts.find_user("al").id
    done = client.put(f"/api/v1/users/{al}/sip-password", json={"password": "al's desk phone 42"}, headers=admin)
    assert done.status_code == 200 and done.json()["password"] == "al's desk phone 42"
    assert view(engine) == {digests("1001", "al's desk phone 42")}
    removed = client.delete(f"/api/v1/users/{al}/sip-password", headers=admin)
    assert removed.status_code == 200 and removed.json()["sip_password_set"] is False
    assert view(engine) == set()
    again = client.delete(f"/api/v1/users/{al}/sip-password", headers=admin)
    assert again.status_code == 200 and again.json()["sip_password_set"] is False


@pytest.mark.parametrize(("who", "body", "status", "says"), [
    ("al", {"password": "too-short"}, 422, "12 to 128 characters"),
    ("al", {"password": "bell\x07in-the-password"}, 422, "control"),
    ("al", {"password": PASSWORD}, 422, "console password"),
    ("sue", {"password": None}, 422, "no extension"),
    ("bo", {"password": None}, 409, "already has a SIP password, that of user 'al'"),
    (None, {"password": None}, 404, "no user"),
])
def test_each_refusal_is_a_4xx_with_a_sentence_and_changes_nothing(
        client: TestClient, accounts: AccountStore, engine: Engine, who: str | None, body: dict[str, object],
        status: int, says: str) -> None:
    admin = bearer(accounts, "root")
    al = accounts.find_user("al").id
    client.put(f"/api/v1/users/{al}/sip-password", json={"password": "al's desk phone 42"}, headers=admin)
    target = accounts.find_user(who).id if who is not None else 987654
    refused = client.put(f"/api/v1/users/{target}/sip-password", json=body, headers=admin)
    assert refused.status_code == status, refused.text
    assert isinstance(refused.json()["detail"], str) and says in refused.json()["detail"]
    assert view(engine) == {digests("1001", "al's desk phone 42")}


def test_only_admins_set_sip_passwords_even_their_own(client: TestClient, accounts: AccountStore,
                                                      engine: Engine) -> None:
    al = accounts.find_user("al").id
    for who in ("al", "sue"):
        refused = client.put(f"/api/v1/users/{al}/sip-password", json={"password": None}, headers=bearer(accounts, who))
        assert refused.status_code == 403 and "password" not in refused.json()
        assert client.delete(f"/api/v1/users/{al}/sip-password", headers=bearer(accounts, who)).status_code == 403
    assert view(engine) == set()


def test_a_changed_extension_drops_the_sip_password_and_the_answer_says_so(
        client: TestClient, accounts: AccountStore, engine: Engine) -> None:
    admin = bearer(accounts, "root")
    al = accounts.find_user("al").id
    client.put(f"/api/v1/users/{al}/sip-password", json={"password": "al's desk phone 42"}, headers=admin)
    renamed = client.patch(f"/api/v1/users/{al}", json={"display_name": "Al"}, headers=admin).json()
    assert renamed["notices"] == [] and renamed["sip_password_set"] is True
    moved = client.patch(f"/api/v1/users/{al}", json={"extension": "1009"}, headers=admin)
    assert moved.status_code == 200, moved.text
    assert moved.json()["sip_password_set"] is False and moved.json()["extension"] == "1009"
    assert len(moved.json()["notices"]) == 1 and "'1001'" in moved.json()["notices"][0]
    assert view(engine) == set()


def test_a_deactivated_user_leaves_the_view_and_comes_back(client: TestClient, accounts: AccountStore,
                                                           engine: Engine) -> None:
    admin = bearer(accounts, "root")
    al = accounts.find_user("al").id
    client.put(f"/api/v1/users/{al}/sip-password", json={"password": "al's desk phone 42"}, headers=admin)
    client.patch(f"/api/v1/users/{al}", json={"active": False}, headers=admin)
    assert view(engine) == set()
    assert client.get(f"/api/v1/users/{al}", headers=admin).json()["sip_password_set"] is True  # kept, not used
    client.patch(f"/api/v1/users/{al}", json={"active": True}, headers=admin)
    assert view(engine) == {digests("1001", "al's desk phone 42")}
