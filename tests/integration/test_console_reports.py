"""The supervisor's reports page over a queue log written by the real distributor into a real database:
three SVG charts with one bar (volume: three) per interval, the table of rows, CSV links that download
the same rows with the session cookie, and the errors of a bad form shown on the page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient

from accounts.model import Role
from accounts.store import AccountStore
from api.app import create_app
from api.deps import Services
from cases.store import CaseStore
from hotline.db import make_engine
from routing.agents import AgentProfile
from routing.distributor import Distributor, FlowSettings
from routing.queuefile import default_config
from routing.store import RoutingStore
from shifts.store import RotaStore
from tests.integration.test_console import PASSWORD, sign_in

pytestmark = pytest.mark.integration

NOW = datetime(2026, 10, 25, 16, 0, tzinfo=UTC)  # 17:00 in Paris, the day the clocks go back: 25 hours


class NullRecorder:
    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


@pytest.fixture
def client(migrated_database_url: str) -> Iterator[TestClient]:
    engine = make_engine(migrated_database_url)
    store = RoutingStore(engine)
    accounts = AccountStore(engine)
    accounts.create_user("sue", PASSWORD, Role.SUPERVISOR, NOW)
    accounts.create_user("al", PASSWORD, Role.AGENT, NOW, extension="1001")
    distributor = Distributor(config=default_config(), recorder=NullRecorder(), transcriber=NullRecorder(),
                              clock=lambda: NOW, settings=FlowSettings(), journal=store)
    distributor.update_rota([AgentProfile("1001", 1)], ["1001"])
    nine = datetime(2026, 10, 25, 8, 0, tzinfo=UTC)  # 09:00 in Paris (UTC+1 since 03:00)
    distributor.routed(lambda acd: acd.enqueue("a@pbx", "general", nine))
    distributor.routed(lambda acd: acd.assign(nine))
    distributor.routed(lambda acd: acd.answered("a@pbx", "1001", nine + timedelta(seconds=5)))
    distributor.routed(lambda acd: acd.hung_up("a@pbx", nine + timedelta(minutes=3)))
    distributor.routed(lambda acd: acd.enqueue("b@pbx", "general", nine + timedelta(minutes=5)))
    distributor.routed(lambda acd: acd.abandon("b@pbx", nine + timedelta(minutes=6)))
    app = create_app(Services(cases=CaseStore(engine), rota=RotaStore(engine), accounts=accounts, routing=distributor,
                              routing_log=store, clock=lambda: NOW, site_timezone="Europe/Paris"))
    yield TestClient(app)
    distributor.stop()
    engine.dispose()


def charts(page: str) -> dict[str, str]:
    """Each inline SVG chart of the page by its id."""
    return {m.group(1): m.group(0) for m in re.finditer(r'<svg class="chart" id="([^"]+)".*?</svg>', page, re.S)}


def test_the_reports_page_draws_a_bar_per_interval_and_links_the_csv(client: TestClient) -> None:
    sign_in(client, "sue")
    assert 'href="/console/supervisor/reports"' in client.get("/console/supervisor").text
    page = client.get("/console/supervisor/reports")
    assert page.status_code == 200
    svgs = charts(page.text)
    assert set(svgs) == {"chart-service-level", "chart-abandonment", "chart-volume"}
    bars = {name: svg.count('<rect class="bar') for name, svg in svgs.items()}
    assert bars == {"chart-service-level": 25, "chart-abandonment": 25, "chart-volume": 3 * 25}
    for svg in svgs.values():
        assert "<title id=" in svg and "<desc id=" in svg and 'role="img"' in svg
        assert "(Europe/Paris), 60-minute intervals" in svg  # the time axis's label
    volume = svgs["chart-volume"]
    assert "<title>09:00: offered 2</title>" in volume and "<title>09:00: abandoned 1</title>" in volume
    assert "<title>10:00: offered 0</title>" in volume
    assert "<title>09:00: service level 50 %</title>" in svgs["chart-service-level"]
    assert "<title>10:00: service level no calls</title>" in svgs["chart-service-level"]
    rows = re.search(r'<table id="report-rows">.*?</table>', page.text, re.S)
    assert rows is not None and rows.group(0).count("<tr><td>") == 25
    link = re.search(r'id="csv-intervals" href="([^"]+)"', page.text)
    assert link is not None
    csv = client.get(unescape(link.group(1)))
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.headers["content-disposition"] == 'attachment; filename="hotline-intervals-2026-10-25.csv"'
    assert len(csv.text.strip().splitlines()) == 1 + 25
    agents = re.search(r'id="csv-agents" href="([^"]+)"', page.text)
    assert agents is not None and client.get(unescape(agents.group(1))).status_code == 200


def test_the_form_chooses_days_queue_and_interval(client: TestClient) -> None:
    sign_in(client, "sue")
    page = client.get("/console/supervisor/reports", params={"first": "2026-10-24", "last": "2026-10-25",
                                                             "queue": "network", "interval": 30}).text
    bars = {name: svg.count('<rect class="bar') for name, svg in charts(page).items()}
    assert bars["chart-service-level"] == 48 + 50
    assert '<option value="network" selected>' in page
    assert "queue=network" in unescape(re.search(r'id="csv-intervals" href="([^"]+)"', page).group(1))  # type: ignore[union-attr]


def test_a_bad_form_shows_a_sentence_and_no_chart(client: TestClient) -> None:
    sign_in(client, "sue")
    backwards = client.get("/console/supervisor/reports", params={"first": "2026-10-25", "last": "2026-10-01"})
    assert backwards.status_code == 422 and "comes before the first" in backwards.text
    assert "<svg" not in backwards.text
    long = client.get("/console/supervisor/reports", params={"first": "2026-01-01", "last": "2026-10-25"})
    assert long.status_code == 422 and "longer than 93 days" in long.text
    end = client.get("/console/supervisor/reports", params={"first": "9999-12-31"})
    assert end.status_code == 422 and "outside the calendar" in end.text
    unknown = client.get("/console/supervisor/reports", params={"queue": "nope"})
    assert unknown.status_code == 422 and "No queue is named" in unescape(unknown.text)


def test_agents_may_not_open_the_reports(client: TestClient) -> None:
    sign_in(client, "al")
    assert client.get("/console/supervisor/reports").status_code == 403
