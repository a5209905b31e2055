"""How an API endpoint is declared, and the one place that lists them all.

An endpoint is an ``ApiRoute``: method, path, minimum role, an optional pydantic body
model and a handler taking an ``ApiRequest``. The server validates the body, checks
the role, calls the handler and turns its result into JSON; ``GatewayError`` becomes
``{"error": {"code", "message"}}`` with its 4xx status. The OpenAPI document is built
from the same declarations, so it cannot drift from what is served.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from gateway.runtime import Runtime
from gateway.tokens import Principal, Role


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


def all_routes() -> list[ApiRoute]:
    """Every /api/v1 endpoint. Each feature module contributes its list here."""
    from gateway.http import routes_announcements, routes_targets, routes_tokens

    routes: list[ApiRoute] = []
    routes += routes_tokens.routes()
    routes += routes_announcements.routes()
    routes += routes_targets.routes()
    from gateway.admission import routes as routes_admission

    routes += routes_admission.routes()
    from gateway.http import routes_queue, routes_tickets

    routes += routes_tickets.routes() + routes_queue.routes()
    return routes
