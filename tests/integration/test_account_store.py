"""Users and tokens in a real database (SQLite file, or PostgreSQL with HOTLINE_TEST_DATABASE_URL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, select

from accounts.model import AccountError, DuplicateUser, Role, TokenKind, UnknownToken, token_digest
from accounts.orm import TokenRow, UserRow, metadata
from accounts.store import AccountStore

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"


@pytest.fixture
def store(engine: Engine) -> Iterator[AccountStore]:
    yield AccountStore(engine)


def test_migration_matches_the_mapping(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diff if d[0] not in ("remove_table", "remove_index")] == []


def test_password_is_hashed_with_argon2id_and_checked(store: AccountStore, engine: Engine) -> None:
    user = store.create_user("alice", PASSWORD, Role.AGENT, T0, extension="1001", display_name="Alice")
    with engine.connect() as conn:
        stored = conn.scalar(select(UserRow.password_hash).where(UserRow.id == user.id))
    assert stored is not None and stored.startswith("$argon2id$") and PASSWORD not in stored
    assert store.authenticate("alice", PASSWORD) == user
    assert store.authenticate("alice", PASSWORD + "x") is None
    assert store.authenticate("nobody", PASSWORD) is None
    store.update_user(user.id, active=False)
    assert store.authenticate("alice", PASSWORD) is None


@pytest.mark.parametrize(("username", "password", "role", "extension"), [
    ("Alice", PASSWORD, "agent", "1001"), ("", PASSWORD, "agent", "1001"), ("bob", "short", "agent", "1001"),
    ("bob", PASSWORD, "boss", None), ("bob", PASSWORD, "agent", None), ("bob", PASSWORD, "agent", "10 01"),
])
def test_bad_accounts_are_refused_with_a_sentence(store: AccountStore, username: str, password: str, role: str,
                                                  extension: str | None) -> None:
    with pytest.raises(AccountError, match=r"\w+ \w+"):
        store.create_user(username, password, role, T0, extension=extension)
    assert store.list_users() == []


def test_names_are_unique(store: AccountStore) -> None:
    store.create_user("sam", PASSWORD, Role.SUPERVISOR, T0)
    with pytest.raises(DuplicateUser):
        store.create_user("sam", PASSWORD, Role.ADMIN, T0)
    assert [u.role for u in store.list_users()] == [Role.SUPERVISOR]


def test_tokens_are_stored_as_digests_resolve_expire_and_revoke(store: AccountStore, engine: Engine) -> None:
    user = store.create_user("sam", PASSWORD, Role.SUPERVISOR, T0)
    secret, view = store.issue_token(user.id, TokenKind.API, "script", T0)
    with engine.connect() as conn:
        digests = conn.scalars(select(TokenRow.digest)).all()
    assert digests == [token_digest(secret)] and secret not in digests
    assert store.resolve(secret, TokenKind.API, T0) == user
    assert store.resolve(secret, TokenKind.SESSION, T0) is None  # an API token is no session cookie
    assert store.resolve(secret + "x", TokenKind.API, T0) is None

    session, _ = store.issue_token(user.id, TokenKind.SESSION, "console", T0, ttl=timedelta(hours=1))
    assert store.resolve(session, TokenKind.SESSION, T0 + timedelta(minutes=59)) == user
    assert store.resolve(session, TokenKind.SESSION, T0 + timedelta(hours=1)) is None

    assert store.revoke_token(user.id, view.id, T0).revoked_at == T0
    assert store.resolve(secret, TokenKind.API, T0) is None
    with pytest.raises(UnknownToken):
        store.revoke_token(user.id + 1, view.id, T0)


def test_a_deactivated_user_token_stops_working(store: AccountStore) -> None:
    user = store.create_user("al", PASSWORD, Role.AGENT, T0, extension="1001")
    secret, _ = store.issue_token(user.id, TokenKind.API, "x", T0)
    store.update_user(user.id, active=False)
    assert store.resolve(secret, TokenKind.API, T0) is None
    store.update_user(user.id, active=True)
    assert store.resolve(secret, TokenKind.API, T0) is not None
    assert store.revoke_secret(secret, T0) is True
    assert store.revoke_secret(secret, T0) is False


def test_an_agent_keeps_an_extension(store: AccountStore) -> None:
    user = store.create_user("al", PASSWORD, Role.AGENT, T0, extension="1001")
    with pytest.raises(AccountError):
        store.update_user(user.id, extension=None)
    assert store.update_user(user.id, role=Role.SUPERVISOR, extension=None).extension is None


def test_a_resolved_token_is_remembered_for_a_second_and_forgotten_on_any_change(
        store: AccountStore, engine: Engine) -> None:
    user = store.create_user("al", "a long password", Role.AGENT, T0, extension="1001")
    secret, _ = store.issue_token(user.id, TokenKind.API, "cli", T0, ttl=timedelta(seconds=30))
    assert store.resolve(secret, TokenKind.API, T0) == user
    other = AccountStore(engine)  # another process: the CLI
    other.update_user(user.id, active=False)
    assert store.resolve(secret, TokenKind.API, T0 + timedelta(milliseconds=500)) == user, "remembered"
    assert store.resolve(secret, TokenKind.API, T0 + timedelta(seconds=1)) is None, "asked again after a second"
    store.update_user(user.id, active=True)
    assert store.resolve(secret, TokenKind.API, T0 + timedelta(seconds=29, milliseconds=500)) == user
    assert store.resolve(secret, TokenKind.API, T0 + timedelta(seconds=30)) is None, "expiry is not remembered away"
    live, _ = store.issue_token(user.id, TokenKind.API, "cli", T0)
    assert store.resolve(live, TokenKind.API, T0) == user
    store.revoke_secret(live, T0)  # through this store: at once
    assert store.resolve(live, TokenKind.API, T0) is None
