"""/api/v1/tokens: admins create API tokens."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.http.api import ApiRequest, ApiRoute
from gateway.tokens import Role, TokenStore


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    role: Literal["admin", "staff", "viewer"]


async def create_token(req: ApiRequest) -> dict[str, Any]:
    assert isinstance(req.body, TokenCreate)
    store = TokenStore(req.rt.redis, req.rt.keys)
    token = await store.create(req.body.name, Role.parse(req.body.role))
    return {"name": req.body.name, "role": req.body.role, "token": token}


async def whoami(req: ApiRequest) -> dict[str, Any]:
    return {"name": req.principal.name, "role": req.principal.role.label}


def routes() -> list[ApiRoute]:
    return [
        ApiRoute(
            "POST",
            "/tokens",
            Role.ADMIN,
            "Create an API token (shown once)",
            create_token,
            body=TokenCreate,
            status=201,
        ),
        ApiRoute("GET", "/whoami", Role.VIEWER, "The caller's token name and role", whoami),
    ]
