"""The queues and agent-states API on a real database: live figures, metrics from the stored log, agent
state changes (persisted), and errors as 404/409/422."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from accounts.model import Role
from api.agents import router as agents_router
from api.deps import Services
from api.queues import router as queues_router
from hotline.db import make_engine
from routing.agents import AgentProfile
from routing.distributor import Distributor, FlowSettings
from routing.queuefile import default_config
from routing.store import RoutingStore
from tests.api_auth import sign_in_as, user

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


class NullRecorder:
    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


@pytest.fixture
def world(migrated_database_url: str) -> Iterator[tuple[TestClient, Distributor, RoutingStore, Clock]]:
    engine = make_engine(migrated_database_url)
    store = RoutingStore(engine)
    clock = Clock()
    distributor = Distributor(config=default_config(), recorder=NullRecorder(), transcriber=NullRecorder(),
                              clock=clock, settings=FlowSettings(), journal=store)
    distributor.update_rota([AgentProfile("1001", 1), AgentProfile("2001", 2, frozenset({"network"}))],
                            ["1001", "2001"])
    app = FastAPI()
    app.state.services = Services(cases=None, rota=None, routing=distributor, routing_log=store, clock=clock)
    app.include_router(queues_router, prefix="/api/v1")
    app.include_router(agents_router, prefix="/api/v1")
    yield TestClient(sign_in_as(app, user(Role.SUPERVISOR, username="supervisor"))), distributor, store, clock
    engine.dispose()


def test_queues_show_settings_live_figures_and_todays_metrics(world: Any) -> None:
    client, distributor, _, clock = world
    distributor.routed(lambda acd: acd.enqueue("a", "general", NOW - timedelta(seconds=30)))
    queues = {q["name"]: q for q in client.get("/api/v1/queues").json()}
    assert set(queues) == {"general", "network", "applications"}
    assert queues["general"]["numbers"] == ["100"]
    assert queues["general"]["live"]["waiting"] == 1
    assert queues["general"]["live"]["longest_wait"] == 30
    assert queues["general"]["metrics"]["offered"] == 1
    distributor.routed(lambda acd: acd.assign(NOW))
    distributor.routed(lambda acd: acd.answered("a", "1001", NOW))
    clock.now = NOW + timedelta(seconds=60)
    distributor.routed(lambda acd: acd.hung_up("a", clock.now))
    m = client.get("/api/v1/queues/general/metrics").json()
    assert (m["answered"], m["asa"], m["service_level"]) == (1, 30, 0.0)
    early = client.get("/api/v1/queues/general/metrics",
                       params={"since": "2026-11-28T08:00:00Z", "until": "2026-11-28T09:59:00Z"}).json()
    assert early["answered"] == 0


def test_unknown_queue_and_empty_window(world: Any) -> None:
    client = world[0]
    assert client.get("/api/v1/queues/nope").status_code == 404
    assert "No queue is named 'nope'" in client.get("/api/v1/queues/nope/metrics").json()["detail"]
    r = client.get("/api/v1/queues/general/metrics",
                   params={"since": "2026-11-28T10:00:00Z", "until": "2026-11-28T09:00:00Z"})
    assert r.status_code == 422


def test_a_closed_queue_sends_calls_on_until_opened(world: Any) -> None:
    client, distributor, _, _ = world
    assert client.post("/api/v1/queues/network/close").json()["live"]["closed"] is True
    entered = distributor.routed(lambda acd: acd.enqueue("n", "network", NOW))
    assert entered.queue == "general"  # the shipped network queue overflows to general
    assert client.post("/api/v1/queues/network/open").json()["live"]["closed"] is False
    assert distributor.routed(lambda acd: acd.enqueue("m", "network", NOW)).queue == "network"


def test_pause_and_available_change_the_state_and_are_stored(world: Any) -> None:
    client, _, store, _ = world
    r = client.post("/api/v1/agents/1001/pause", json={"reason": "lunch"})
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["reason"]) == ("paused", "lunch")
    states = {a["extension"]: a["state"] for a in client.get("/api/v1/agent-states").json()}
    assert states == {"1001": "paused", "2001": "available"}
    last = store.transitions(NOW, NOW + timedelta(seconds=1))[-1]
    assert (last.extension, last.after.value, last.by, last.reason) == ("1001", "paused", "supervisor", "lunch")
    assert store.recover(NOW).states["1001"][1] == "lunch"
    assert client.post("/api/v1/agents/1001/available").json()["state"] == "available"
    assert client.post("/api/v1/agents/1001/logout", json={"reason": "home"}).json()["state"] == "logged_out"
    assert client.post("/api/v1/agents/1001/available").json()["state"] == "available"


def test_agent_state_errors(world: Any) -> None:
    client, distributor, _, _ = world
    assert client.post("/api/v1/agents/9999/pause", json={"reason": "x"}).status_code == 404
    assert client.get("/api/v1/agents/9999/state").status_code == 404
    assert client.post("/api/v1/agents/1001/pause", json={"reason": ""}).status_code == 422
    assert client.post("/api/v1/agents/1001/available").status_code == 409  # already available
    distributor.routed(lambda acd: acd.enqueue("a", "general", NOW))
    distributor.routed(lambda acd: acd.assign(NOW))
    r = client.post("/api/v1/agents/1001/pause", json={"reason": "break"})
    assert r.status_code == 409 and "cannot pause while ringing" in r.json()["detail"]
    assert client.get("/api/v1/agents/1001/state").json()["state"] == "ringing"


def test_the_queue_log_of_a_call_and_of_a_window(world: Any) -> None:
    client, distributor, _, clock = world
    distributor.routed(lambda acd: acd.enqueue("a", "general", NOW))
    distributor.routed(lambda acd: acd.abandon("a", NOW + timedelta(seconds=4)))
    distributor.routed(lambda acd: acd.enqueue("b", "network", NOW + timedelta(seconds=5)))
    clock.now = NOW + timedelta(seconds=10)
    log = client.get("/api/v1/queue-log", params={"call_id": "a"}).json()
    assert [(e["kind"], e["queue"], e["detail"].get("wait")) for e in log] == [
        ("enter", "general", None), ("abandon", "general", 4)]
    assert [e["call_id"] for e in client.get("/api/v1/queue-log").json()] == ["a", "a", "b"]
    assert client.get("/api/v1/queue-log", params={"call_id": "nope"}).json() == []


def test_a_waiting_call_is_transferred_and_keeps_its_place(world: Any) -> None:
    client, distributor, store, _ = world
    distributor.routed(lambda acd: acd.set_on_shift([], NOW))
    distributor.routed(lambda acd: acd.enqueue("old", "general", NOW - timedelta(seconds=60)))
    distributor.routed(lambda acd: acd.enqueue("new", "network", NOW - timedelta(seconds=10)))
    r = client.post("/api/v1/queue-calls/old/transfer", json={"queue": "network"})
    assert r.status_code == 200, r.text
    assert [(c["call_id"], c["position"]) for c in r.json()["calls"]] == [("old", 1), ("new", 2)]
    assert [e.kind.value for e in store.call_events("old")] == ["enter", "transfer"]
    assert client.post("/api/v1/queue-calls/ghost/transfer", json={"queue": "network"}).status_code == 404
    assert client.post("/api/v1/queue-calls/old/transfer", json={"queue": "nope"}).status_code == 404
