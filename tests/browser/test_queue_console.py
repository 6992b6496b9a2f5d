"""The supervisor's Queues section in a real browser over a running routing core: live figures follow the
queue, a settings form saves through the API (the json-form extension), a refused change shows the
API's sentence, and a queue is closed from its row."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import Engine

from accounts.model import Role
from accounts.store import AccountStore
from api.app import create_app
from api.deps import Services
from cases.articles import ArticleStore
from cases.store import CaseStore
from routing.agents import AgentProfile
from routing.distributor import Distributor, FlowSettings
from routing.queuefile import default_config
from routing.store import RoutingStore
from shifts.store import RotaStore
from tests.browser.conftest import ARTIFACTS, PASSWORD, serving, sign_in

pytestmark = pytest.mark.browser


class NullRecorder:
    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


@pytest.fixture
def routed_site(engine: Engine) -> Iterator[tuple[Any, Distributor]]:
    accounts = AccountStore(engine)
    accounts.create_user("sue", PASSWORD, Role.SUPERVISOR, datetime.now(UTC), display_name="Sue Supervisor")
    store = RoutingStore(engine)
    routing = Distributor(config=default_config(), recorder=NullRecorder(), transcriber=NullRecorder(),
                          clock=lambda: datetime.now(UTC), settings=FlowSettings(), journal=store, queue_store=store)
    routing.update_rota([AgentProfile("1001", 1)], [])
    app = create_app(Services(cases=CaseStore(engine), rota=RotaStore(engine), accounts=accounts,
                              articles=ArticleStore(engine), routing=routing, routing_log=store))
    try:
        with serving(app) as base_url:
            yield SimpleNamespace(base_url=base_url), routing
    finally:
        routing.stop()


def test_supervisor_tunes_a_queue_and_closes_another(browser: Any, routed_site: Any) -> None:
    site, routing = routed_site
    page = sign_in(browser, site, "sue")
    general = page.locator('#queue-figures tr[data-queue="general"]')
    expect(general.locator(".q-waiting")).to_have_text("0")
    routing.routed(lambda acd: acd.enqueue("w1@pbx", "general", datetime.now(UTC)))
    expect(general.locator(".q-waiting")).to_have_text("1")  # the figures follow the queue, no reload

    page.click("#queue-general summary")
    form = page.locator("#queue-general form")
    form.locator("[name=ring_timeout]").fill("25")
    form.locator("[name=strategy]").select_option("ring-all")
    form.locator("[name=announce_every]").fill("")
    form.locator("button[type=submit]").click()
    expect(page.locator("#flash")).to_have_text("Saved.")
    q = routing.acd.config.queue("general")
    assert (q.ring_timeout, q.strategy.value, q.announce_every) == (25.0, "ring-all", None)
    expect(page.locator("#queue-general .queue-changes")).to_contain_text("ring_timeout 15.0 → 25.0")

    expect(page.locator("#queue-general")).to_have_attribute("open", "")  # the saved form stays open
    form.locator("[name=overflow_to]").select_option("network")
    form.locator("button[type=submit]").click()
    expect(page.locator("#flash")).to_contain_text("422 queue 'general': overflowing to 'network' makes a loop")
    assert routing.acd.config.queue("general").overflow_to is None

    page.locator('#queue-figures tr[data-queue="network"] .queue-close').click()
    expect(page.locator('#queue-figures tr[data-queue="network"] .q-state')).to_contain_text("closed")
    assert routing.acd.is_closed("network")
    page.screenshot(path=str(ARTIFACTS / "console-supervisor-queues.png"), full_page=True)
