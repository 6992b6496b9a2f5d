"""The rota API on a real database: edits, validation errors as 422, unknown ids as 404."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.deps import Services
from api.rota import router
from hotline.db import make_engine
from shifts.store import RotaStore
from tests.api_auth import sign_in_as, user

pytestmark = pytest.mark.integration

NOW = datetime(2026, 10, 21, 9, 30, tzinfo=UTC)
PLAIN = {"skills": [], "timezone": "UTC"}  # what an agent without skills or timezone reads back as


class ChangeRecorder:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1


@pytest.fixture
def store(migrated_database_url: str) -> Iterator[RotaStore]:
    engine = make_engine(migrated_database_url)
    yield RotaStore(engine, clock=lambda: NOW)
    engine.dispose()


@pytest.fixture
def changes() -> ChangeRecorder:
    return ChangeRecorder()


@pytest.fixture
def client(store: RotaStore, changes: ChangeRecorder) -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(router, prefix="/api/v1")
    app.state.services = Services(cases=None, rota=store, on_rota_changed=changes)
    sign_in_as(app, user("supervisor", username="sue"))
    with TestClient(app) as client:
        yield client


def add_agents(client: TestClient) -> None:
    for extension, name in (("1001", "Alice"), ("1002", "Bob")):
        assert client.post("/api/v1/agents", json={"extension": extension, "name": name}).status_code == 200


def test_agents_are_upserted_listed_and_fetched(client: TestClient, changes: ChangeRecorder) -> None:
    add_agents(client)
    response = client.post("/api/v1/agents", json={"extension": "1002", "name": "Robert", "level": 2} | PLAIN)

    assert response.json() == {"extension": "1002", "name": "Robert", "level": 2} | PLAIN
    assert client.get("/api/v1/agents").json() == [{"extension": "1001", "name": "Alice", "level": 1} | PLAIN,
                                                   {"extension": "1002", "name": "Robert", "level": 2} | PLAIN]
    assert client.get("/api/v1/agents/1001").json() == {"extension": "1001", "name": "Alice", "level": 1} | PLAIN
    assert changes.calls == 3


def test_an_unknown_agent_is_404(client: TestClient) -> None:
    response = client.get("/api/v1/agents/1009")
    assert response.status_code == 404
    assert response.json() == {"detail": "There is no agent with extension '1009'."}


def test_a_bad_agent_is_422_with_the_domain_message(client: TestClient, changes: ChangeRecorder) -> None:
    response = client.post("/api/v1/agents", json={"extension": "10 01", "name": "Alice"})

    assert response.status_code == 422
    assert response.json()["detail"].startswith("Extension '10 01' is not a valid SIP user")
    assert client.get("/api/v1/agents").json() == []
    assert changes.calls == 0


def test_shifts_are_added_listed_and_deleted(client: TestClient, store: RotaStore,
                                             changes: ChangeRecorder) -> None:
    add_agents(client)
    response = client.post("/api/v1/shifts", json={"agent": "1001", "start": "2026-10-24T22:00",
                                                   "end": "2026-10-25T06:00", "timezone": "Europe/Paris",
                                                   "note": "night"})
    assert response.status_code == 201
    created = response.json()
    assert created.pop("warnings") == []
    assert created["agent"] == "1001" and created["note"] == "night"
    assert datetime.fromisoformat(created["start"]) == datetime(2026, 10, 24, 20, tzinfo=UTC)
    assert datetime.fromisoformat(created["end"]) == datetime(2026, 10, 25, 5, tzinfo=UTC)  # 9 h: fall back

    listed = client.get("/api/v1/shifts", params={"start": "2026-10-24T00:00Z", "end": "2026-10-26T00:00Z"})
    assert listed.json() == [created]
    assert client.get("/api/v1/shifts").json() == [created]  # default period: from NOW for 7 days
    assert client.get("/api/v1/shifts", params={"start": "2026-10-26T00:00Z"}).json() == []

    deleted = client.delete(f"/api/v1/shifts/{created['id']}")
    assert deleted.status_code == 200 and deleted.json() == created
    assert store.list_shifts(NOW, NOW + timedelta(days=30)) == []
    assert changes.calls == 2 + 2
    assert [e.actor for e in store.audit()] == ["sue"] * 4  # the signed-in user


def test_an_overlapping_shift_is_422_and_not_stored(client: TestClient, changes: ChangeRecorder) -> None:
    add_agents(client)
    first = {"agent": "1001", "start": "2026-10-22T08:00Z", "end": "2026-10-22T16:00Z", "timezone": "UTC"}
    assert client.post("/api/v1/shifts", json=first).status_code == 201
    calls = changes.calls

    response = client.post("/api/v1/shifts", json=first | {"start": "2026-10-22T12:00Z", "end": "2026-10-22T20:00Z"})

    assert response.status_code == 422
    assert response.json()["detail"].startswith("Shifts of agent 1001 overlap: Thu 2026-10-22 08:00 to")
    assert len(client.get("/api/v1/shifts").json()) == 1
    assert changes.calls == calls


@pytest.mark.parametrize(("body", "message"), [
    ({"agent": "1009", "start": "2026-10-22T08:00Z", "end": "2026-10-22T16:00Z", "timezone": "UTC"},
     "is for agent 1009, who is not in the rota"),
    ({"agent": "1001", "start": "2026-10-22T08:00Z", "end": "2026-10-22T07:00Z", "timezone": "UTC"},
     "which is not after its start"),
    ({"agent": "1001", "start": "2026-10-22T00:00Z", "end": "2026-10-22T20:00Z", "timezone": "UTC"},
     "lasts 20 h, longer than the maximum of 16 h"),
    ({"agent": "1001", "start": "2026-10-22T08:00", "end": "2026-10-22T16:00", "timezone": "Mars/Base"},
     "Unknown timezone 'Mars/Base'"),
    ({"agent": "1001", "start": "2027-03-28T02:30", "end": "2027-03-28T08:00", "timezone": "Europe/Paris"},
     "2027-03-28T02:30:00 does not exist in Europe/Paris"),
])
def test_invalid_shifts_are_422_with_the_domain_message(client: TestClient, body: dict[str, str],
                                                        message: str) -> None:
    add_agents(client)
    response = client.post("/api/v1/shifts", json=body)
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_a_naive_period_is_refused(client: TestClient) -> None:
    response = client.get("/api/v1/shifts", params={"start": "2026-10-24T00:00"})
    assert response.status_code == 422


def test_deleting_an_unknown_shift_is_404(client: TestClient, changes: ChangeRecorder) -> None:
    response = client.delete("/api/v1/shifts/4242")
    assert response.status_code == 404
    assert response.json() == {"detail": "There is no shift with id 4242."}
    assert changes.calls == 0


def test_import_and_on_shift(client: TestClient, changes: ChangeRecorder) -> None:
    document = {
        "agents": [{"extension": "1001", "name": "Alice"}, {"extension": "1002", "name": "Bob", "level": 2} | PLAIN],
        "weekly": [{"agent": "1001", "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                    "start": "00:00", "end": "12:00", "timezone": "UTC"},
                   {"agent": "1001", "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                    "start": "12:00", "end": "24:00", "timezone": "UTC"}],
        "shifts": [{"agent": "1002", "start": "2026-10-21T09:00Z", "end": "2026-10-21T10:00Z",
                    "timezone": "UTC"}],
    }
    response = client.post("/api/v1/rota/import", json=document)

    assert response.status_code == 200
    assert response.json() == {"agents": 2, "shifts": 1, "replaced": 0, "patterns": 2, "warnings": []}
    assert client.get("/api/v1/rota/on-shift").json() == {
        "at": "2026-10-21T09:30:00Z",
        "agents": [{"extension": "1001", "name": "Alice", "level": 1} | PLAIN,
                   {"extension": "1002", "name": "Bob", "level": 2} | PLAIN]}
    assert changes.calls == 1


def test_an_invalid_import_is_422_and_changes_nothing(client: TestClient, changes: ChangeRecorder) -> None:
    document = {"agents": [{"extension": "1001", "name": "Alice"}],
                "weekly": [{"agent": "1001", "days": ["mon"], "start": "06:00", "end": "23:00",
                            "timezone": "UTC"}]}
    response = client.post("/api/v1/rota/import", json=document)

    assert response.status_code == 422
    assert "lasts 17 h, longer than the maximum of 16 h" in response.json()["detail"]
    assert client.get("/api/v1/agents").json() == []
    assert changes.calls == 0


def test_an_import_with_an_unknown_section_is_422(client: TestClient) -> None:
    response = client.post("/api/v1/rota/import", json={"agentz": []})
    assert response.status_code == 422


def test_every_route_has_a_response_model(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            content = operation["responses"][next(iter(operation["responses"]))]["content"]
            schema = content.get("application/json") or content.get("text/calendar") or content["text/csv"]
            assert schema["schema"], (method, path)
