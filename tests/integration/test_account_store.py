"""Users, tokens and SIP credentials in a real database (SQLite file, or PostgreSQL with
HOTLINE_TEST_DATABASE_URL); the view ``sip_subscribers`` read as Kamailio reads it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, select, text

from accounts.model import (
    AccountError,
    DuplicateUser,
    Role,
    SipIdentityTaken,
    TokenKind,
    UnknownToken,
    UnknownUser,
    token_digest,
)
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


# -- SIP credentials -------------------------------------------------------------------------------------

REALM = "sip.example.org"


def md5(text: str) -> str:
    """The digest computed here, independently of ``accounts.model``."""
    return hashlib.md5(text.encode()).hexdigest()


def view(engine: Engine) -> set[tuple[str, str, str, str]]:
    """The view as Kamailio's auth_db reads it: plain SQL on the named columns."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT username, domain, ha1, ha1b FROM sip_subscribers")).all()
    return {(r.username, r.domain, r.ha1, r.ha1b) for r in rows}


def row(username: str, password: str, realm: str = REALM) -> tuple[str, str, str, str]:
    return (username, realm, md5(f"{username}:{realm}:{password}"), md5(f"{username}@{realm}:{realm}:{password}"))


def test_the_view_holds_exactly_active_agents_with_sip_passwords_and_the_workers(store: AccountStore,
                                                                                 engine: Engine) -> None:
    al = store.create_user("al", PASSWORD, Role.AGENT, T0, extension="1001")
    bo = store.create_user("bo", PASSWORD, Role.AGENT, T0, extension="1002")
    store.create_user("cy", PASSWORD, Role.AGENT, T0, extension="1003")  # no SIP password
    sue = store.create_user("sue", PASSWORD, Role.SUPERVISOR, T0, extension="2001")
    store.create_user("root", PASSWORD, Role.ADMIN, T0)
    store.set_sip_password(al.id, REALM, T0, "al's phone password")
    store.set_sip_password(bo.id, REALM, T0, "bo's phone password")
    store.set_sip_password(sue.id, REALM, T0, "sue's phone password")
    store.set_worker_credentials(REALM, {"hotline-1": "worker one secret", "hotline-2": "worker two secret"}, T0)
    store.update_user(bo.id, active=False)

    expected = {row("1001", "al's phone password"), row("2001", "sue's phone password"),
                row("hotline-1", "worker one secret"), row("hotline-2", "worker two secret")}
    assert view(engine) == expected
    assert {(s.username, s.domain, s.ha1, s.ha1b) for s in store.sip_subscribers()} == expected

    store.update_user(bo.id, active=True)  # back in the view with the password set before
    assert view(engine) == expected | {row("1002", "bo's phone password")}


def test_only_digests_are_stored(store: AccountStore, engine: Engine) -> None:
    al = store.create_user("al", PASSWORD, Role.AGENT, T0, extension="1001")
    chosen = store.set_sip_password(al.id, REALM, T0, "al's phone password").password
    generated = store.set_sip_password(store.create_user("bo", PASSWORD, Role.AGENT, T0, extension="1002").id,
                                       REALM, T0).password
    store.set_worker_credentials(REALM, {"hotline-1": "worker one secret"}, T0)
    with engine.connect() as conn:
        stored = " ".join(str(v) for r in conn.execute(text("SELECT * FROM sip_credentials")).all() for v in r)
    for secret in (chosen, generated, "worker one secret"):
        assert secret not in stored


def test_a_generated_password_is_returned_once_and_rotating_replaces_the_old_one(store: AccountStore,
                                                                                 engine: Engine) -> None:
    al = store.create_user("al", PASSWORD, Role.AGENT, T0, extension="1001")
    assert store.sip_password(al.id) is None
    first = store.set_sip_password(al.id, REALM, T0)
    assert (first.username, first.realm, first.changed_at) == ("1001", REALM, T0)
    assert len(first.password) >= 16
    assert view(engine) == {row("1001", first.password)}
    later = T0 + timedelta(days=30)
    second = store.set_sip_password(al.id, REALM, later)
    assert second.password != first.password
    assert view(engine) == {row("1001", second.password)}, "the old password no longer authenticates"
    status = store.sip_password(al.id)
    assert status is not None and (status.username, status.realm, status.changed_at) == ("1001", REALM, later)
    assert store.sip_passwords() == {al.id: status}
    assert store.remove_sip_password(al.id) is True
    assert store.remove_sip_password(al.id) is False
    assert store.sip_password(al.id) is None and view(engine) == set()


@pytest.mark.parametrize(("password", "says"), [
    ("short-pw", "12 to 128"), ("has\x01control-char", "control"), (PASSWORD, "console password")])
def test_a_refused_sip_password_changes_nothing(store: AccountStore, engine: Engine, password: str,
                                                says: str) -> None:
    al = store.create_user("al", PASSWORD, Role.AGENT, T0, extension="1001")
    store.set_sip_password(al.id, REALM, T0, "al's phone password")
    with pytest.raises(AccountError, match=says):
        store.set_sip_password(al.id, REALM, T0 + timedelta(hours=1), password)
    assert view(engine) == {row("1001", "al's phone password")}
    assert store.sip_password(al.id).changed_at == T0  # type: ignore[union-attr]


def test_only_a_user_with_an_extension_has_a_sip_password(store: AccountStore, engine: Engine) -> None:
    sue = store.create_user("sue", PASSWORD, Role.SUPERVISOR, T0)
    with pytest.raises(AccountError, match="no extension"):
        store.set_sip_password(sue.id, REALM, T0)
    worker_like = store.create_user("mallory", PASSWORD, Role.SUPERVISOR, T0, extension="hotline-1")
    with pytest.raises(AccountError, match="hotline worker"):
        store.set_sip_password(worker_like.id, REALM, T0)
    with pytest.raises(UnknownUser):
        store.set_sip_password(987654, REALM, T0)
    assert view(engine) == set()


def test_two_users_cannot_share_a_sip_identity(store: AccountStore, engine: Engine) -> None:
    # Users may share an extension (nothing forbids it, as before); only one of them may have a SIP password.
    al = store.create_user("al", PASSWORD, Role.AGENT, T0, extension="1001")
    twin = store.create_user("twin", PASSWORD, Role.SUPERVISOR, T0, extension="1001")
    store.set_sip_password(al.id, REALM, T0, "al's phone password")
    with pytest.raises(SipIdentityTaken, match="'al'"):
        store.set_sip_password(twin.id, REALM, T0, "twin's phone password")
    assert view(engine) == {row("1001", "al's phone password")}
    store.remove_sip_password(al.id)
    store.set_sip_password(twin.id, REALM, T0, "twin's phone password")
    assert view(engine) == {row("1001", "twin's phone password")}


def test_a_changed_extension_drops_the_sip_password_and_says_so(store: AccountStore, engine: Engine) -> None:
    al = store.create_user("al", PASSWORD, Role.AGENT, T0, extension="1001")
    store.set_sip_password(al.id, REALM, T0, "al's phone password")
    unchanged = store.change_user(al.id, extension="1001", display_name="Al")
    assert unchanged.notices == () and store.sip_password(al.id) is not None
    moved = store.change_user(al.id, extension="1002")
    assert moved.user.extension == "1002"
    assert len(moved.notices) == 1 and "'1001'" in moved.notices[0] and "set a new one" in moved.notices[0]
    assert store.sip_password(al.id) is None
    assert view(engine) == set(), "the credential did not follow to 1002"
    store.set_sip_password(al.id, REALM, T0, "al's phone password")
    assert store.change_user(al.id, role=Role.SUPERVISOR, extension=None).notices != ()
    assert view(engine) == set()


def test_the_console_password_cannot_become_the_sip_password(store: AccountStore) -> None:
    al = store.create_user("al", PASSWORD, Role.AGENT, T0, extension="1001")
    store.set_sip_password(al.id, REALM, T0, "al's phone password")
    with pytest.raises(AccountError, match="must not be their SIP password"):
        store.update_user(al.id, password="al's phone password")
    assert store.authenticate("al", PASSWORD) is not None, "the refused change changed nothing"
    store.update_user(al.id, password="another long password")
    assert store.authenticate("al", "another long password") is not None


def test_workers_are_replaced_as_a_whole(store: AccountStore, engine: Engine) -> None:
    store.set_worker_credentials(REALM, {"hotline-1": "worker one secret", "hotline-2": "worker two secret"}, T0)
    store.set_worker_credentials(REALM, {"hotline-1": "worker one again"}, T0)
    assert view(engine) == {row("hotline-1", "worker one again")}
    for bad, says in [({"1001": "a worker password"}, "hotline-N"), ({"hotline-3": "short"}, "'hotline-3'"),
                      ({"hotline-2": "a fine password", "hotline-3": "bad\nnewline-pw"}, "control")]:
        with pytest.raises(AccountError, match=says):
            store.set_worker_credentials(REALM, bad, T0)
        assert view(engine) == {row("hotline-1", "worker one again")}, "all or nothing"
    store.set_worker_credentials(REALM, {}, T0)
    assert view(engine) == set()
    assert store.sip_passwords() == {}, "workers are no users' SIP passwords"


def test_sip_passwords_of_another_realm_are_reported(store: AccountStore, engine: Engine) -> None:
    al = store.create_user("al", PASSWORD, Role.AGENT, T0, extension="1001")
    bo = store.create_user("bo", PASSWORD, Role.AGENT, T0, extension="1002")
    store.set_sip_password(al.id, "old.example.org", T0, "al's phone password")
    store.set_sip_password(bo.id, REALM, T0, "bo's phone password")
    store.set_worker_credentials(REALM, {"hotline-1": "worker one secret"}, T0)
    assert [s.username for s in store.stale_sip_passwords(REALM)] == ["1001"]
    assert store.stale_sip_passwords("old.example.org")[0].username == "1002"
    assert row("1001", "al's phone password", "old.example.org") in view(engine)  # its domain says which realm
    store.set_sip_password(al.id, REALM, T0, "al's phone password")
    assert store.stale_sip_passwords(REALM) == []


def test_deleting_a_user_deletes_their_sip_password(store: AccountStore, engine: Engine) -> None:
    al = store.create_user("al", PASSWORD, Role.AGENT, T0, extension="1001")
    store.set_sip_password(al.id, REALM, T0, "al's phone password")
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM users WHERE id = :id"), {"id": al.id})
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM sip_credentials")) == 0
