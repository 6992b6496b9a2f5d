"""The admin's users section of the console over a real account store: each user with their phone's SIP
password state and the buttons that set (through the JSON API, shown once) or remove it; not for supervisors.
(tests/browser/test_users_console.py clicks the buttons in a real browser.)"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from accounts.model import Role
from accounts.store import AccountStore
from api.app import create_app
from api.deps import Services
from cases.store import CaseStore
from shifts.store import RotaStore
from tests.integration.test_console import sign_in

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
PASSWORD = "a long password"
REALM = "sip.example.org"


@pytest.fixture
def site(engine: Engine) -> tuple[TestClient, AccountStore]:
    accounts = AccountStore(engine)
    al = accounts.create_user("al", PASSWORD, Role.AGENT, NOW, extension="1001", display_name="Al Agent")
    accounts.create_user("bo", PASSWORD, Role.AGENT, NOW, extension="1002", display_name="Bo Agent")
    accounts.create_user("sue", PASSWORD, Role.SUPERVISOR, NOW)
    accounts.create_user("root", PASSWORD, Role.ADMIN, NOW)
    accounts.set_sip_password(al.id, REALM, NOW, "al's desk phone 42")
    app = create_app(Services(cases=CaseStore(engine), rota=RotaStore(engine, clock=lambda: NOW), accounts=accounts,
                              clock=lambda: NOW, sip_realm=REALM))
    return TestClient(app), accounts


def test_admin_sees_users_with_their_sip_password_state_and_buttons(site: tuple[TestClient, AccountStore]) -> None:
    client, accounts = site
    sign_in(client, "root")
    page = client.get("/console/supervisor").text
    assert 'id="users"' in page and 'hx-get="/console/admin/users"' in page
    section = client.get("/console/admin/users").text
    al, bo = accounts.find_user("al").id, accounts.find_user("bo").id
    rows = {m.group(1): m.group(2) for m in re.finditer(r'<tr id="user-(\d+)"(.*?)</tr>', section, re.S)}
    assert len(rows) == 4
    assert "set 2026-03-04 10:00 UTC" in rows[str(al)]
    assert f'hx-put="/api/v1/users/{al}/sip-password"' in rows[str(al)]
    assert f'hx-delete="/api/v1/users/{al}/sip-password"' in rows[str(al)]
    assert "New SIP password" in rows[str(al)] and "hx-confirm" in rows[str(al)]  # rotating asks first
    assert ">none<" in rows[str(bo)] and "Set SIP password" in rows[str(bo)]
    assert f'hx-delete="/api/v1/users/{bo}/sip-password"' not in rows[str(bo)]  # nothing to remove
    sue = rows[str(accounts.find_user("sue").id)]
    assert "no extension" in sue and "hx-put" not in sue
    assert 'id="sip-realm">sip.example.org<' in section


def test_a_sip_password_of_an_old_realm_is_pointed_out(site: tuple[TestClient, AccountStore]) -> None:
    client, accounts = site
    accounts.set_sip_password(accounts.find_user("bo").id, "old.example.org", NOW, "bo's desk phone 42")
    sign_in(client, "root")
    section = client.get("/console/admin/users").text
    assert 'id="sip-stale"' in section and "set for the old realm old.example.org" in section


def test_the_section_is_for_admins_only(site: tuple[TestClient, AccountStore]) -> None:
    client, _ = site
    sign_in(client, "sue")
    page = client.get("/console/supervisor")
    assert page.status_code == 200 and 'id="users"' not in page.text
    assert client.get("/console/admin/users").status_code == 403
