"""/api/v1/tokens: admins create, list and revoke API tokens; /whoami for everyone.

Managing tokens and users needs an admin without a scope: a scoped admin could
otherwise hand out a wider scope than their own.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.accounts import Role, TokenStore
from gateway.accounts.durations import parse_duration
from gateway.errors import Forbidden
from gateway.http.route import ApiRequest, ApiRoute


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    role: Literal["admin", "staff", "viewer"]
    scope: str | None = Field(
        default=None, max_length=2000, description="audience expression bounding the token"
    )
    expires: str | None = Field(
        default=None, max_length=32, description="lifetime like 90d, 12h or 30m; none: never"
    )


def require_unscoped(req: ApiRequest) -> None:
    if req.scope is not None:
        raise Forbidden(f"managing tokens and users needs an admin without a scope; yours is "
                        f"{req.scope.expr!r}")  # fmt: skip


def _store(req: ApiRequest) -> TokenStore:
    return TokenStore(req.rt.redis, req.rt.keys)


async def create_token(req: ApiRequest) -> dict[str, Any]:
    assert isinstance(req.body, TokenCreate)
    require_unscoped(req)
    body = req.body
    expires_in = parse_duration(body.expires) if body.expires else None
    store = _store(req)
    token = await store.create(body.name, Role.parse(body.role), body.scope, expires_in)
    info = next(i for i in await store.list() if i.name == body.name.strip())
    return {**info.to_json(), "token": token}


async def list_tokens(req: ApiRequest) -> list[dict[str, Any]]:
    require_unscoped(req)
    return [i.to_json() for i in await _store(req).list()]


async def revoke_token(req: ApiRequest) -> dict[str, Any]:
    require_unscoped(req)
    name = req.path("name")
    await _store(req).revoke(name)
    return {"name": name, "revoked": True}


async def whoami(req: ApiRequest) -> dict[str, Any]:
    p = req.principal
    out: dict[str, Any] = {"name": p.name, "role": p.role.label}
    if p.scope is not None:
        out["scope"] = p.scope.expr
    return out


def routes() -> list[ApiRoute]:
    return [
        ApiRoute("POST", "/tokens", Role.ADMIN, "Create an API token (shown once)",
                 create_token, body=TokenCreate, status=201),
        ApiRoute("GET", "/tokens", Role.ADMIN,
                 "API tokens: name, role, scope, created, expires, last used (never the token)",
                 list_tokens),
        ApiRoute("DELETE", "/tokens/{name}", Role.ADMIN,
                 "Revoke a token: 401 at once on every palm process", revoke_token),
        ApiRoute("GET", "/whoami", Role.VIEWER, "The caller's name, role and scope", whoami),
    ]  # fmt: skip
