"""Who may use hotline: users, their role, and the tokens that stand for them (plain values, no I/O).

A *user* signs in with a name and password and has one *role*. An agent is linked to their rota extension,
which is how the cases they work are found (the calls they answered, the cases they opened). A *token*
stands for a user: an API token (``kind`` api, created by the user, revocable, no expiry unless given) or a
console session (``kind`` session, issued at sign-in, ends at sign-out or expiry). Only a digest of a token
is stored, so a copy of the database signs nobody in.

A user with an extension may also have a *SIP password*: what their phone answers Kamailio's digest
challenge with when it registers as that extension (or places a call). It is not the console password
(a phone keeps its password in clear text), and only its HA1 digests are stored, the form Kamailio's
``auth_db`` reads: HA1 = MD5("user:realm:password") and HA1b = MD5("user@realm:realm:password") (RFC 2617).
The hotline's own SIP phones, the *workers* (``hotline-1``, ``hotline-2``...), have credentials of the same
form. An HA1 is bound to its realm: when the SIP domain changes, every SIP password must be set again.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

TOKEN_PREFIX = "hl_"
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_EXTENSION = re.compile(r"^[0-9A-Za-z_.+-]{1,64}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
MIN_SIP_PASSWORD = 12
MAX_SIP_PASSWORD = 128
SIP_PASSWORD_LENGTH = 20
SIP_PASSWORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
"""What a generated SIP password is made of: letters and digits without the look-alikes (0 O 1 l I), since
it is often typed into a desk phone by hand. 20 of these 57 symbols carry about 116 random bits."""
_WORKER_NAME = re.compile(r"^hotline-[1-9][0-9]{0,3}$")
_REALM = re.compile(r"^[!#-~]{1,255}$")  # printable ASCII, no space, no double quote (a quoted-string in SIP)


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


class SipKind(StrEnum):
    AGENT = "agent"
    """A user's phone, registering as the user's extension."""
    WORKER = "worker"
    """A hotline worker, registering as ``hotline-N``."""


@dataclass(frozen=True)
class SipDigest:
    """What is stored of a SIP password: the two digests Kamailio's ``auth_db`` compares against."""

    username: str
    realm: str
    ha1: str
    ha1b: str

    @classmethod
    def of(cls, username: str, realm: str, password: str) -> SipDigest:
        return cls(username, realm, sip_ha1(username, realm, password), sip_ha1b(username, realm, password))


@dataclass(frozen=True)
class SipPassword:
    """A user's SIP password as the admin sees it: the identity and realm it was set for, and when."""

    user_id: int
    username: str
    realm: str
    changed_at: datetime


@dataclass(frozen=True)
class SipPasswordSet:
    """A SIP password just set: the only time the password itself is at hand (it is not stored)."""

    user_id: int
    username: str
    realm: str
    password: str
    changed_at: datetime


@dataclass(frozen=True)
class SipSubscriber:
    """One row of the ``sip_subscribers`` view: a SIP identity that may authenticate now."""

    username: str
    domain: str
    ha1: str
    ha1b: str


@dataclass(frozen=True)
class UserChange:
    """A user after a change, and what the change did besides (a SIP password dropped...), in sentences."""

    user: User
    notices: tuple[str, ...] = ()


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


class SipIdentityTaken(AccountError):
    """Another user's phone already authenticates as this identity."""

    def __init__(self, identity: str, holder: str) -> None:
        super().__init__(f"The SIP identity {identity!r} already has a SIP password, that of user {holder!r}: two "
                         f"users cannot share a phone identity. Give this user another extension, or remove "
                         f"{holder!r}'s SIP password first.")
        self.identity = identity
        self.holder = holder


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


def sip_ha1(username: str, realm: str, password: str) -> str:
    """RFC 2617's H(A1) for MD5: the hex MD5 of ``username:realm:password`` (UTF-8)."""
    return hashlib.md5(f"{username}:{realm}:{password}".encode(), usedforsecurity=False).hexdigest()


def sip_ha1b(username: str, realm: str, password: str) -> str:
    """H(A1) for a phone that sends ``username@realm`` as its digest user name (Kamailio's ``ha1b``)."""
    return sip_ha1(f"{username}@{realm}", realm, password)


def new_sip_password() -> str:
    """A fresh SIP password (``SIP_PASSWORD_LENGTH`` symbols of ``SIP_PASSWORD_ALPHABET`` from ``secrets``)."""
    return "".join(secrets.choice(SIP_PASSWORD_ALPHABET) for _ in range(SIP_PASSWORD_LENGTH))


def check_sip_password(password: str) -> str:
    """A SIP password someone chose: long enough, and only what every phone can type and encode alike."""
    if not isinstance(password, str):
        raise AccountError("A SIP password is a string.")
    if any(unicodedata.category(c).startswith("C") for c in password):
        raise AccountError("A SIP password may not contain control or invisible characters.")
    if not password.isascii():
        raise AccountError("A SIP password is printable ASCII (letters, digits, punctuation, space): phones "
                           "disagree on how to encode anything else, so their digest would not match.")
    if not MIN_SIP_PASSWORD <= len(password) <= MAX_SIP_PASSWORD:
        raise AccountError(f"A SIP password has {MIN_SIP_PASSWORD} to {MAX_SIP_PASSWORD} characters; "
                           f"got {len(password)}.")
    return password


def check_realm(realm: str) -> str:
    """The SIP realm (the SIP domain) a digest is computed for."""
    if not isinstance(realm, str) or not _REALM.match(realm):
        raise AccountError(f"A SIP realm is 1 to 255 printable ASCII characters without spaces or quotes; "
                           f"got {realm!r}.")
    return realm


def worker_name(number: int) -> str:
    """The SIP identity of the hotline worker ``number`` (1, 2, ...)."""
    return f"hotline-{number}"


def is_worker_name(name: str) -> bool:
    return bool(_WORKER_NAME.match(name))


def check_worker_name(name: str) -> str:
    if not isinstance(name, str) or not is_worker_name(name):
        raise AccountError(f"A hotline worker's SIP identity is 'hotline-N' (N from 1 to 9999); got {name!r}.")
    return name


def check_sip_identity(username: str, extension: str | None) -> str:
    """The SIP identity a user's phone authenticates as: their extension, which must not be a worker's."""
    if extension is None:
        raise AccountError(f"{username!r} has no extension: only a user with an extension (the identity their "
                           f"phone registers as) can have a SIP password.")
    if is_worker_name(extension):
        raise AccountError(f"{username!r} has the extension {extension!r}, the identity of a hotline worker: a "
                           f"phone may not authenticate as a worker. Give the user another extension first.")
    return extension


def stale_realm_notice(stale: list[SipPassword], realm: str) -> str | None:
    """The sentence for an operator whose SIP domain changed under SIP passwords set for another realm."""
    if not stale:
        return None
    realms = ", ".join(sorted({repr(s.realm) for s in stale}))
    who = ", ".join(s.username for s in stale)
    return (f"{len(stale)} SIP password{'s were' if len(stale) != 1 else ' was'} set for the realm {realms} but "
            f"the SIP domain (HOTLINE_SIP_DOMAIN) is now {realm!r}: the phones of extension {who} cannot authenticate "
            f"until an admin sets their SIP passwords again ('hotline users sip-password NAME' or the admin console).")


def sip_password_dropped(username: str, identity: str) -> str:
    return (f"The SIP password of {username!r} was removed: it was set for the identity {identity!r}, which is "
            f"no longer their extension; set a new one for their phone.")


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
