"""Working a case through the API over real stores: open, edit, notes, escalate, close, search, and the
knowledge base with its suggestions (SQLite file, or PostgreSQL with HOTLINE_TEST_DATABASE_URL)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from accounts.model import User
from api.app import create_app
from api.deps import Services
from cases.articles import ArticleStore
from cases.model import SegmentInput, Speaker
from cases.store import CaseStore
from tests.api_auth import sign_in_as, user

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
AL = user("agent", extension="1001", user_id=1, username="al")
BO = user("agent", extension="1002", user_id=2, username="bo")
SUE = user("supervisor", user_id=3, username="sue")


@pytest.fixture
def store(engine: Engine) -> CaseStore:
    return CaseStore(engine)


@pytest.fixture
def app(engine: Engine, store: CaseStore) -> FastAPI:
    return create_app(Services(cases=store, rota=None, articles=ArticleStore(engine), clock=lambda: T0))


AsUser = Callable[[User], TestClient]


@pytest.fixture
def as_user(app: FastAPI) -> Iterator[AsUser]:
    client = TestClient(app)

    def switch(who: User) -> TestClient:
        sign_in_as(app, who)
        return client

    yield switch


def answered_call(store: CaseStore, call_id: str, caller: str, agent: str, lines: list[str]) -> int:
    case_id = store.call_started(call_id, caller, "100", "hotline-1", T0)
    store.call_answered(call_id, agent, T0 + timedelta(seconds=3))
    store.call_ended(call_id, T0 + timedelta(seconds=60), "answered", "caller")
    store.attach_transcript(call_id, [SegmentInput(Speaker.CALLER, 5.0 * i, 5.0 * i + 4, text)
                                      for i, text in enumerate(lines)])
    return case_id


def test_an_agent_opens_edits_notes_escalates_and_closes_a_case(as_user: AsUser, store: CaseStore) -> None:
    al = as_user(AL)
    made = al.post("/api/v1/cases", json={"caller_number": "5551234", "subject": "Laptop will not boot",
                                          "priority": "high"})
    assert made.status_code == 201, made.text
    case = made.json()
    assert (case["owner_extension"], case["priority"], case["level"], case["status"]) == ("1001", "high", 1, "open")
    case_id = case["id"]

    again = al.post("/api/v1/cases", json={"caller_number": "5551234"})
    assert again.status_code == 409 and str(case_id) in again.json()["detail"]

    edited = al.patch(f"/api/v1/cases/{case_id}", json={"category": "hardware", "steps_taken": "Held power 30 s",
                                                        "subject": None}).json()
    assert (edited["category"], edited["steps_taken"], edited["subject"], edited["priority"]) == (
        "hardware", "Held power 30 s", None, "high")
    note = al.post(f"/api/v1/cases/{case_id}/notes", json={"text": "Caller will try at home"})
    assert note.status_code == 201 and note.json()["author"] == "al" and note.json()["kind"] == "note"

    assert as_user(BO).get(f"/api/v1/cases/{case_id}").status_code == 404  # not Bo's case
    assert as_user(BO).post(f"/api/v1/cases/{case_id}/notes", json={"text": "x"}).status_code == 404

    al = as_user(AL)
    escalated = al.post(f"/api/v1/cases/{case_id}/escalate", json={"reason": "needs a new disk"}).json()
    assert (escalated["level"], escalated["escalated_at"]) == (2, "2026-03-02T09:00:00Z")
    assert escalated["notes"][-1]["kind"] == "escalation"
    assert escalated["notes"][-1]["text"].startswith("Escalated to level 2: needs a new disk")
    assert al.post(f"/api/v1/cases/{case_id}/escalate", json={"reason": "again"}).status_code == 409

    closed = al.post(f"/api/v1/cases/{case_id}/close", json={"resolution": "Disk replaced by level 2"})
    assert closed.status_code == 200
    body = closed.json()
    assert (body["status"], body["resolution"], body["notes"][-1]["kind"]) == (
        "closed", "Disk replaced by level 2", "resolution")
    assert al.post(f"/api/v1/cases/{case_id}/close", json={"resolution": "x"}).status_code == 409
    assert al.patch(f"/api/v1/cases/{case_id}", json={"priority": "low"}).status_code == 409
    reopened = al.patch(f"/api/v1/cases/{case_id}", json={"status": "open", "priority": "low"}).json()
    assert (reopened["status"], reopened["priority"]) == ("open", "low")


def test_escalation_carries_the_transcript(as_user: AsUser, store: CaseStore) -> None:
    case_id = answered_call(store, "e@pbx", "555", "1001", ["my vpn token expired", "it says access denied"])
    detail = as_user(AL).post(f"/api/v1/cases/{case_id}/escalate", json={"reason": "token server"}).json()
    text = detail["notes"][-1]["text"]
    assert "caller: my vpn token expired" in text and "caller: it says access denied" in text
    assert "e@pbx" in text


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/api/v1/cases", {"caller_number": ""}),
    ("POST", "/api/v1/cases", {"caller_number": "1", "priority": "extreme"}),
    ("POST", "/api/v1/cases", {"caller_number": "1", "colour": "red"}),
    ("PATCH", "/api/v1/cases/{id}", {"priority": None}),
    ("PATCH", "/api/v1/cases/{id}", {"status": "closed"}),
    ("PATCH", "/api/v1/cases/{id}", {"category": "x" * 65}),
    ("POST", "/api/v1/cases/{id}/notes", {"text": ""}),
    ("POST", "/api/v1/cases/{id}/close", {}),
])
def test_bad_input_is_422_and_changes_nothing(as_user: AsUser, method: str, path: str, body: dict[str, object]) -> None:
    sue = as_user(SUE)
    case_id = sue.post("/api/v1/cases", json={"caller_number": "42"}).json()["id"]
    before = sue.get(f"/api/v1/cases/{case_id}").json()
    response = sue.request(method, path.format(id=case_id), json=body)
    assert response.status_code == 422 and "detail" in response.json()
    assert sue.get(f"/api/v1/cases/{case_id}").json() == before
    assert sue.get("/api/v1/cases").json()["total"] == 1


def test_search_finds_whole_words_of_transcripts_in_any_case(as_user: AsUser, store: CaseStore) -> None:
    printer = answered_call(store, "p@pbx", "111", "1001", ["hello my Printer is offline", "since monday"])
    vpn = answered_call(store, "v@pbx", "222", "1001", ["the vpn will not connect", "printers are fine"])
    sue = as_user(SUE)
    manual = sue.post("/api/v1/cases", json={"caller_number": "333", "subject": "Printer jams (tray 2)",
                                             "priority": "urgent"}).json()["id"]

    def found(**params: object) -> list[int]:
        body = sue.get("/api/v1/cases", params=params).json()
        assert body["total"] == len(body["items"])
        return sorted(item["id"] for item in body["items"])

    assert found(q="printer") == sorted([printer, manual])  # "printers" is another word
    assert found(q="PRINTER offline") == [printer]  # every word, any case
    assert found(q="offline vpn") == []  # words of two different cases
    assert found(q="connect") == [vpn]
    assert found(q="print") == []  # whole words only
    assert found(q="printer", priority="urgent") == [manual]
    assert found(level=2) == []
    assert sue.get("/api/v1/cases", params={"q": "!!!"}).status_code == 422
    paged = sue.get("/api/v1/cases", params={"q": "printer", "limit": 1}).json()
    assert (len(paged["items"]), paged["total"]) == (1, 2)
    assert as_user(BO).get("/api/v1/cases", params={"q": "printer"}).json()["total"] == 0  # Bo works none


def test_knowledge_base_supervisors_write_everyone_gets_suggestions(as_user: AsUser, store: CaseStore) -> None:
    sue = as_user(SUE)
    printer = sue.post("/api/v1/kb/articles", json={"title": "Printer shows offline", "body": "Restart spooler.",
                                                    "keywords": ["printer", "offline", "Spooler"]})
    assert printer.status_code == 201 and printer.json()["keywords"] == ["printer", "offline", "spooler"]
    vpn = sue.post("/api/v1/kb/articles", json={"title": "VPN will not connect", "body": "Renew the token.",
                                                "keywords": ["vpn", "token"]}).json()
    assert sue.post("/api/v1/kb/articles", json={"title": "x", "body": "y", "keywords": ["two words"]}) \
        .status_code == 422
    updated = sue.put(f"/api/v1/kb/articles/{vpn['id']}", json={"title": "VPN refuses to connect",
                                                                "body": "Renew the token.",
                                                                "keywords": ["vpn", "token", "tunnel"]})
    assert updated.json()["updated_by"] == "sue"

    case_id = answered_call(store, "k@pbx", "555", "1001", ["my vpn says the token expired"])
    al = as_user(AL)
    assert al.post("/api/v1/kb/articles", json={"title": "t", "body": "b"}).status_code == 403
    suggested = al.get(f"/api/v1/cases/{case_id}/suggestions").json()
    assert [(s["article"]["id"], s["matched"]) for s in suggested] == [(vpn["id"], ["token", "vpn"])]
    free = al.get("/api/v1/kb/suggestions", params={"text": "printer offline and vpn"}).json()
    assert [s["article"]["title"] for s in free] == ["Printer shows offline", "VPN refuses to connect"]
    assert as_user(SUE).delete(f"/api/v1/kb/articles/{vpn['id']}").status_code == 200
    assert as_user(SUE).get(f"/api/v1/kb/articles/{vpn['id']}").status_code == 404


def test_nul_characters_are_refused_on_both_databases(as_user: AsUser) -> None:
    sue = as_user(SUE)
    for response in (sue.post("/api/v1/cases", json={"caller_number": "555\u0000"}),
                     sue.get("/api/v1/cases", params={"q": "printer\u0000"}),
                     sue.get("/api/v1/calls/a%00b")):
        assert response.status_code == 422
        assert response.json() == {"detail": "Text may not contain NUL (0x00) characters."}
    assert sue.get("/api/v1/cases").json()["total"] == 0
