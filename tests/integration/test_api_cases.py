"""The cases read API over a real ``CaseStore`` and database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.cases import CaseReads, router
from api.deps import Services
from cases.model import SegmentInput, Speaker, WordInput
from cases.store import CaseStore
from hotline.db import make_engine
from tests.api_auth import sign_in_as, user

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def store(migrated_database_url: str) -> Iterator[CaseStore]:
    engine = make_engine(migrated_database_url)
    yield CaseStore(engine)
    engine.dispose()


@pytest.fixture
def client(store: CaseStore) -> Iterator[TestClient]:
    reads: CaseReads = store  # mypy checks that the store offers what the router needs
    app = FastAPI()
    app.state.services = Services(cases=reads, rota=None)
    app.include_router(router, prefix="/api/v1")
    sign_in_as(app, user("supervisor"))
    with TestClient(app) as client:
        yield client


def answered_call(store: CaseStore, sip_call_id: str, caller: str, seconds: float) -> int:
    case_id = store.call_started(sip_call_id, caller, "100", "hotline-1", at(seconds))
    store.call_queued(sip_call_id, at(seconds + 1))
    store.call_answered(sip_call_id, "201", at(seconds + 4))
    store.call_ended(sip_call_id, at(seconds + 60), "answered", "caller")
    store.attach_transcript(sip_call_id, [
        SegmentInput(Speaker.CALLER, 2.0, 3.0, "it is broken", (WordInput("it", 2.0, 2.2, 0.8),)),
        SegmentInput(Speaker.AGENT, 0.5, 1.5, "helpdesk"),
    ])
    return case_id


def test_list_is_empty_at_first(client: TestClient) -> None:
    response = client.get("/api/v1/cases")
    assert response.status_code == 200
    assert response.json() == {"items": [], "total": 0, "limit": 50, "offset": 0}


def test_list_filters_and_pages(client: TestClient, store: CaseStore) -> None:
    first = store.call_started("a@pbx", "555", "100", "hotline-1", at(0))
    store.close_case(first, at(5))
    second = store.call_started("b@pbx", "555", "100", "hotline-1", at(10))
    third = store.call_started("c@pbx", "777", "100", "hotline-1", at(20))

    body = client.get("/api/v1/cases").json()
    assert [item["id"] for item in body["items"]] == [third, second, first]
    assert body["total"] == 3
    assert body["items"][2] == {
        "id": first, "caller_number": "555", "status": "closed", "category": None, "subject": None,
        "created_at": "2026-03-02T09:00:00Z", "updated_at": "2026-03-02T09:00:05Z",
        "closed_at": "2026-03-02T09:00:05Z", "call_count": 1, "priority": "normal", "level": 1,
        "owner_extension": None, "description": None, "steps_taken": None, "resolution": None,
        "escalated_at": None,
    }
    paged = client.get("/api/v1/cases", params={"limit": 1, "offset": 1}).json()
    assert ([item["id"] for item in paged["items"]], paged["total"], paged["limit"], paged["offset"]) == (
        [second], 3, 1, 1)
    by_caller = client.get("/api/v1/cases", params={"caller": "555", "status": "open"}).json()
    assert ([item["id"] for item in by_caller["items"]], by_caller["total"]) == ([second], 1)


@pytest.mark.parametrize("params", [
    {"limit": 0}, {"limit": 201}, {"limit": "many"}, {"offset": -1}, {"status": "pending"}, {"caller": ""},
])
def test_list_rejects_bad_query_parameters(client: TestClient, params: dict[str, object]) -> None:
    response = client.get("/api/v1/cases", params=params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", next(iter(params))]


def test_show_case_with_calls_events_and_transcript(client: TestClient, store: CaseStore) -> None:
    case_id = answered_call(store, "a@pbx", "555", 0)
    store.call_started("b@pbx", "555", "100", "hotline-2", at(300))

    response = client.get(f"/api/v1/cases/{case_id}")
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["status"], body["call_count"]) == (case_id, "open", 2)
    first, second = body["calls"]
    assert first["sip_call_id"] == "a@pbx"
    assert (first["outcome"], first["hangup_by"], first["agent_extension"]) == ("answered", "caller", "201")
    assert (first["answered_at"], first["transcript_status"]) == ("2026-03-02T09:00:04Z", "done")
    assert [event["kind"] for event in first["events"]] == ["started", "queued", "answered", "ended"]
    assert first["events"][2]["detail"] == {"agent_extension": "201"}
    assert first["segments"] == [
        {"speaker": "agent", "start": 0.5, "end": 1.5, "text": "helpdesk", "words": []},
        {"speaker": "caller", "start": 2.0, "end": 3.0, "text": "it is broken",
         "words": [{"text": "it", "start": 2.0, "end": 2.2, "conf": 0.8}]},
    ]
    assert (second["sip_call_id"], second["worker"], second["ended_at"]) == ("b@pbx", "hotline-2", None)


def test_unknown_case_is_404_with_a_reason(client: TestClient) -> None:
    response = client.get("/api/v1/cases/9999")
    assert response.status_code == 404
    assert response.json() == {"detail": "There is no case with id 9999."}
    assert client.get("/api/v1/cases/abc").status_code == 422


def test_show_call_by_sip_call_id_even_with_a_slash(client: TestClient, store: CaseStore) -> None:
    odd_call_id = "a84b4c76e66710/x?y@pc33.example.com"
    case_id = answered_call(store, odd_call_id, "555", 0)

    response = client.get(f"/api/v1/calls/{quote(odd_call_id, safe='')}")
    assert response.status_code == 200
    body = response.json()
    assert (body["sip_call_id"], body["case_id"]) == (odd_call_id, case_id)
    assert [segment["text"] for segment in body["segments"]] == ["helpdesk", "it is broken"]


def test_unknown_call_is_404_with_a_reason(client: TestClient) -> None:
    response = client.get("/api/v1/calls/nobody@pbx")
    assert response.status_code == 404
    assert response.json() == {"detail": "No call with SIP Call-ID 'nobody@pbx' has been recorded."}


def test_every_route_documents_its_response_model(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/cases", "/api/v1/cases/{case_id}", "/api/v1/calls/{sip_call_id}"):
        schema = paths[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert "$ref" in schema, path
