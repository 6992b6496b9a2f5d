"""``AccountStore``: users and their tokens in the database; safe to call from any thread.

Each method runs in its own session and transaction. ``resolve`` (asked on every API request) remembers an
answer for ``RESOLVE_TTL`` of the time it is given: a token revoked, or a user changed, through this store
takes effect at once (the memory is cleared on every change); one changed by another process (the CLI)
within that second. Passwords are hashed by ``accounts.passwords``
(argon2id); tokens are stored as SHA-256 digests (``accounts.model.token_digest``).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from accounts.model import (
    AccountError,
    DuplicateUser,
    Role,
    TokenKind,
    TokenView,
    UnknownToken,
    UnknownUser,
    User,
    check_extension,
    check_password,
    check_username,
    new_token,
    token_digest,
)
from accounts.orm import TokenRow, UserRow
from accounts.passwords import hash_password, needs_rehash, verify_password

_UNSET = object()
RESOLVE_TTL = timedelta(seconds=1)


class AccountStore:
    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._lock = threading.Lock()
        self._resolved: dict[tuple[str, TokenKind], tuple[datetime, datetime | None, User]] = {}
        """(digest, kind) -> (when resolved, token expiry, user) of live tokens resolved lately."""

    def _changed(self) -> None:
        with self._lock:
            self._resolved.clear()

    # -- users ----------------------------------------------------------------------------------------

    def create_user(self, username: str, password: str, role: Role | str, at: datetime,
                    extension: str | None = None, display_name: str | None = None) -> User:
        role = _role(role)
        check_username(username)
        check_password(password)
        check_extension(role, extension)
        name = _display_name(display_name, username)
        row = UserRow(username=username, password_hash=hash_password(password), role=role, extension=extension,
                      display_name=name, active=True, created_at=at)
        try:
            with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError:
            raise DuplicateUser(username) from None
        return _user(row)

    def update_user(self, user_id: int, *, role: Role | str | None = None, extension: object = _UNSET,
                    display_name: str | None = None, active: bool | None = None,
                    password: str | None = None) -> User:
        """Change what is given; ``extension=None`` unlinks it. Deactivating revokes nothing but makes every
        token of the user useless until reactivated."""
        try:
            with self._sessions.begin() as session:
                row = session.get(UserRow, user_id)
                if row is None:
                    raise UnknownUser(user_id)
                new_role = _role(role) if role is not None else Role(row.role)
                new_extension = row.extension if extension is _UNSET else extension
                if new_extension is not None and not isinstance(new_extension, str):
                    raise AccountError("An extension is a string or null.")
                check_extension(new_role, new_extension)
                row.role, row.extension = new_role, new_extension
                if display_name is not None:
                    row.display_name = _display_name(display_name, row.username)
                if active is not None:
                    row.active = active
                if password is not None:
                    row.password_hash = hash_password(check_password(password))
                return _user(row)
        finally:
            self._changed()  # after the commit, so no older answer is remembered

    def get_user(self, user_id: int) -> User:
        with self._sessions() as session:
            row = session.get(UserRow, user_id)
            if row is None:
                raise UnknownUser(user_id)
            return _user(row)

    def find_user(self, username: str) -> User:
        with self._sessions() as session:
            row = session.scalar(select(UserRow).where(UserRow.username == username))
            if row is None:
                raise UnknownUser(username)
            return _user(row)

    def list_users(self) -> list[User]:
        with self._sessions() as session:
            return [_user(row) for row in session.scalars(select(UserRow).order_by(UserRow.username))]

    def count_users(self) -> int:
        with self._sessions() as session:
            return len(session.scalars(select(UserRow.id)).all())

    def authenticate(self, username: str, password: str) -> User | None:
        """The active user with this name and password, or ``None`` (same answer, same time, whether the
        name or the password is wrong)."""
        with self._sessions.begin() as session:
            row = session.scalar(select(UserRow).where(UserRow.username == username))
            ok = verify_password(row.password_hash if row is not None else None, password)
            if row is None or not ok or not row.active:
                return None
            if needs_rehash(row.password_hash):
                row.password_hash = hash_password(password)
            return _user(row)

    # -- tokens ---------------------------------------------------------------------------------------

    def issue_token(self, user_id: int, kind: TokenKind | str, label: str, at: datetime,
                    ttl: timedelta | None = None) -> tuple[str, TokenView]:
        """A new token for the user: the secret (shown once) and what is kept of it."""
        kind = TokenKind(kind)
        if not isinstance(label, str) or not 1 <= len(label) <= 128:
            raise AccountError("A token label is 1 to 128 characters.")
        secret = new_token()
        with self._sessions.begin() as session:
            if session.get(UserRow, user_id) is None:
                raise UnknownUser(user_id)
            row = TokenRow(user_id=user_id, kind=kind, label=label, digest=token_digest(secret), created_at=at,
                           expires_at=at + ttl if ttl is not None else None)
            session.add(row)
            session.flush()
            return secret, _token(row)

    def resolve(self, secret: str, kind: TokenKind | str, at: datetime) -> User | None:
        """The active user a live token of ``kind`` stands for, or ``None``."""
        kind = TokenKind(kind)
        key = (token_digest(secret), kind)
        with self._lock:
            remembered = self._resolved.get(key)
        if remembered is not None:
            resolved_at, expires_at, known = remembered
            if resolved_at <= at < resolved_at + RESOLVE_TTL and (expires_at is None or at < expires_at):
                return known
        with self._sessions.begin() as session:
            found = session.execute(
                select(TokenRow, UserRow).join(UserRow, UserRow.id == TokenRow.user_id)
                .where(TokenRow.digest == token_digest(secret), TokenRow.kind == kind)
            ).first()
            if found is None:
                return None
            token, user = found.tuple()
            if token.revoked_at is not None or not user.active:
                return None
            if token.expires_at is not None and token.expires_at <= at:
                return None
            # Bounded write load: the last use is kept to the minute.
            if token.last_used_at is None or at - token.last_used_at >= timedelta(minutes=1):
                token.last_used_at = at
            resolved = _user(user)
        with self._lock:
            if len(self._resolved) >= 4096:
                self._resolved.clear()
            self._resolved[key] = (at, token.expires_at, resolved)
        return resolved

    def list_tokens(self, user_id: int, kind: TokenKind | str = TokenKind.API) -> list[TokenView]:
        with self._sessions() as session:
            rows = session.scalars(select(TokenRow).where(TokenRow.user_id == user_id,
                                                          TokenRow.kind == TokenKind(kind))
                                   .order_by(TokenRow.id))
            return [_token(row) for row in rows]

    def revoke_token(self, user_id: int, token_id: int, at: datetime) -> TokenView:
        try:
            with self._sessions.begin() as session:
                row = session.get(TokenRow, token_id)
                if row is None or row.user_id != user_id:
                    raise UnknownToken(token_id)
                if row.revoked_at is None:
                    row.revoked_at = at
                return _token(row)
        finally:
            self._changed()  # after the commit, so no older answer is remembered

    def revoke_secret(self, secret: str, at: datetime) -> bool:
        """End the token whose secret this is (sign-out); False if there was none live."""
        try:
            with self._sessions.begin() as session:
                done = session.execute(
                    update(TokenRow).where(TokenRow.digest == token_digest(secret), TokenRow.revoked_at.is_(None))
                    .values(revoked_at=at).execution_options(synchronize_session=False)
                )
                return bool(done.rowcount)  # type: ignore[attr-defined]
        finally:
            self._changed()  # after the commit, so no older answer is remembered


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise AccountError(f"A role is one of {', '.join(Role)}; got {role!r}.") from None


def _display_name(display_name: str | None, username: str) -> str:
    name = (display_name if display_name is not None else username).strip()
    if not 1 <= len(name) <= 128:
        raise AccountError("A display name is 1 to 128 characters.")
    return name


def _user(row: UserRow) -> User:
    return User(id=row.id, username=row.username, role=Role(row.role), extension=row.extension,
                display_name=row.display_name, active=row.active, created_at=row.created_at)


def _token(row: TokenRow) -> TokenView:
    return TokenView(id=row.id, user_id=row.user_id, kind=TokenKind(row.kind), label=row.label,
                     created_at=row.created_at, expires_at=row.expires_at, revoked_at=row.revoked_at,
                     last_used_at=row.last_used_at)
