"""``AccountStore``: users and their tokens in the database; safe to call from any thread.

Each method runs in its own session and transaction. ``resolve`` (asked on every API request) remembers an
answer for ``RESOLVE_TTL`` of the time it is given: a token revoked, or a user changed, through this store
takes effect at once (the memory is cleared on every change); one changed by another process (the CLI)
within that second. Passwords are hashed by ``accounts.passwords``
(argon2id); tokens are stored as SHA-256 digests (``accounts.model.token_digest``).

SIP credentials (``sip_credentials``, read by Kamailio through the view ``sip_subscribers``) are kept as HA1
digests only (``accounts.model.SipDigest``): a user's phone under the user's extension, and the hotline
workers, whose rows ``set_worker_credentials`` replaces at each start of the service.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from accounts.model import (
    AccountError,
    DuplicateUser,
    Role,
    SipDigest,
    SipIdentityTaken,
    SipKind,
    SipPassword,
    SipPasswordSet,
    SipSubscriber,
    TokenKind,
    TokenView,
    UnknownToken,
    UnknownUser,
    User,
    UserChange,
    check_extension,
    check_password,
    check_realm,
    check_sip_identity,
    check_sip_password,
    check_username,
    check_worker_name,
    new_sip_password,
    new_token,
    sip_password_dropped,
    token_digest,
)
from accounts.orm import SIP_SUBSCRIBERS, SipCredentialRow, TokenRow, UserRow
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
        token of the user useless until reactivated (and takes their phone out of ``sip_subscribers``)."""
        return self.change_user(user_id, role=role, extension=extension, display_name=display_name,
                                active=active, password=password).user

    def change_user(self, user_id: int, *, role: Role | str | None = None, extension: object = _UNSET,
                    display_name: str | None = None, active: bool | None = None,
                    password: str | None = None) -> UserChange:
        """``update_user``, telling besides what the change did: when the extension changes, the SIP password
        set for the old one is removed (it does not follow to the new identity: the admin sets a new one),
        and a notice says so."""
        notices: list[str] = []
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
                sip = session.scalar(select(SipCredentialRow).where(SipCredentialRow.user_id == user_id))
                if password is not None:
                    check_password(password)
                    if sip is not None and SipDigest.of(sip.username, sip.realm, password).ha1 == sip.ha1:
                        raise AccountError(f"The console password of {row.username!r} must not be their SIP "
                                           f"password: a phone keeps that one in clear text.")
                    row.password_hash = hash_password(password)
                if sip is not None and sip.username != new_extension:
                    session.delete(sip)
                    notices.append(sip_password_dropped(row.username, sip.username))
                row.role, row.extension = new_role, new_extension
                if display_name is not None:
                    row.display_name = _display_name(display_name, row.username)
                if active is not None:
                    row.active = active
                return UserChange(_user(row), tuple(notices))
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

    # -- SIP credentials ------------------------------------------------------------------------------

    def set_sip_password(self, user_id: int, realm: str, at: datetime, password: str | None = None) \
            -> SipPasswordSet:
        """Set or rotate the SIP password of a user's phone (identity: their extension) for ``realm``; with no
        ``password``, a new one is generated. The password is in the answer and nowhere else (only its HA1
        digests are stored): show it once. The previous password stops working at once."""
        check_realm(realm)
        chosen = check_sip_password(password) if password is not None else new_sip_password()
        with self._sessions.begin() as session:
            row = session.get(UserRow, user_id)
            if row is None:
                raise UnknownUser(user_id)
            identity = check_sip_identity(row.username, row.extension)
            if password is not None and verify_password(row.password_hash, password):
                raise AccountError(f"The SIP password of {row.username!r} must not be their console password: a "
                                   f"phone keeps its password in clear text.")
            holder = session.execute(
                select(UserRow.id, UserRow.username).join(SipCredentialRow, SipCredentialRow.user_id == UserRow.id)
                .where(SipCredentialRow.username == identity)
            ).first()
            if holder is not None and holder.id != user_id:
                raise SipIdentityTaken(identity, holder.username)
            digest = SipDigest.of(identity, realm, chosen)
            credential = session.scalar(select(SipCredentialRow).where(SipCredentialRow.user_id == user_id))
            if credential is None:
                credential = SipCredentialRow(user_id=user_id, kind=SipKind.AGENT)
                session.add(credential)
            credential.username, credential.realm = identity, realm
            credential.ha1, credential.ha1b, credential.updated_at = digest.ha1, digest.ha1b, at
            try:
                session.flush()
            except IntegrityError:  # a request for the same identity or user committed in the meantime
                raise AccountError(f"Another change to the SIP password of {identity!r} was made at the same "
                                   f"moment; nothing was changed by this one: try again.") from None
        return SipPasswordSet(user_id=user_id, username=identity, realm=realm, password=chosen, changed_at=at)

    def remove_sip_password(self, user_id: int) -> bool:
        """Remove the SIP password of a user's phone (it can no longer register); False if there was none."""
        with self._sessions.begin() as session:
            if session.get(UserRow, user_id) is None:
                raise UnknownUser(user_id)
            done = session.execute(delete(SipCredentialRow).where(SipCredentialRow.user_id == user_id)
                                   .execution_options(synchronize_session=False))
            return bool(done.rowcount)  # type: ignore[attr-defined]

    def sip_password(self, user_id: int) -> SipPassword | None:
        """Whether the user has a SIP password: for which identity and realm, set when; ``None`` if not."""
        with self._sessions() as session:
            if session.get(UserRow, user_id) is None:
                raise UnknownUser(user_id)
            row = session.scalar(select(SipCredentialRow).where(SipCredentialRow.user_id == user_id))
            return _sip_password(row) if row is not None else None

    def sip_passwords(self) -> dict[int, SipPassword]:
        """Every user's SIP password (as ``sip_password``), by user id."""
        with self._sessions() as session:
            rows = session.scalars(select(SipCredentialRow).where(SipCredentialRow.kind == SipKind.AGENT))
            return {row.user_id: _sip_password(row) for row in rows if row.user_id is not None}

    def stale_sip_passwords(self, realm: str) -> list[SipPassword]:
        """Users' SIP passwords set for another realm than ``realm`` (the SIP domain changed since): their
        phones cannot authenticate. ``accounts.model.stale_realm_notice`` words it for the operator."""
        with self._sessions() as session:
            rows = session.scalars(select(SipCredentialRow).where(SipCredentialRow.kind == SipKind.AGENT,
                                                                  SipCredentialRow.realm != realm)
                                   .order_by(SipCredentialRow.username))
            return [_sip_password(row) for row in rows if row.user_id is not None]

    def set_worker_credentials(self, realm: str, passwords: Mapping[str, str], at: datetime) -> None:
        """Replace every hotline worker's credentials by ``passwords`` ({``hotline-N``: password}), for
        ``realm``: the service calls this at each start with its workers, so a worker no longer configured
        can no longer authenticate. All or nothing."""
        check_realm(realm)
        digests = []
        for name, password in passwords.items():
            check_worker_name(name)
            try:
                check_sip_password(password)
            except AccountError as error:
                raise AccountError(f"The SIP password of the hotline worker {name!r} is refused: {error}") from None
            digests.append(SipDigest.of(name, realm, password))
        try:
            with self._sessions.begin() as session:
                session.execute(delete(SipCredentialRow).where(SipCredentialRow.kind == SipKind.WORKER)
                                .execution_options(synchronize_session=False))
                session.add_all(SipCredentialRow(username=d.username, realm=d.realm, ha1=d.ha1, ha1b=d.ha1b,
                                                 user_id=None, kind=SipKind.WORKER, updated_at=at) for d in digests)
        except IntegrityError:
            raise AccountError("A hotline worker's SIP identity is already a user's phone identity; change that "
                               "user's extension.") from None

    def sip_subscribers(self) -> list[SipSubscriber]:
        """The view ``sip_subscribers`` as Kamailio reads it: every SIP identity that may authenticate now."""
        with self._sessions() as session:
            rows = session.execute(select(SIP_SUBSCRIBERS).order_by(SIP_SUBSCRIBERS.c.username))
            return [SipSubscriber(r.username, r.domain, r.ha1, r.ha1b) for r in rows]

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


def _sip_password(row: SipCredentialRow) -> SipPassword:
    assert row.user_id is not None
    return SipPassword(user_id=row.user_id, username=row.username, realm=row.realm, changed_at=row.updated_at)


def _token(row: TokenRow) -> TokenView:
    return TokenView(id=row.id, user_id=row.user_id, kind=TokenKind(row.kind), label=row.label,
                     created_at=row.created_at, expires_at=row.expires_at, revoked_at=row.revoked_at,
                     last_used_at=row.last_used_at)
