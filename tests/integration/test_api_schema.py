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
