"""For API tests about something other than auth: sign every request in as a given user without a store.

The auth itself (tokens, cookies, CSRF, roles) is tested against the real account store in
``tests/integration/test_api_auth.py`` and ``test_api_roles.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import FastAPI

from accounts.model import Role, User
from api.auth import Principal, authenticate


def user(role: Role | str = Role.SUPERVISOR, extension: str | None = None, user_id: int = 1,
         username: str | None = None) -> User:
    role = Role(role)
    return User(id=user_id, username=username or str(role), role=role, extension=extension,
                display_name=username or str(role), active=True, created_at=datetime(2026, 1, 1, tzinfo=UTC))


def sign_in_as(app: FastAPI, who: User) -> FastAPI:
    async def principal() -> Principal:
        return Principal(who, "token")

    app.dependency_overrides[authenticate] = principal
    return app
