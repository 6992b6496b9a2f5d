"""GET /health: 200 only when the service can take calls, 503 otherwise, with every component listed and the
reasons in a sentence; 503 too when the call service does not answer at all."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from api.deps import Services, Unavailable


def client(components: dict[str, dict[str, Any]]) -> TestClient:
    return TestClient(create_app(Services(cases=None, rota=None, health=lambda: components)))


def test_healthy_service_answers_200() -> None:
    response = client({"kamailio": {"up": True}, "speech_model": {"up": False}, "can_take_calls": {"up": True}}) \
        .get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["can_take_calls"] is True and body["detail"] is None
    assert body["components"]["speech_model"] == {"up": False}  # reported, but calls are still taken
    assert "can_take_calls" not in body["components"]


def test_service_that_cannot_take_calls_answers_503_with_its_reasons() -> None:
    reasons = ["No SIP worker is up.", "The SIP edge (Kamailio) does not answer."]
    response = client({"kamailio": {"up": False}, "can_take_calls": {"up": False, "reasons": reasons}}) \
        .get("/health")
    assert response.status_code == 503
    assert response.json() == {"can_take_calls": False, "components": {"kamailio": {"up": False}},
                               "detail": "No SIP worker is up. The SIP edge (Kamailio) does not answer."}


def test_a_call_service_that_does_not_answer_is_503_with_the_sentence() -> None:
    def silent() -> dict[str, dict[str, Any]]:
        raise Unavailable("The call service did not answer within 2 s.")

    response = TestClient(create_app(Services(cases=None, rota=None, health=silent))).get("/health")
    assert response.status_code == 503
    assert response.json() == {"can_take_calls": False, "components": {},
                               "detail": "The call service did not answer within 2 s."}
