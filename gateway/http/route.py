"""How an API endpoint is declared.

An endpoint is an ``ApiRoute``: method, path, minimum role, an optional pydantic body
model and a handler taking an ``ApiRequest``. The server validates the body, checks
the role, calls the handler and turns its result into JSON; ``GatewayError`` becomes
``{"error": {"code", "message"}}`` with its 4xx status. The OpenAPI document is built
from the same declarations, so it cannot drift from what is served.

This module imports no route module: route modules import it, and
``gateway.http.api`` lists them, so there is no import cycle in ``gateway.http``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from gateway.accounts import Principal, Role, Scope
from gateway.errors import InputError
from gateway.runtime import Runtime
from gateway.safety.headers import visible_ascii


@dataclass(frozen=True, slots=True)
class ApiRequest:
    rt: Runtime
    http: web.Request
    principal: Principal
    body: BaseModel | None

    def query(self, name: str, default: str | None = None) -> str | None:
        return self.http.query.get(name, default)

    def path(self, name: str) -> str:
        return self.http.match_info[name]

    @property
    def scope(self) -> Scope | None:
        """The caller's scope (None: everything); handlers pass it to ``gateway.accounts``."""
        return self.principal.scope


Handler = Callable[[ApiRequest], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class ApiRoute:
    method: str
    path: str  # relative to /api/v1, e.g. "/tickets/{id}"
    role: Role
    summary: str
    handler: Handler
    body: type[BaseModel] | None = None
    status: int = 200
    query: tuple[str, ...] = ()
    headers: tuple[str, ...] = field(default=())


MAX_IDEMPOTENCY_KEY = 200


def idempotency_key(req: ApiRequest) -> str | None:
    """The ``Idempotency-Key`` header of a create (announcements, polls), checked."""
    raw = req.http.headers.get("Idempotency-Key")
    if not raw:
        return None
    if not visible_ascii(raw) or len(raw) > MAX_IDEMPOTENCY_KEY:
        raise InputError(
            f"Idempotency-Key: 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters, no spaces"
        )
    return raw
