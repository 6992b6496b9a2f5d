"""schemathesis against the OpenAPI schema, as each role: generated requests to every operation must never get
a 5xx, a status code the operation does not document, or a body or content type that contradicts the schema.

The service behind the app is the real one on a real database: stores, the routing distributor with the
default queues and two agents. Every request gets a fresh API token of the role, so an operation that revokes
tokens or ends sessions cannot make the rest of the run a string of 401s; a 401 to a signed-in user is itself
a failure (except at sign-in, where a generated password is wrong), and the run fails unless every operation
the role may use (per the role test's POLICY) answered something other than 401/403 at least once, so a run of
nothing but refusals cannot pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
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
from tests.integration.test_api_roles import POLICY, PUBLIC

pytestmark = pytest.mark.integration

EXAMPLES = 8
"""Per operation: enough to reach the validation edges of each, with ~80 operations kept under a minute."""
T0 = datetime(2026, 1, 1, tzinfo=UTC)
SIGN_IN = "POST /api/v1/session"


@pytest.fixture
def service(engine: Engine) -> Iterator[tuple[Services, AccountStore]]:
    accounts = AccountStore(engine)
    cases = CaseStore(engine)
    routing = Distributor(config=default_config(), recorder=CaseRecorder(cases), transcriber=None,  # type: ignore[arg-type]
                          clock=lambda: datetime.now(UTC), settings=FlowSettings(), journal=RoutingStore(engine))
    routing.update_rota([AgentProfile("1001", 1), AgentProfile("2001", 2, frozenset({"network"}))], ["1001", "2001"])
    services = Services(cases=cases, rota=RotaStore(engine), accounts=accounts, articles=ArticleStore(engine),
                        routing=routing, routing_log=RoutingStore(engine), live=routing.snapshot,
                        health=lambda: {"can_take_calls": {"up": True}})  # 503 is /health's own answer
    yield services, accounts
    routing.stop()


@pytest.mark.parametrize("role", list(Role))
def test_no_server_error_and_no_schema_violation(service: tuple[Services, AccountStore], role: Role) -> None:
    services, accounts = service
    user = accounts.create_user(f"the-{role}", "a long password", role, T0,
                                extension="1001" if role is Role.AGENT else None)
    app = create_app(services)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    checks = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance]
    let_through: set[str] = set()
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
            label = case.operation.label
            token, _ = accounts.issue_token(user.id, TokenKind.API, "schemathesis", datetime.now(UTC))
            response = case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=checks)
            if response.status_code not in (401, 403):
                let_through.add(label)
            assert response.status_code != 401 or label == SIGN_IN, f"{label}: 401 to a signed-in {role}"

        try:
            run()
        except (Exception, BaseExceptionGroup) as error:  # every operation is tried; the failures are reported together
            failures[operation.label] = str(error)[:2000]
    assert operations > 60
    assert failures == {}
    # Every operation the role may use was reached at least once (an agent's own-state routes need their own
    # extension, which generated paths seldom name; the role test covers those).
    may_use = {f"{method} {re.sub(r':path}', '}', path)}" for (method, path), allowed in POLICY.items()
               if path.startswith("/api/v1/") and (allowed == PUBLIC or role in allowed)
               and "{extension}" not in path}
    assert may_use - let_through - {SIGN_IN} == set()
