"""The admin's users section in a real browser: set a phone's SIP password (shown once, its digests in the
view Kamailio reads), rotate it, remove it; every click goes through the JSON API with the session's CSRF
token."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import Engine, text

from accounts.model import Role
from accounts.store import AccountStore
from api.app import create_app
from api.deps import Services
from cases.store import CaseStore
from shifts.store import RotaStore
from tests.browser.conftest import ARTIFACTS, PASSWORD, serving, sign_in

pytestmark = pytest.mark.browser

REALM = "sip.example.org"


@pytest.fixture
def admin_site(engine: Engine) -> Iterator[Any]:
    accounts = AccountStore(engine)
    now = datetime.now(UTC)
    accounts.create_user("al", PASSWORD, Role.AGENT, now, extension="1001", display_name="Al Agent")
    accounts.create_user("root", PASSWORD, Role.ADMIN, now, display_name="Root Admin")
    app = create_app(Services(cases=CaseStore(engine), rota=RotaStore(engine), accounts=accounts, sip_realm=REALM))
    with serving(app) as base_url:
        yield type("AdminSite", (), {"base_url": base_url, "accounts": accounts})()


def view(engine: Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT username, domain, ha1 FROM sip_subscribers")).tuples())


def ha1(password: str) -> str:
    return hashlib.md5(f"1001:{REALM}:{password}".encode()).hexdigest()


def test_admin_sets_rotates_and_removes_a_phone_sip_password(browser: Any, admin_site: Any, engine: Engine) -> None:
    page = sign_in(browser, admin_site, "root")
    page.on("dialog", lambda dialog: dialog.accept())  # the confirmations of rotate and remove
    al = admin_site.accounts.find_user("al").id
    row = page.locator(f"#user-{al}")
    expect(row.locator(".sip-state")).to_have_text("none")

    row.locator("button.sip-set").click()
    expect(page.locator("#sip-password-shown")).to_contain_text("New SIP password of 1001 (realm sip.example.org)")
    first = page.locator("#sip-password").inner_text()
    assert len(first) >= 16
    assert view(engine) == [("1001", REALM, ha1(first))]
    expect(row.locator(".sip-state")).to_contain_text("set ")
    page.screenshot(path=str(ARTIFACTS / "console-users.png"), full_page=True)

    row.locator("button.sip-set").click()  # now "New SIP password", after a confirmation
    expect(page.locator("#sip-password")).not_to_have_text(first)
    second = page.locator("#sip-password").inner_text()
    assert view(engine) == [("1001", REALM, ha1(second))]

    row.locator("button.sip-remove").click()
    expect(row.locator(".sip-state")).to_have_text("none")
    expect(page.locator("#sip-password-shown")).to_be_hidden()
    assert view(engine) == []

    page.reload()
    expect(page.locator(f"#user-{al} .sip-state")).to_have_text("none")
    assert first not in page.content() and second not in page.content()
