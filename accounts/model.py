"""Who may use hotline: users, their role, and the tokens that stand for them (plain values, no I/O).

A *user* signs in with a name and password and has one *role*. An agent is linked to their rota extension,
which is how the cases they work are found (the calls they answered, the cases they opened). A *token*
stands for a user: an API token (``kind`` api, created by the user, revocable, no expiry unless given) or a
console session (``kind`` session, issued at sign-in, ends at sign-out or expiry). Only a digest of a token
is stored, so a copy of the database signs nobody in.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

TOKEN_PREFIX = "hl_"
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_EXTENSION = re.compile(r"^[0-9A-Za-z_.+-]{1,64}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class TokenKind(StrEnum):
    API = "api"
    SESSION = "session"


STAFF = frozenset({Role.SUPERVISOR, Role.ADMIN})
"""Roles that edit the rota, queues and knowledge base and see every case."""
EVERYONE = frozenset(Role)


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: Role
    extension: str | None
    display_name: str
    active: bool
    created_at: datetime


@dataclass(frozen=True)
class TokenView:
    id: int
    user_id: int
    kind: TokenKind
    label: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class AccountError(ValueError):
    """Bad input for an account (a malformed name, a short password...): the sentence says which."""


class UnknownUser(LookupError):
    def __init__(self, who: int | str) -> None:
        super().__init__(f"There is no user {who!r}.")
        self.who = who


class DuplicateUser(ValueError):
    def __init__(self, username: str) -> None:
        super().__init__(f"A user named {username!r} already exists.")
        self.username = username


class UnknownToken(LookupError):
    def __init__(self, token_id: int) -> None:
        super().__init__(f"There is no token {token_id} of this user.")
        self.token_id = token_id


def check_username(username: str) -> str:
    if not isinstance(username, str) or not _USERNAME.match(username):
        raise AccountError(
            f"A user name is 1 to 64 lower-case letters, digits, '.', '_' or '-', starting with a letter or "
            f"digit; got {username!r}."
        )
    return username


def check_password(password: str) -> str:
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise AccountError(f"A password has {MIN_PASSWORD} to {MAX_PASSWORD} characters.")
    return password


def check_extension(role: Role, extension: str | None) -> str | None:
    """An agent must have the rota extension their calls ring; other roles may have one."""
    if extension is not None and not _EXTENSION.match(extension):
        raise AccountError(f"An extension is 1 to 64 letters, digits or '_.+-'; got {extension!r}.")
    if role is Role.AGENT and extension is None:
        raise AccountError("An agent must be linked to their rota extension.")
    return extension


def new_token() -> str:
    """A fresh secret token (256 random bits); shown once, stored only as its digest."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What is stored of a token. A plain SHA-256 suffices: the token is random, not a guessable password."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_token(session_token: str) -> str:
    """The CSRF token of a console session: derived from the session secret, which the page cannot read
    (HttpOnly cookie), so a forged cross-site request cannot know it."""
    return hashlib.sha256(b"csrf:" + session_token.encode("utf-8")).hexdigest()
