"""The reports API over a queue log written by the real distributor into a real database: rows per local
interval (a DST day has 25), calls counted in the interval they arrived in, the CSV files, the agent
report, and refusals of bad windows as 422 with a sentence."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from accounts.model import Role
from api.app import create_app
from api.deps import Services
from hotline.db import make_engine
from routing.agents import AgentProfile
from routing.distributor import Distributor, FlowSettings
from routing.queuefile import default_config
from routing.store import RoutingStore
from shifts.rota import Agent
from shifts.store import RotaStore
from tests.api_auth import sign_in_as, user

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)  # 16:00 in Paris
PARIS_DAY = datetime(2026, 11, 27, 23, 0, tzinfo=UTC)  # 28 November 00:00 in Paris


class NullRecorder:
    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def paris(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return PARIS_DAY + timedelta(hours=hour, minutes=minute, seconds=second)


@pytest.fixture
def client(migrated_database_url: str) -> Iterator[TestClient]:
    """A day in Paris: at 09:10 a call answered in 8 s, talk 2 min; at 10:59:55 one abandoning at
    11:00:35; at 14:00 one for the network queue answered in 30 s by 2001."""
    engine = make_engine(migrated_database_url)
    store = RoutingStore(engine)
    rota = RotaStore(engine)
    rota.upsert_agent(Agent("1001", "Ada"), actor="test")
    distributor = Distributor(config=default_config(), recorder=NullRecorder(), transcriber=NullRecorder(),
                              clock=lambda: NOW, settings=FlowSettings(), journal=store)
    distributor.update_rota([AgentProfile("1001", 1), AgentProfile("2001", 2, frozenset({"network"}))],
                            ["1001", "2001"])
    routed = distributor.routed
    routed(lambda acd: acd.enqueue("a@pbx", "general", paris(9, 10)))
    routed(lambda acd: acd.assign(paris(9, 10)))
    routed(lambda acd: acd.answered("a@pbx", "1001", paris(9, 10, 8)))
    routed(lambda acd: acd.hung_up("a@pbx", paris(9, 12, 8)))
    routed(lambda acd: acd.tick(paris(9, 30)))
    routed(lambda acd: acd.set_agents([AgentProfile("2001", 2, frozenset({"network"}))], paris(10)))
    routed(lambda acd: acd.enqueue("b@pbx", "general", paris(10, 59, 55)))
    routed(lambda acd: acd.abandon("b@pbx", paris(11, 0, 35)))
    routed(lambda acd: acd.enqueue("c@pbx", "network", paris(14)))
    routed(lambda acd: acd.assign(paris(14, 0, 30)))
    routed(lambda acd: acd.answered("c@pbx", "2001", paris(14, 0, 30)))
    routed(lambda acd: acd.hung_up("c@pbx", paris(14, 5)))
    app = create_app(Services(cases=None, rota=rota, routing=distributor, routing_log=store, clock=lambda: NOW,
                              site_timezone="Europe/Paris"))
    yield TestClient(sign_in_as(app, user(Role.SUPERVISOR)))
    distributor.stop()
    engine.dispose()


def test_today_in_the_site_zone_hour_by_hour(client: TestClient) -> None:
    r = client.get("/api/v1/reports/intervals")
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["since"], report["until"]) == ("2026-11-28T00:00:00+01:00", "2026-11-29T00:00:00+01:00")
    assert (report["timezone"], report["interval_minutes"]) == ("Europe/Paris", 60)
    rows = report["rows"]
    assert [row["start"][11:16] for row in rows] == [f"{h:02d}:00" for h in range(24)]
    by_hour = {int(row["start"][11:13]): row for row in rows}
    nine, ten, eleven, two = by_hour[9], by_hour[10], by_hour[11], by_hour[14]
    assert (nine["offered"], nine["answered"], nine["answered_within_sl"], nine["asa"]) == (1, 1, 1, 8.0)
    assert nine["service_level"] == 1.0 and nine["aht"] is not None and nine["aht"] >= 120
    # arrived at 10:59:55, abandoned at 11:00:35: the 10:00 row's
    assert (ten["offered"], ten["abandoned"], ten["longest_wait"], ten["abandonment_rate"]) == (1, 1, 40.0, 1.0)
    assert (eleven["offered"], eleven["abandoned"]) == (0, 0)
    assert (two["offered"], two["answered"], two["service_level"]) == (1, 1, 0.0)  # 30 s > 20 s
    assert sum(row["offered"] for row in rows) == report["total"]["offered"] == 3
    assert report["total"]["service_level_with_abandons"] == pytest.approx(1 / 3)


def test_quarter_hours_one_queue_and_a_day_when_the_clocks_go_back(client: TestClient) -> None:
    quarters = client.get("/api/v1/reports/intervals", params={"interval": 15}).json()["rows"]
    assert len(quarters) == 96
    network = client.get("/api/v1/reports/intervals", params={"queue": "network"}).json()
    assert (network["queue"], network["total"]["offered"], network["total"]["answered"]) == ("network", 1, 1)
    autumn = client.get("/api/v1/reports/intervals", params={"since": "2026-10-25T00:00:00+02:00"}).json()
    assert len(autumn["rows"]) == 25
    assert autumn["until"] == "2026-10-26T00:00:00+01:00"
    spring = client.get("/api/v1/reports/intervals", params={"since": "2026-03-29T00:00:00+01:00",
                                                            "interval": 30}).json()
    assert len(spring["rows"]) == 46


@pytest.mark.parametrize(("params", "words"), [
    ({"since": "2026-11-28T10:00:00Z", "until": "2026-11-28T10:00:00Z"}, "is empty"),
    ({"since": "2026-11-28T10:00:00Z", "until": "2026-11-28T09:00:00Z"}, "is empty"),
    ({"since": "2026-01-01T00:00:00Z", "until": "2026-06-01T00:00:00Z"}, "longer than 93 days"),
    ({"queue": "nope"}, "No queue is named 'nope'"),
    ({"since": "9999-12-31T23:00:00Z"}, "outside the years"),
    ({"until": "0001-01-01T10:00:00+05:00"}, "outside the years"),
])
def test_bad_windows_and_queues_are_422_with_a_sentence(client: TestClient, params: dict[str, str],
                                                        words: str) -> None:
    for path in ("/api/v1/reports/intervals", "/api/v1/reports/intervals.csv"):
        r = client.get(path, params=params)
        assert r.status_code == 422, r.text
        assert words in r.json()["detail"]


def test_an_interval_other_than_15_30_60_is_refused(client: TestClient) -> None:
    assert client.get("/api/v1/reports/intervals", params={"interval": 45}).status_code == 422
    assert client.get("/api/v1/reports/intervals", params={"since": "2026-11-28T10:00:00"}).status_code == 422


def test_the_csv_holds_the_same_rows(client: TestClient) -> None:
    report = client.get("/api/v1/reports/intervals").json()
    r = client.get("/api/v1/reports/intervals.csv")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"] == 'attachment; filename="hotline-intervals-2026-11-28.csv"'
    lines = list(csv.DictReader(io.StringIO(r.text)))
    assert len(lines) == 24
    assert list(lines[0])[:5] == ["start", "end", "offered", "answered", "abandoned"]
    for line, row in zip(lines, report["rows"], strict=True):
        assert datetime.fromisoformat(line["start"]) == datetime.fromisoformat(row["start"])
        assert (int(line["offered"]), int(line["answered"]), int(line["abandoned"])) == (
            row["offered"], row["answered"], row["abandoned"])
        assert line["service_level"] == ("" if row["service_level"] is None else str(row["service_level"]))
    week = client.get("/api/v1/reports/intervals.csv", params={
        "since": "2026-11-23T00:00:00+01:00", "until": "2026-11-30T00:00:00+01:00", "queue": "general"})
    name = 'filename="hotline-intervals-2026-11-23-to-2026-11-29-general.csv"'
    assert week.headers["content-disposition"].endswith(name)
    assert len(week.text.strip().splitlines()) == 1 + 7 * 24


def test_the_agent_report_and_its_csv(client: TestClient) -> None:
    report = client.get("/api/v1/reports/agents").json()
    agents = {a["extension"]: a for a in report["agents"]}
    assert (agents["1001"]["name"], agents["1001"]["calls"], agents["1001"]["talk"]) == ("Ada", 1, 120.0)
    assert (agents["2001"]["name"], agents["2001"]["calls"]) == (None, 1)
    r = client.get("/api/v1/reports/agents.csv")
    assert r.headers["content-disposition"] == 'attachment; filename="hotline-agents-2026-11-28.csv"'
    lines = {line["extension"]: line for line in csv.DictReader(io.StringIO(r.text))}
    assert (lines["1001"]["name"], lines["1001"]["calls"], float(lines["1001"]["talk"])) == ("Ada", "1", 120.0)
    assert lines["2001"]["name"] == ""
