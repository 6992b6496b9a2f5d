"""Queue settings changed through the API on a real database (SQLite file, or PostgreSQL with
HOTLINE_TEST_DATABASE_URL): applied to the running ACD at once, audited, refused with one sentence and
nothing changed, and kept across a restart (the service is built twice on the same database, as the
composition root builds it)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from accounts.model import Role
from api.deps import Services
from api.queues import router as queues_router
from cases.store import CaseStore
from hotline.bootstrap import Service
from hotline.settings import Settings
from routing.agents import AgentProfile
from routing.distributor import Distributor, FlowSettings
from routing.queuefile import default_config
from routing.store import RoutingStore
from tests.api_auth import sign_in_as, user

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


class NullRecorder:
    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


class Running:
    """One run of the service's routing over ``engine``: the distributor as ``hotline.bootstrap`` builds
    it, recovered as at start, and the queues API signed in as the supervisor ``sue``."""

    def __init__(self, engine: Engine) -> None:
        store = RoutingStore(engine)
        self.store = store
        self.distributor = Distributor(config=default_config(), recorder=NullRecorder(),
                                       transcriber=NullRecorder(), clock=lambda: NOW, settings=FlowSettings(),
                                       journal=store, queue_store=store)
        service = Service(settings=Settings(), engine=engine, cases=CaseStore(engine),
                          rota=None,  # type: ignore[arg-type]
                          routing=store, distributor=self.distributor, prompts=None,  # type: ignore[arg-type]
                          transcriber=None, kamailio=None)  # type: ignore[arg-type]
        service.recover()
        self.distributor.update_rota([AgentProfile("1001", 1), AgentProfile("2001", 2, frozenset({"network"}))],
                                     ["1001"])
        app = FastAPI()
        app.state.services = Services(cases=None, rota=None, routing=self.distributor, routing_log=store,
                                      clock=lambda: NOW)
        app.include_router(queues_router, prefix="/api/v1")
        self.client = TestClient(sign_in_as(app, user(Role.SUPERVISOR, username="sue")))

    def settings(self, queue: str) -> dict[str, Any]:
        body: dict[str, Any] = self.client.get(f"/api/v1/queues/{queue}").json()["settings"]
        return body


@pytest.fixture
def running(engine: Engine) -> Iterator[tuple[Running, Engine]]:
    yield Running(engine), engine


def test_a_change_applies_at_once_keeps_waiting_calls_and_survives_a_restart(running: Any) -> None:
    first, engine = running
    first.distributor.routed(lambda acd: acd.set_on_shift([], NOW))
    for i, call in enumerate(["a", "b"]):
        first.distributor.routed(lambda acd, c=call, i=i: acd.enqueue(c, "general", NOW - timedelta(seconds=60 - i)))
    cleared = first.client.patch("/api/v1/queues/applications", json={"overflow_to": None})
    assert cleared.status_code == 200 and cleared.json()["settings"]["overflow_to"] is None
    r = first.client.patch("/api/v1/queues/general", json={
        "strategy": "ring-all", "ring_timeout": 25, "announce_every": None, "wrap_up": 15,
        "tiers": [{"level": 1}, {"level": 2, "skill": "network"}], "max_wait": 120, "at_max_wait": "overflow",
        "overflow_to": "applications"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["settings"]["strategy"] == "ring-all" and body["settings"]["ring_timeout"] == 25
    assert body["settings"]["overflow_to"] == "applications" and body["settings"]["announce_every"] is None
    assert [c["call_id"] for c in body["calls"]] == ["a", "b"]  # still waiting, in their places
    assert body["calls"][0]["waited"] == 60
    live = first.distributor.acd.config.queue("general")
    assert (live.strategy.value, live.ring_timeout, live.max_wait, len(live.tiers)) == ("ring-all", 25, 120, 2)
    assert live.numbers == ("100",)  # the file's numbers stay

    (change,) = first.client.get("/api/v1/queues/general/changes").json()
    assert change["by"] == "sue" and change["queue"] == "general"
    assert change["before"] == {"strategy": "longest-idle", "ring_timeout": 15.0, "announce_every": 45.0,
                                "tiers": [{"level": 1, "skill": None, "extensions": []},
                                          {"level": 2, "skill": None, "extensions": []}],
                                "max_wait": 300.0, "overflow_to": None, "at_max_wait": "callback"}
    assert change["after"]["tiers"][1] == {"level": 2, "skill": "network", "extensions": []}
    assert "wrap_up" not in change["after"]  # 15 already: not a change
    assert first.client.patch("/api/v1/queues/general", json={"ring_timeout": 30}).status_code == 200
    newest = first.client.get("/api/v1/queues/general/changes").json()[0]
    assert newest["after"] == {"ring_timeout": 30.0}
    first.distributor.stop()

    again = Running(engine)  # a restart: the queue file again, the changes on top of it
    q = again.distributor.acd.config.queue("general")
    assert (q.strategy.value, q.ring_timeout, q.announce_every, q.overflow_to) == ("ring-all", 30, None,
                                                                                   "applications")
    assert again.settings("general") == {**again.settings("general"), "ring_timeout": 30.0, "max_wait": 120.0}
    assert again.distributor.acd.config.queue("network") == default_config().queue("network")
    assert again.distributor.acd.config.queue("applications").overflow_to is None
    assert len(again.client.get("/api/v1/queues/general/changes").json()) == 2
    again.distributor.stop()


@pytest.mark.parametrize(("changes", "sentence"), [
    ({"strategy": "psychic"}, "queue 'general': strategy 'psychic' is not one of longest-idle"),
    ({"overflow_to": "nowhere"}, "queue 'general': overflow_to 'nowhere' is not a queue."),
    ({"overflow_to": "general"}, "queue 'general' cannot overflow to itself."),
    ({"overflow_to": "network", "wrap_up": 1}, "queue 'general': overflowing to 'network' makes a loop "
                                               "(general -> network -> general)."),
    ({"ring_timeout": -3, "wrap_up": 1}, "queue 'general': ring_timeout must be a number of seconds from 0.1 "
                                         "to 86400, got -3.0."),
    ({"ring_timeout": None}, "ring_timeout must be a number of seconds"),
    ({"retry_delay": 1e12}, "retry_delay must be a number of seconds from 0 to 86400"),
    ({}, "give at least one setting to change"),
])
def test_a_refused_change_is_422_with_one_sentence_and_changes_nothing(running: Any, changes: dict[str, Any],
                                                                       sentence: str) -> None:
    first, _ = running
    before = first.settings("general")
    r = first.client.patch("/api/v1/queues/general", json=changes)
    assert r.status_code == 422, r.text
    assert isinstance(r.json()["detail"], str) and sentence in r.json()["detail"]
    assert first.settings("general") == before
    assert first.client.get("/api/v1/queues/general/changes").json() == []
    assert first.store.queue_overrides() == {}
    first.distributor.stop()


def test_unknown_fields_and_queues(running: Any) -> None:
    first, _ = running
    assert first.client.patch("/api/v1/queues/general", json={"numbers": ["200"]}).status_code == 422
    assert first.client.patch("/api/v1/queues/general", json={"ring_timeout": "soon"}).status_code == 422
    r = first.client.patch("/api/v1/queues/nope", json={"wrap_up": 5})
    assert r.status_code == 404 and "No queue is named 'nope'" in r.json()["detail"]
    assert first.client.get("/api/v1/queues/nope/changes").status_code == 404
    first.distributor.stop()


def test_closing_and_opening_are_kept_and_audited(running: Any) -> None:
    first, engine = running
    assert first.client.post("/api/v1/queues/network/close").json()["live"]["closed"] is True
    assert first.distributor.routed(lambda acd: acd.enqueue("n", "network", NOW)).queue == "general"
    first.distributor.stop()
    again = Running(engine)
    assert again.settings("network")["closed"] is True and again.distributor.acd.is_closed("network")
    assert again.client.post("/api/v1/queues/network/open").json()["live"]["closed"] is False
    assert again.distributor.routed(lambda acd: acd.enqueue("m", "network", NOW)).queue == "network"
    changes = again.client.get("/api/v1/queues/network/changes").json()
    assert [(c["before"], c["after"], c["by"]) for c in changes] == [
        ({"closed": True}, {"closed": False}, "sue"), ({"closed": False}, {"closed": True}, "sue")]
    again.distributor.stop()
    third = Running(engine)
    assert not third.distributor.acd.is_closed("network")
    third.distributor.stop()


def test_a_reset_goes_back_to_the_queue_file_and_survives_a_restart(running: Any) -> None:
    first, engine = running
    assert first.client.patch("/api/v1/queues/network", json={"ring_timeout": 40, "wrap_up": 5}).status_code == 200
    assert first.client.post("/api/v1/queues/network/close").status_code == 200
    r = first.client.post("/api/v1/queues/network/reset")
    assert r.status_code == 200, r.text
    file = default_config().queue("network")
    assert first.distributor.acd.config.queue("network") == file and not first.distributor.acd.is_closed("network")
    assert r.json()["settings"]["ring_timeout"] == file.ring_timeout
    newest = first.client.get("/api/v1/queues/network/changes").json()[0]
    assert (newest["action"], newest["by"]) == ("reset", "sue")
    assert newest["before"] == {"ring_timeout": 40.0, "wrap_up": 5.0, "closed": True}
    assert newest["after"] == {"ring_timeout": file.ring_timeout, "wrap_up": file.wrap_up, "closed": False}
    assert first.store.queue_overrides() == {}
    assert first.client.post("/api/v1/queues/nope/reset").status_code == 404
    first.distributor.stop()
    again = Running(engine)
    assert again.distributor.acd.config.queue("network") == file
    again.distributor.stop()


def test_a_reset_that_would_make_an_overflow_loop_is_refused(running: Any) -> None:
    first, _ = running
    # general now overflows to network; network's file setting overflows back to general
    assert first.client.patch("/api/v1/queues/network", json={"overflow_to": None}).status_code == 200
    assert first.client.patch("/api/v1/queues/general", json={"overflow_to": "network"}).status_code == 200
    r = first.client.post("/api/v1/queues/network/reset")
    assert r.status_code == 422 and "makes a loop" in r.json()["detail"]
    assert first.distributor.acd.config.queue("network").overflow_to is None
    assert first.client.get("/api/v1/queues/network/changes").json()[0]["action"] == "change"
    first.distributor.stop()
