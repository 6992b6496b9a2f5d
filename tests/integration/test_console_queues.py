"""The supervisor console's queues section over real stores and a running routing core: live figures,
the settings form sent as the console's json-form extension sends it (every field as text, empty ones as
null, with the session's CSRF header), refusals as the API's sentence, open/close, and the recent changes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient
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
from tests.integration.test_console import PASSWORD, sign_in

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


class NullRecorder:
    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


class FormFields(HTMLParser):
    """The fields of the form whose ``hx-patch`` is ``action``, as the json-form extension would send them:
    inputs by value, selects by their selected option (its value, or its text)."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action, self.inside = action, False
        self.fields: dict[str, str] = {}
        self._select: str | None = None
        self._option: dict[str, str | None] | None = None
        self._first: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("hx-patch") == self.action
        elif self.inside and tag == "input" and a.get("name"):
            self.fields[str(a["name"])] = a.get("value") or ""
        elif self.inside and tag == "select":
            self._select = a.get("name")
        elif self.inside and tag == "option" and self._select:
            self._option = a

    def handle_data(self, data: str) -> None:
        if self._option is not None and self._select:
            value = self._option.get("value")
            value = data if value is None else value
            self._first.setdefault(self._select, value)
            if "selected" in self._option:
                self.fields[self._select] = value
            self._option = None

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select:
            self.fields.setdefault(self._select, self._first.get(self._select, ""))
            self._select = None


def form_body(html: str, queue: str) -> dict[str, str | None]:
    parser = FormFields(f"/api/v1/queues/{queue}")
    parser.feed(html)
    assert parser.fields, f"no settings form for {queue}"
    return {k: (None if v == "" else v) for k, v in parser.fields.items()}


@pytest.fixture
def console(engine: Engine) -> Iterator[tuple[TestClient, Distributor]]:
    accounts = AccountStore(engine)
    accounts.create_user("sue", PASSWORD, Role.SUPERVISOR, NOW)
    accounts.create_user("al", PASSWORD, Role.AGENT, NOW, extension="1001")
    store = RoutingStore(engine)
    routing = Distributor(config=default_config(), recorder=NullRecorder(), transcriber=NullRecorder(),
                          clock=lambda: NOW, settings=FlowSettings(), journal=store, queue_store=store)
    routing.update_rota([AgentProfile("1001", 1), AgentProfile("2001", 2)], ["1001"])
    app = create_app(Services(cases=CaseStore(engine), rota=RotaStore(engine, clock=lambda: NOW), accounts=accounts,
                              articles=ArticleStore(engine), routing=routing, routing_log=store, clock=lambda: NOW))
    yield TestClient(app), routing
    routing.stop()


def test_the_queues_section_shows_live_figures_and_edits_a_queue_through_its_form(console: Any) -> None:
    client, routing = console
    sign_in(client, "sue")
    page = client.get("/console/supervisor").text
    assert 'id="queues" hx-get="/console/supervisor/queues"' in page
    csrf = {"X-CSRF-Token": re.search(r'"X-CSRF-Token": "([^"]+)"', page).group(1)}  # type: ignore[union-attr]
    routing.routed(lambda acd: acd.pause("1001", "coffee", NOW, "1001"))
    routing.routed(lambda acd: acd.enqueue("a", "general", NOW - timedelta(seconds=42)))

    section = client.get("/console/supervisor/queues").text
    row = re.search(r'<tr data-queue="general">.*?</tr>', section, re.S).group(0)  # type: ignore[union-attr]
    assert '<td class="q-waiting">1' in row and '<td class="q-longest">42 s' in row
    assert '<td class="q-available">0' in row and 'class="queue-close"' in row
    body = form_body(section, "general")
    assert body["strategy"] == "longest-idle" and body["ring_timeout"] == "15" and body["overflow_to"] is None
    assert body["join_empty"] == "true" and body["announce_every"] == "45"

    body.update(ring_timeout="25", strategy="round-robin", announce_every=None, overflow_to="applications")
    refused = client.patch("/api/v1/queues/general", json=body, headers=csrf)  # applications overflows back
    assert refused.status_code == 422 and "makes a loop" in refused.json()["detail"]
    assert routing.acd.config.queue("general").ring_timeout == 15.0
    body["overflow_to"] = None
    assert client.patch("/api/v1/queues/general", json=body).status_code == 403  # no CSRF token: refused
    saved = client.patch("/api/v1/queues/general", json=body, headers=csrf)
    assert saved.status_code == 200, saved.text
    q = routing.acd.config.queue("general")
    assert (q.ring_timeout, q.strategy.value, q.announce_every) == (25.0, "round-robin", None)

    section = client.get("/console/supervisor/queues", params={"opened": "general"}).text
    assert '<details class="queue-settings" id="queue-general" open>' in section
    assert '<details class="queue-settings" id="queue-network">' in section
    again = form_body(section, "general")
    assert again["ring_timeout"] == "25" and again["strategy"] == "round-robin" and again["announce_every"] is None
    changes = re.search(r'<ul class="queue-changes">(.*?)</ul>', section, re.S).group(1)  # type: ignore[union-attr]
    assert "sue" in changes and "ring_timeout 15.0 → 25.0" in changes

    assert 'hx-post="/api/v1/queues/general/reset"' in section
    assert client.post("/api/v1/queues/general/reset", headers=csrf).status_code == 200
    assert routing.acd.config.queue("general") == default_config().queue("general")
    section = client.get("/console/supervisor/queues").text
    reset = re.search(r"<li>[^<]*sue \(back to the queue file\): [^<]*</li>", section)
    assert reset is not None and "ring_timeout 25.0 → 15.0" in reset.group(0)

    closed = client.post("/api/v1/queues/network/close", headers=csrf)
    assert closed.status_code == 200
    figures = client.get("/console/supervisor/queues/figures").text
    network = re.search(r'<tr data-queue="network">.*?</tr>', figures, re.S).group(0)  # type: ignore[union-attr]
    assert "closed" in network and 'class="queue-open"' in network


def test_agents_cannot_see_the_queues_section(console: Any) -> None:
    client, _ = console
    sign_in(client, "al")
    assert client.get("/console/supervisor/queues").status_code == 403
    assert client.get("/console/supervisor/queues/figures").status_code == 403
    page = client.get("/console/agent").text
    csrf = {"X-CSRF-Token": re.search(r'"X-CSRF-Token": "([^"]+)"', page).group(1)}  # type: ignore[union-attr]
    assert client.patch("/api/v1/queues/general", json={"wrap_up": 1}, headers=csrf).status_code == 403
