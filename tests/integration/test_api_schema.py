"""schemathesis against the OpenAPI schema: generated requests to every operation, signed in as an admin
(who may call every route), must never get a 5xx nor a response that contradicts the schema."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance
from sqlalchemy import Engine

from accounts.model import Role, TokenKind
from accounts.store import AccountStore
from api.app import create_app
from api.deps import Services
from cases.articles import ArticleStore
from cases.store import CaseStore
from hotline.bootstrap import CaseRecorder
from routing.agents import AgentProfile
from routing.distributor import Distributor, FlowSettings
from routing.queuefile import default_config
from routing.store import RoutingStore
from shifts.store import RotaStore

pytestmark = pytest.mark.integration

EXAMPLES = 8
"""Per operation: enough to reach the validation edges of each, with ~80 operations kept under a minute."""

def test_no_server_error_and_no_schema_violation(engine: Engine) -> None:
    accounts = AccountStore(engine)
    admin = accounts.create_user("admin", "a long password", Role.ADMIN, datetime(2026, 1, 1, tzinfo=UTC))
    token, _ = accounts.issue_token(admin.id, TokenKind.API, "schemathesis", datetime.now(UTC))
    headers = {"Authorization": f"Bearer {token}"}
    app = create_app(Services(cases=CaseStore(engine), rota=RotaStore(engine), accounts=accounts,
                              articles=ArticleStore(engine),
                              health=lambda: {"can_take_calls": {"up": True}}))  # 503 is /health's own answer
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    checks = [not_a_server_error, response_schema_conformance, content_type_conformance]
    # schemathesis's pytest plugin does not run under this pytest; its strategies are driven directly.
    failures: dict[str, str] = {}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an invalid schema raises here
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=checks)

        try:
            run()
        except (Exception, BaseExceptionGroup) as error:  # every operation is tried; the failures are reported together
            failures[operation.label] = str(error)[:2000]
    assert operations > 60
    assert failures == {}


def test_queue_operations_with_routing_wired(engine: Engine) -> None:
    """The queue routes against a running routing core (the test above has none wired, so it cannot reach
    them), a fresh token for every request: an operation of another router may revoke the token it was
    called with, and a request refused with 401 tests nothing."""
    accounts = AccountStore(engine)
    admin = accounts.create_user("admin", "a long password", Role.ADMIN, datetime(2026, 1, 1, tzinfo=UTC))
    store = RoutingStore(engine)
    routing = Distributor(config=default_config(), recorder=CaseRecorder(CaseStore(engine)),
                          transcriber=None, clock=lambda: datetime.now(UTC),  # type: ignore[arg-type]
                          settings=FlowSettings(), journal=store, queue_store=store)
    routing.update_rota([AgentProfile("1001", 1)], ["1001"])
    app = create_app(Services(cases=CaseStore(engine), rota=RotaStore(engine), accounts=accounts,
                              routing=routing, routing_log=store))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    checks = [not_a_server_error, response_schema_conformance, content_type_conformance]
    failures: dict[str, str] = {}
    statuses: set[int] = set()
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        if not operation.path.startswith(("/api/v1/queues", "/api/v1/queue-")):
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES * 3, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            token, _ = accounts.issue_token(admin.id, TokenKind.API, "schemathesis", datetime.now(UTC))
            response = case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=checks)
            statuses.add(response.status_code)

        try:
            run()
        except (Exception, BaseExceptionGroup) as error:
            failures[operation.label] = str(error)[:2000]
    routing.stop()
    assert failures == {}, "\n".join(f"{k}: {v[:500]}" for k, v in sorted(failures.items()))
    assert 401 not in statuses and 200 in statuses
