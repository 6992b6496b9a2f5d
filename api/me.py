"""The signed-in user: sign in and out (``/session``), who am I (``/me``), my API tokens (``/me/tokens``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from accounts.model import TokenKind, UnknownToken, csrf_token
from api.auth import SESSION_COOKIE, CurrentUser, check_password, error_responses, unauthorized
from api.deps import RowId, ServicesDep
from api.users import AccountsDep, UserOut

router = APIRouter(tags=["me"])

class SessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class SessionOut(BaseModel):
    user: UserOut
    csrf_token: str
    """Send it as ``X-CSRF-Token`` with every change made under the session cookie."""
    expires_at: datetime


class MeOut(UserOut):
    csrf_token: str | None = None
    """Present when signed in with the session cookie."""


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = Field(min_length=1, max_length=128)
    expires_in_days: int | None = Field(None, ge=1, le=3650)


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    label: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class NewTokenOut(TokenOut):
    token: str
    """The secret, shown this once: send it as ``Authorization: Bearer <token>``."""


def start_session(services: ServicesDep, response: Response, user_id: int, ttl: timedelta,
                  secure: bool) -> tuple[str, datetime]:
    """Issue a session, set its cookie on ``response``; the secret and its expiry."""
    now = services.clock()
    secret, view = services.accounts.issue_token(user_id, TokenKind.SESSION, "console", now, ttl=ttl)
    response.set_cookie(SESSION_COOKIE, secret, max_age=int(ttl.total_seconds()), httponly=True, samesite="lax",
                        secure=secure, path="/")
    return secret, view.expires_at


@router.post("/session", response_model=SessionOut, responses=error_responses(401, 429),
             summary="Sign in: sets the console session cookie and returns its CSRF token")
def sign_in(body: SessionIn, services: ServicesDep, _accounts: AccountsDep, request: Request,
            response: Response) -> SessionOut:
    """401 for a wrong name or password; 429 with ``Retry-After`` after too many failures lately."""
    user = check_password(services, request, body.username, body.password)
    if user is None:
        raise unauthorized("The user name or password is wrong, or the user is deactivated.")
    secret, expires = start_session(services, response, user.id, services.session_ttl, services.cookie_secure)
    return SessionOut(user=UserOut.model_validate(user), csrf_token=csrf_token(secret), expires_at=expires)


@router.delete("/session", status_code=HTTPStatus.NO_CONTENT,
               summary="Sign out: ends the console session")
def sign_out(principal: CurrentUser, services: ServicesDep, response: Response) -> None:
    if principal.session is not None:
        services.accounts.revoke_secret(principal.session, services.clock())
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/me", response_model=MeOut, summary="The signed-in user")
def me(principal: CurrentUser) -> MeOut:
    return MeOut(**UserOut.model_validate(principal.user).model_dump(), csrf_token=principal.csrf)


@router.get("/me/tokens", response_model=list[TokenOut],
            summary="My API tokens")
def list_tokens(principal: CurrentUser, accounts: AccountsDep) -> list[Any]:
    return accounts.list_tokens(principal.user.id)


@router.post("/me/tokens", response_model=NewTokenOut, status_code=HTTPStatus.CREATED,
             summary="Create an API token (its secret is shown once)")
def create_token(body: TokenIn, principal: CurrentUser, accounts: AccountsDep, services: ServicesDep) -> NewTokenOut:
    ttl = timedelta(days=body.expires_in_days) if body.expires_in_days is not None else None
    secret, view = accounts.issue_token(principal.user.id, TokenKind.API, body.label, services.clock(), ttl=ttl)
    return NewTokenOut(**TokenOut.model_validate(view).model_dump(), token=secret)


@router.delete("/me/tokens/{token_id}", response_model=TokenOut,
               summary="Revoke one of my API tokens")
def revoke_token(token_id: RowId, principal: CurrentUser, accounts: AccountsDep, services: ServicesDep) -> Any:
    try:
        return accounts.revoke_token(principal.user.id, token_id, services.clock())
    except UnknownToken as error:
        raise HTTPException(HTTPStatus.NOT_FOUND, detail=str(error)) from None

