"""Who is asking, and may they: the authentication and role dependencies every router uses.

A request proves who it is in one of two ways:

- ``Authorization: Bearer <token>``: an API token a user created (``/api/v1/me/tokens``); for scripts and
  integrations. No cookie, so no CSRF check.
- the console session cookie (``hotline_session``: HttpOnly, SameSite=Lax, Secure when configured) issued at
  sign-in. A request that changes anything with it must also carry the session's CSRF token, in the
  ``X-CSRF-Token`` header (htmx sends it) or the ``csrf_token`` form field.

Every refusal is 401 (no or bad credentials, with ``WWW-Authenticate: Bearer``) or 403 (signed in, but not
allowed, or no CSRF token) with the body ``{"detail": "<sentence>"}``, like every other error of the API;
it is raised before the route reads anything, so a refused request never gets data.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Annotated, Any, Literal

from fastapi import Depends, HTTPException, Request
from pydantic import BaseModel

from accounts.model import EVERYONE, STAFF, Role, TokenKind, User, csrf_token
from api.deps import Services, ServicesDep

SESSION_COOKIE = "hotline_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Principal:
    """The signed-in user of a request and how they proved it."""

    user: User
    via: Literal["token", "session"]
    session: str | None = None
    """The session secret when ``via`` is session (to derive the CSRF token and to sign out)."""

    @property
    def csrf(self) -> str | None:
        return csrf_token(self.session) if self.session is not None else None

    @property
    def is_staff(self) -> bool:
        return self.user.role in STAFF


class ErrorOut(BaseModel):
    """The body of every refusal and error: one sentence (422 validation errors give a list instead)."""

    detail: str


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(HTTPStatus.UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def forbidden(detail: str) -> HTTPException:
    return HTTPException(HTTPStatus.FORBIDDEN, detail=detail)


def check_password(services: Services, request: Request, username: str, password: str) -> User | None:
    """The user with this name and password, or ``None``; 429 with ``Retry-After`` (the password not even
    checked) while this name from this client address, or this address, has failed too often lately
    (``accounts.throttle``). The address is the connection's peer: behind a proxy that is the proxy."""
    throttle = services.sign_in_throttle
    address = request.client.host if request.client is not None else "unknown"
    refusal = throttle.check(username, address, services.clock())
    if refusal is not None:
        raise HTTPException(HTTPStatus.TOO_MANY_REQUESTS, detail=refusal.sentence(),
                            headers={"Retry-After": str(refusal.seconds)})
    user = services.accounts.authenticate(username, password) if services.accounts is not None else None
    if user is None:
        throttle.failed(username, address, services.clock())
    else:
        throttle.succeeded(username, address)
    return user


async def _csrf_sent(request: Request) -> str | None:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    return sent


async def authenticate(request: Request, services: ServicesDep) -> Principal | None:
    """The principal of the request, ``None`` when it carries no credentials; 401 when they are bad."""
    accounts = services.accounts
    now = services.clock()
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise unauthorized("The Authorization header must be 'Bearer <token>'.")
        user = accounts.resolve(secret.strip(), TokenKind.API, now) if accounts is not None else None
        if user is None:
            raise unauthorized("The token is unknown, revoked or expired, or its user is deactivated.")
        return Principal(user, "token")
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie is None:
        return None
    user = accounts.resolve(cookie, TokenKind.SESSION, now) if accounts is not None else None
    if user is None:
        raise unauthorized("The session has ended; sign in again.")
    principal = Principal(user, "session", cookie)
    if request.method not in SAFE_METHODS:
        sent = await _csrf_sent(request)
        if sent is None or not hmac.compare_digest(sent, principal.csrf or ""):
            raise forbidden(f"A change made from the console must carry its CSRF token ({CSRF_HEADER} header "
                            f"or {CSRF_FIELD} field).")
    return principal


async def current_principal(request: Request, principal: Annotated[Principal | None, Depends(authenticate)]) \
        -> Principal:
    if principal is None:
        raise unauthorized("Sign in first: send 'Authorization: Bearer <token>' or the console session cookie.")
    request.state.principal = principal
    return principal


def require(roles: Iterable[Role]) -> Callable[..., Awaitable[Principal]]:
    """A dependency that lets through only users with one of ``roles``."""
    allowed = frozenset(roles)
    names = " or ".join(sorted(allowed))

    async def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.user.role not in allowed:
            raise forbidden(f"This needs the role {names}; you are signed in as {principal.user.role}.")
        return principal

    dependency.__name__ = f"require_{'_'.join(sorted(allowed))}"
    return dependency


signed_in = require(EVERYONE)
staff_only = require(STAFF)
admin_only = require({Role.ADMIN})

CurrentUser = Annotated[Principal, Depends(signed_in)]
Staff = Annotated[Principal, Depends(staff_only)]
Admin = Annotated[Principal, Depends(admin_only)]


def actor(principal: Principal) -> str:
    """How an edit is audited: the user's name."""
    return principal.user.username


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the refusals a protected route may answer."""
    return {code: {"description": HTTPStatus(code).phrase, "model": ErrorOut} for code in codes}
