"""User management, for admins only: ``/users``, and the SIP password of each user's phone
(``/users/{id}/sip-password``). Console passwords are never returned; a SIP password only once, in the answer
that set it (only its HA1 digests are stored)."""

from __future__ import annotations

from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, HTTPException, Response
from pydantic import BaseModel, ConfigDict, Field

from accounts.model import AccountError, DuplicateUser, Role, SipIdentityTaken, SipPassword, UnknownUser, User
from accounts.store import AccountStore
from api.auth import Admin, error_responses
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


class UserAdminOut(UserOut):
    """A user as admins see them: with the state of their phone's SIP password."""

    sip_password_set: bool
    sip_password_changed_at: datetime | None
    sip_realm: str | None
    """The realm the SIP password was set for; one other than the SIP domain's no longer authenticates."""


class UserChangedOut(UserAdminOut):
    notices: list[str]
    """What the change did besides, in sentences (a SIP password removed because the extension changed)."""


class SipPasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str | None = Field(None, max_length=1024)
    """The SIP password to set (12 to 128 printable ASCII characters); null or left out: generate one."""


class SipPasswordOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    user_id: int
    username: str
    """The SIP identity the phone authenticates as: the user's extension."""
    realm: str
    password: str
    """Shown this once: enter it in the phone now (it is not stored, and cannot be shown again)."""
    changed_at: datetime


def admin_view(user: User, sip: SipPassword | None) -> UserAdminOut:
    return UserAdminOut(**UserOut.model_validate(user).model_dump(), sip_password_set=sip is not None,
                        sip_password_changed_at=sip.changed_at if sip is not None else None,
                        sip_realm=sip.realm if sip is not None else None)


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
    if isinstance(error, DuplicateUser | SipIdentityTaken):
        return HTTPException(HTTPStatus.CONFLICT, detail=str(error))
    return HTTPException(HTTPStatus.UNPROCESSABLE_ENTITY, detail=str(error))


@router.get("/users", response_model=list[UserAdminOut], summary="Every user")
def list_users(_: Admin, accounts: AccountsDep) -> list[Any]:
    sip = accounts.sip_passwords()
    return [admin_view(user, sip.get(user.id)) for user in accounts.list_users()]


@router.post("/users", response_model=UserAdminOut, status_code=HTTPStatus.CREATED, summary="Create a user",
             responses=error_responses(409))
def create_user(body: UserIn, _: Admin, accounts: AccountsDep, services: ServicesDep) -> Any:
    try:
        user = accounts.create_user(body.username, body.password, body.role, services.clock(),
                                    extension=body.extension, display_name=body.display_name)
    except (AccountError, DuplicateUser) as error:
        raise _bad(error) from None
    return admin_view(user, None)


@router.get("/users/{user_id}", response_model=UserAdminOut, summary="One user")
def get_user(user_id: RowId, _: Admin, accounts: AccountsDep) -> Any:
    try:
        return admin_view(accounts.get_user(user_id), accounts.sip_password(user_id))
    except UnknownUser as error:
        raise _bad(error) from None


@router.patch("/users/{user_id}", response_model=UserChangedOut, responses=error_responses(409),
              summary="Change a user's role, extension, name, password or activity")
def update_user(user_id: RowId, body: UserPatch, principal: Admin, accounts: AccountsDep) -> Any:
    """A changed extension removes the SIP password set for the old one (``notices`` says so): the phone's
    identity changed, so the admin sets a new SIP password for it."""
    changes = body.model_dump(exclude_unset=True)
    demoted = changes.get("role") not in (None, Role.ADMIN)
    if user_id == principal.user.id and (changes.get("active") is False or demoted):
        raise HTTPException(HTTPStatus.CONFLICT, detail="An admin cannot deactivate or demote themselves.")
    try:
        change = accounts.change_user(user_id, **changes)
        sip = accounts.sip_password(user_id)
    except (AccountError, UnknownUser) as error:
        raise _bad(error) from None
    return UserChangedOut(**admin_view(change.user, sip).model_dump(), notices=list(change.notices))


@router.put("/users/{user_id}/sip-password", response_model=SipPasswordOut, responses=error_responses(409),
            summary="Set or rotate the SIP password of a user's phone (shown once)")
def set_sip_password(user_id: RowId, body: SipPasswordIn, _: Admin, accounts: AccountsDep, services: ServicesDep,
                     response: Response) -> Any:
    """The phone of a user with an extension authenticates to the SIP edge as that extension with this
    password, in the realm of the SIP domain. With ``password`` null, one is generated. The answer is the
    only place the password appears: the old one stops working at once."""
    try:
        done = accounts.set_sip_password(user_id, services.sip_realm, services.clock(), body.password)
    except (AccountError, UnknownUser) as error:
        raise _bad(error) from None
    response.headers["Cache-Control"] = "no-store"
    return done


@router.delete("/users/{user_id}/sip-password", response_model=UserAdminOut,
               summary="Remove the SIP password of a user's phone (it can no longer register)")
def remove_sip_password(user_id: RowId, _: Admin, accounts: AccountsDep) -> Any:
    try:
        accounts.remove_sip_password(user_id)
        return admin_view(accounts.get_user(user_id), None)
    except UnknownUser as error:
        raise _bad(error) from None
