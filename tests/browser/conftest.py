"""Browser tests: the consoles served by uvicorn on a free loopback port over real stores (a SQLite file
or PostgreSQL), driven by Playwright with Debian's Chromium (headless). Screenshots go to artifacts/."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import Engine

from accounts.model import Role
from accounts.store import AccountStore
from api.app import create_app
from api.deps import Services
from cases.articles import ArticleStore
from cases.store import CaseStore
from routing.store import RoutingStore
from shifts.store import RotaStore
from tests.peers import free_port

CHROMIUM = os.environ.get("HOTLINE_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
PASSWORD = "a long password"

pytestmark = pytest.mark.browser


@dataclass
class Site:
    base_url: str
    cases: CaseStore
    rota: RotaStore
    accounts: AccountStore
    articles: ArticleStore
    routing_log: RoutingStore
    live: dict[str, Any] = field(default_factory=lambda: {"waiting": [], "agents": [], "live_calls": 0})
    skew: timedelta = timedelta(0)
    """How far the server's clock is ahead of the browser's (the consoles' timers must not care)."""

    def now(self) -> datetime:
        return datetime.now(UTC) + self.skew


@pytest.fixture
def site(engine: Engine) -> Iterator[Site]:
    accounts, cases, rota = AccountStore(engine), CaseStore(engine), RotaStore(engine)
    articles = ArticleStore(engine)
    now = datetime.now(UTC)
    accounts.create_user("al", PASSWORD, Role.AGENT, now, extension="1001", display_name="Al Agent")
    accounts.create_user("sue", PASSWORD, Role.SUPERVISOR, now, display_name="Sue Supervisor")
    state = Site("", cases, rota, accounts, articles, RoutingStore(engine))
    app = create_app(Services(cases=cases, rota=rota, accounts=accounts, articles=articles,
                              routing_log=state.routing_log, live=lambda: state.live, clock=state.now))
    with serving(app) as base_url:
        state.base_url = base_url
        yield state


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread on a free loopback port; its base URL. Open event streams are
    cut after 2 s at shutdown (a browser may still hold one)."""
    port = free_port(socket.SOCK_STREAM)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off",
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, name="console-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the console server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
    assert not thread.is_alive()


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright."""
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail(f"{CHROMIUM} is missing: scripts/setup --tests installs Chromium")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


def sign_in(browser: Any, site: Site, username: str) -> Any:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(10_000)
    page.goto(site.base_url + "/")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url("**/console/**")
    return page
