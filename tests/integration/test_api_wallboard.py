"""The wallboard over a real case store and rota, with a live snapshot shaped like routing's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from api.deps import Services
from cases.store import CaseStore
from hotline.bootstrap import CaseRecorder
from routing.agents import AgentProfile
from routing.distributor import Distributor, FlowSettings
from routing.queuefile import default_config
from routing.store import RoutingStore
from shifts.rota import Agent
from shifts.store import RotaStore
from tests.api_auth import sign_in_as, user

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def test_wallboard_shows_waiting_calls_agents_and_todays_figures(engine: Engine) -> None:
    cases, rota = CaseStore(engine), RotaStore(engine)
    rota.upsert_agent(Agent("1001", "Ada"), actor="test")
    yesterday = NOW - timedelta(days=1)
    cases.call_started("old@pbx", "111", "100", "hotline-1", yesterday)  # not today
    cases.call_started("a@pbx", "222", "100", "hotline-1", NOW - timedelta(minutes=30))
    cases.call_queued("a@pbx", NOW - timedelta(minutes=30))
    cases.call_answered("a@pbx", "1001", NOW - timedelta(minutes=30) + timedelta(seconds=12))
    cases.call_ended("a@pbx", NOW - timedelta(minutes=20), "answered", "caller")
    cases.call_started("b@pbx", "333", "100", "hotline-1", NOW - timedelta(minutes=10))
    cases.call_queued("b@pbx", NOW - timedelta(minutes=10))
    cases.call_ended("b@pbx", NOW - timedelta(minutes=9), "abandoned", "caller")

    live = {"waiting": [{"call_id": "w@pbx", "arrived": (NOW - timedelta(seconds=42)).isoformat(), "ringing": []}],
            "agents": [{"extension": "1001", "state": "on_call", "call_id": "x@pbx", "on_shift": True}],
            "live_calls": 2}
    app = create_app(Services(cases=cases, rota=rota, live=lambda: live, clock=lambda: NOW))
    client = TestClient(sign_in_as(app, user("supervisor")))
    board = client.get("/api/v1/wallboard").json()
    assert (board["calls_waiting"], board["longest_wait_s"], board["live_calls"]) == (1, 42.0, 2)
    assert board["agents"] == [{"extension": "1001", "name": "Ada", "state": "on_call", "on_shift": True,
                                "call_id": "x@pbx", "since": None, "pause_reason": None}]
    today = board["today"]
    assert (today["offered"], today["answered"], today["abandoned"], today["answered_within"]) == (2, 1, 1, 1)
    assert today["service_level"] == 0.5 and today["longest_wait_s"] == 60.0

    sign_in_as(app, user("agent", extension="1001"))
    assert client.get("/api/v1/wallboard").status_code == 403


def test_wallboard_reads_the_real_routing_snapshot(engine: Engine) -> None:
    """The live part from the real distributor (not a dict shaped like it): queues, a waiting call, agents."""
    cases, rota = CaseStore(engine), RotaStore(engine)
    clock = {"now": NOW}
    routing = Distributor(config=default_config(), recorder=CaseRecorder(cases), transcriber=None,  # type: ignore[arg-type]
                          clock=lambda: clock["now"], settings=FlowSettings(), journal=RoutingStore(engine))
    try:
        routing.update_rota([AgentProfile("1001", 1), AgentProfile("1002", 1)], ["1001", "1002"])
        routing.pause("1001", "lunch", "test")
        routing.routed(lambda acd: acd.enqueue("w@pbx", "general", NOW - timedelta(seconds=30)))
        routing.routed(lambda acd: acd.assign(NOW))  # 1002 rings for it
        app = create_app(Services(cases=cases, rota=rota, routing=routing, live=routing.snapshot,
                                  clock=lambda: clock["now"]))
        board = TestClient(sign_in_as(app, user("supervisor"))).get("/api/v1/wallboard")
        assert board.status_code == 200, board.text
        body = board.json()
        queues = {q["name"]: q for q in body["queues"]}
        assert set(queues) == {"general", "network", "applications"}
        assert (queues["general"]["waiting"], queues["general"]["longest_wait"]) == (1, 30.0)
        assert (body["calls_waiting"], body["longest_wait_s"]) == (1, 30.0)
        assert body["waiting"][0]["ringing"] == ["1002"]
        assert [(a["extension"], a["state"]) for a in body["agents"]] == [("1001", "paused"), ("1002", "ringing")]
    finally:
        routing.stop()
