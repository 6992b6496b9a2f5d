"""User management, for admins only: ``/users``. Passwords are never returned."""

from __future__ import annotations

from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from accounts.model import AccountError, DuplicateUser, Role, UnknownUser
from accounts.store import AccountStore
from api.auth import Admin
from api.deps import RowId, ServicesDep

router = APIRouter(tags=["users"])


def get_accounts(services: ServicesDep) -> AccountStore:
    if services.accounts is None:
        raise HTTPException(HTTPStatus.SERVICE_UNAVAILABLE, detail="No account store is configured.")
    return cast(AccountStore, services.accounts)


AccountsDep = Annotated[AccountStore, Depends(get_accounts)]


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    role: Role
    extension: str | None
    display_name: str
    active: bool
    created_at: datetime


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=10, max_length=1024)
    role: Role
    extension: str | None = Field(None, min_length=1, max_length=64)
    display_name: str | None = Field(None, min_length=1, max_length=128)


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    extension: str | None = Field(None, min_length=1, max_length=64)
    display_name: str | None = Field(None, min_length=1, max_length=128)
    active: bool | None = None
    password: str | None = Field(None, min_length=10, max_length=1024)


def _bad(error: Exception) -> HTTPException:
    if isinstance(error, UnknownUser):
        return HTTPException(HTTPStatus.NOT_FOUND, detail=str(error))
    if isinstance(error, DuplicateUser):
        return HTTPException(HTTPStatus.CONFLICT, detail=str(error))
    return HTTPException(HTTPStatus.UNPROCESSABLE_ENTITY, detail=str(error))


@router.get("/users", response_model=list[UserOut], summary="Every user")
def list_users(_: Admin, accounts: AccountsDep) -> list[Any]:
    return accounts.list_users()


@router.post("/users", response_model=UserOut, status_code=HTTPStatus.CREATED, summary="Create a user")
def create_user(body: UserIn, _: Admin, accounts: AccountsDep, services: ServicesDep) -> Any:
    try:
        return accounts.create_user(body.username, body.password, body.role, services.clock(),
                                    extension=body.extension, display_name=body.display_name)
    except (AccountError, DuplicateUser) as error:
        raise _bad(error) from None


@router.get("/users/{user_id}", response_model=UserOut, summary="One user")
def get_user(user_id: RowId, _: Admin, accounts: AccountsDep) -> Any:
    try:
        return accounts.get_user(user_id)
    except UnknownUser as error:
        raise _bad(error) from None


@router.patch("/users/{user_id}", response_model=UserOut,
              summary="Change a user's role, extension, name, password or activity")
def update_user(user_id: RowId, body: UserPatch, principal: Admin, accounts: AccountsDep) -> Any:
    changes = body.model_dump(exclude_unset=True)
    demoted = changes.get("role") not in (None, Role.ADMIN)
    if user_id == principal.user.id and (changes.get("active") is False or demoted):
        raise HTTPException(HTTPStatus.CONFLICT, detail="An admin cannot deactivate or demote themselves.")
    try:
        return accounts.update_user(user_id, **changes)
    except (AccountError, UnknownUser) as error:
        raise _bad(error) from None
