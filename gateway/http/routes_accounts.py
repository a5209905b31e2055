"""/api/v1/users: admins (without a scope) manage staff accounts."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.accounts import Role, UserStore
from gateway.accounts.users import MAX_PASSWORD, MIN_PASSWORD
from gateway.http.route import ApiRequest, ApiRoute
from gateway.http.routes_tokens import require_unscoped


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    role: Literal["admin", "staff", "viewer"]
    password: str = Field(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)
    scope: str | None = Field(default=None, max_length=2000)


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str | None = Field(default=None, min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)
    disabled: bool | None = None


def _store(req: ApiRequest) -> UserStore:
    return UserStore(req.rt.redis, req.rt.keys)


async def list_users(req: ApiRequest) -> list[dict[str, Any]]:
    require_unscoped(req)
    return [u.to_json() for u in await _store(req).list()]


async def create_user(req: ApiRequest) -> dict[str, Any]:
    assert isinstance(req.body, UserCreate)
    require_unscoped(req)
    b = req.body
    user = await _store(req).create(b.name, Role.parse(b.role), b.password, b.scope)
    return user.to_json()


async def patch_user(req: ApiRequest) -> dict[str, Any]:
    assert isinstance(req.body, UserPatch)
    require_unscoped(req)
    store, name = _store(req), req.path("name")
    await store.require(name)
    if req.body.password is not None:
        await store.set_password(name, req.body.password)
    if req.body.disabled is True:
        await store.disable(name)
    elif req.body.disabled is False:
        await store.enable(name)
    return (await store.require(name)).to_json()


def routes() -> list[ApiRoute]:
    return [
        ApiRoute("GET", "/users", Role.ADMIN, "Staff accounts (never a password)", list_users),
        ApiRoute("POST", "/users", Role.ADMIN, "Create a staff account", create_user,
                 body=UserCreate, status=201),
        ApiRoute("PATCH", "/users/{name}", Role.ADMIN, "Set a password, disable or enable",
                 patch_user, body=UserPatch),
    ]  # fmt: skip
