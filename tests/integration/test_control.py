"""The control channel between the API's process and the service's, over a real Unix socket: routing's
calls and refusals, the live transcript mirror, a wrong key, a service that has gone."""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from api.deps import Services, Unavailable
from cases.store import CaseStore
from hotline.bootstrap import CaseRecorder
from hotline.control import FAMILY, ControlServer, LiveMirror, RemoteFailure, RemoteService, new_address
from routing.agents import AgentProfile, IllegalTransition
from routing.distributor import Distributor, FlowSettings
from routing.queuefile import default_config
from routing.queues import ConfigError
from routing.store import RoutingStore
from shifts.store import RotaStore
from tests.api_auth import sign_in_as, user
from transcription.live import LiveEvent, LiveTranscripts
from transcription.segments import Segment, SegmentRecognised

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
KEY = secrets.token_bytes(32)


def _segment(speaker: str, text: str, start: float) -> Segment:
    return Segment(speaker=speaker, start=start, end=start + 1.0, text=text, words=())


@pytest.fixture
def routing(engine: Engine) -> Iterator[Distributor]:
    distributor = Distributor(config=default_config(), recorder=CaseRecorder(CaseStore(engine)),
                              transcriber=None,  # type: ignore[arg-type]
                              clock=lambda: NOW, settings=FlowSettings(), journal=RoutingStore(engine),
                              queue_store=RoutingStore(engine))
    distributor.update_rota([AgentProfile("1001", 1), AgentProfile("1002", 1)], ["1001", "1002"])
    yield distributor
    distributor.stop()


def _handlers(routing: Distributor, **extra: Callable[..., Any]) -> dict[str, Callable[..., Any]]:
    names = ("snapshot", "queues", "queue_views", "agent_views", "pause", "make_available", "log_out",
             "transfer", "edit_queue", "reset_queue")
    return {**{n: getattr(routing, n) for n in names}, **extra}


@pytest.fixture
def server(routing: Distributor) -> Iterator[tuple[ControlServer, LiveTranscripts]]:
    hub = LiveTranscripts()

    def broken() -> None:
        raise KeyError("a bug")

    control = ControlServer(_handlers(routing, broken=broken), hub, KEY)
    control.start()
    yield control, hub
    control.stop()


def test_routing_calls_cross_and_refusals_keep_their_kind(routing: Distributor, server) -> None:
    control, _ = server
    remote = RemoteService(control.address, KEY)
    try:
        remote.pause("1001", "lunch", "ada")
        assert routing.acd.agent("1001").state.value == "paused"
        assert {a["extension"]: a["state"] for a in remote.agent_views()} == {"1001": "paused", "1002": "available"}
        assert remote.snapshot()["agents"][0]["pause_reason"] == "lunch"
        assert remote.queues() == routing.queues()
        assert [q["name"] for q in remote.queue_views()] == list(routing.queues())

        remote.log_out("1002", "bob", "home")
        with pytest.raises(IllegalTransition):  # logged out: the domain's own refusal, not a failure
            remote.pause("1002", "lunch", "bob")
        with pytest.raises(ConfigError, match="strategy"):
            remote.edit_queue("general", {"strategy": "alphabetical"}, "ada")
        assert routing.acd.config.queue("general").strategy.value != "alphabetical"

        change = remote.edit_queue("general", {"ring_timeout": 12.0}, "ada")
        assert change is not None and change.after == {"ring_timeout": 12.0}
        assert routing.acd.config.queue("general").ring_timeout == 12.0

        with pytest.raises(RemoteFailure, match="KeyError in the service: 'a bug'"):
            remote.call("broken")
        with pytest.raises(RemoteFailure, match="no call named 'acd'"):
            remote.call("acd")
        remote.make_available("1001", "ada")  # the same kept connection still serves after those
        assert routing.acd.agent("1001").state.value == "available"
    finally:
        remote.close()


def test_calls_from_threads_at_once_each_get_their_own_answer(server) -> None:
    control, _ = server
    remote = RemoteService(control.address, KEY)
    answers: list[list[str]] = []
    lock = threading.Lock()

    def ask() -> None:
        for _ in range(20):
            names = [q["name"] for q in remote.queue_views()]
            with lock:
                answers.append(names)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    remote.close()
    assert len(answers) == 160 and all(a == ["general", "network", "applications"] for a in answers)


def test_a_client_without_the_key_is_refused_and_the_rest_served(server) -> None:
    control, _ = server
    with pytest.raises(AuthenticationError):
        Client(control.address, family=FAMILY, authkey=b"not the key")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as silent:  # connects, never answers
        silent.connect(control.address)
        remote = RemoteService(control.address, KEY, timeout=5)
        assert remote.agent_views()
        remote.close()


def test_a_service_that_has_gone_is_unavailable_and_the_api_says_503(routing: Distributor, engine: Engine) -> None:
    control = ControlServer(_handlers(routing), LiveTranscripts(), KEY)
    control.start()
    remote = RemoteService(control.address, KEY, timeout=2)
    assert remote.agent_views()  # a kept connection, closed by the stop below
    control.stop()
    with pytest.raises(Unavailable):
        remote.agent_views()
    with pytest.raises(Unavailable):
        remote.agent_views()  # no kept connection left: connecting fails too

    app = create_app(Services(cases=CaseStore(engine), rota=RotaStore(engine), routing=remote,
                              live=remote.snapshot, clock=lambda: NOW))
    response = TestClient(sign_in_as(app, user("supervisor"))).get("/api/v1/agent-states")
    assert response.status_code == 503
    assert "does not answer" in response.json()["detail"]


def test_the_api_over_the_channel_changes_routing(routing: Distributor, server, engine: Engine) -> None:
    control, _ = server
    remote = RemoteService(control.address, KEY)
    app = create_app(Services(cases=CaseStore(engine), rota=RotaStore(engine), routing=remote,
                              live=remote.snapshot, clock=lambda: NOW))
    client = TestClient(sign_in_as(app, user("agent", extension="1002")))
    response = client.post("/api/v1/agents/1002/pause", json={"reason": "training"})
    assert response.status_code == 200, response.text
    assert (routing.acd.agent("1002").state.value, routing.acd.agent("1002").reason) == ("paused", "training")
    assert client.post("/api/v1/agents/1002/logout", json={"reason": "home"}).status_code == 200
    refused = client.post("/api/v1/agents/1002/pause", json={"reason": "again"})
    assert refused.status_code == 409, refused.text
    assert routing.acd.agent("1002").state.value == "logged_out"
    remote.close()


def test_the_mirror_holds_what_the_hub_holds_then_follows_it(server) -> None:
    control, hub = server
    hub.open("done@pbx")
    hub.publish(SegmentRecognised("done@pbx", _segment("caller", "thank you", 0.0), True))
    hub.close("done@pbx")
    hub.open("live@pbx")
    hub.publish(SegmentRecognised("live@pbx", _segment("caller", "my printer", 0.5), True))
    hub.publish(SegmentRecognised("live@pbx", _segment("agent", "good mor", 1.0), False))
    hub.open("quiet@pbx")

    lost = threading.Event()
    mirror = LiveMirror(control.address, KEY, LiveTranscripts(), on_lost=lost.set)
    mirror.start()
    try:
        heard: list[LiveEvent] = []
        ended = threading.Event()

        def listener(event: LiveEvent) -> None:
            heard.append(event)
            if event.kind == "end":
                ended.set()

        # The mirror's copy is complete once the last call opened before it started is there.
        replayed = threading.Event()
        stop = mirror.hub.watch(lambda e: replayed.set() if e.call_id == "quiet@pbx" else None)
        assert replayed.wait(5)
        stop()
        assert mirror.hub.is_live("quiet@pbx") and not mirror.hub.is_live("done@pbx")
        done: list[LiveEvent] = []
        assert mirror.hub.subscribe("done@pbx", done.append) is not None
        assert [(e.kind, e.segment.text if e.segment else None) for e in done] == [("final", "thank you"),
                                                                                    ("end", None)]
        subscription = mirror.hub.subscribe("live@pbx", listener)
        assert subscription is not None
        assert [(e.kind, e.segment.text) for e in heard if e.segment] == [("final", "my printer"),
                                                                          ("partial", "good mor")]

        hub.publish(SegmentRecognised("live@pbx", _segment("agent", "good morning", 1.0), True))
        hub.close("live@pbx")
        assert ended.wait(5)
        assert [e.kind for e in heard] == ["final", "partial", "final", "end"]
        assert heard[2].segment is not None and heard[2].segment.text == "good morning"
        assert not lost.is_set()
    finally:
        mirror.stop()
    assert not lost.is_set(), "stopping the mirror is not losing the service"


def test_the_mirror_reports_a_lost_service(routing: Distributor) -> None:
    control = ControlServer(_handlers(routing), LiveTranscripts(), KEY)
    control.start()
    lost = threading.Event()
    mirror = LiveMirror(control.address, KEY, LiveTranscripts(), on_lost=lost.set)
    mirror.start()
    control.stop()
    assert lost.wait(5)
    mirror.stop()


def test_a_mirror_without_a_service_is_unavailable() -> None:
    mirror = LiveMirror("\0hotline-control-nobody", KEY, LiveTranscripts())
    with pytest.raises(Unavailable):
        mirror.start()


def test_the_snapshot_crosses_with_its_times(routing: Distributor, server) -> None:
    control, _ = server
    routing.routed(lambda acd: acd.enqueue("w@pbx", "general", NOW - timedelta(seconds=30)))
    remote = RemoteService(control.address, KEY)
    assert remote.snapshot() == routing.snapshot()
    remote.close()


# --- /health within 2 s always (issue 12: it hung while the call service was stopped) -----------------------
def _within(seconds: float, fn: Callable[[], Any]) -> tuple[float, Any]:
    """Run ``fn`` in a thread; (its duration, its result or exception), failing if it takes longer than
    ``seconds`` (so a hang fails the test instead of hanging it)."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(fn())
        except Exception as exc:
            outcome.append(exc)

    began = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"no answer within {seconds} s"
    return time.monotonic() - began, outcome[0]


def test_health_from_a_service_that_accepts_nothing_is_unavailable_within_2_s_every_time() -> None:
    # A stopped service (SIGSTOP): its socket exists and the kernel queues connections, but nobody accepts
    # them or says the key's challenge.
    address = new_address()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stopped:
        stopped.bind(address)
        stopped.listen(1)
        remote = RemoteService(address, KEY)
        for _ in range(4):  # the backlog fills: connecting fails too, as fast
            took, outcome = _within(3.0, remote.health)
            assert isinstance(outcome, Unavailable) and took < 2.3
            assert str(outcome) == "The call service did not answer within 2 s."
        app = create_app(Services(cases=None, rota=None, health=remote.health))
        took, response = _within(3.0, lambda: TestClient(app).get("/health"))
        assert took < 2.5
        assert response.status_code == 503
        assert response.json() == {"can_take_calls": False, "components": {},
                                   "detail": "The call service did not answer within 2 s."}


def test_a_health_report_that_does_not_come_is_unavailable_and_the_next_one_is_served(routing: Distributor) -> None:
    release, slow = threading.Event(), threading.Event()

    def health() -> dict[str, Any]:
        if slow.is_set():
            release.wait(10)
        return {"can_take_calls": {"up": True}}

    control = ControlServer({**_handlers(routing), "health": health}, LiveTranscripts(), KEY)
    control.start()
    remote = RemoteService(control.address, KEY)
    try:
        assert remote.health() == {"can_take_calls": {"up": True}}  # a kept connection from now on
        slow.set()
        took, outcome = _within(3.0, remote.health)
        assert isinstance(outcome, Unavailable) and 1.9 < took < 2.3
        slow.clear()
        release.set()
        # The late answer went to a connection that was closed: the next call gets its own answer.
        assert remote.health() == {"can_take_calls": {"up": True}}
        assert remote.agent_views()
    finally:
        release.set()
        remote.close()
        control.stop()
