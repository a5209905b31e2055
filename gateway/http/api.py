"""The one place that lists every /api/v1 endpoint.

Each feature module declares its ``ApiRoute`` list (see ``gateway.http.route``) and is
added here. Route modules import ``gateway.http.route``, never this module, so there
is no import cycle.
"""

from __future__ import annotations

from gateway.http import (
    routes_accounts,
    routes_announcements,
    routes_queue,
    routes_targets,
    routes_tickets,
    routes_tokens,
)
from gateway.http.route import ApiRequest, ApiRoute

__all__ = ["ApiRequest", "ApiRoute", "all_routes"]


def all_routes() -> list[ApiRoute]:
    """Every /api/v1 endpoint."""
    routes: list[ApiRoute] = []
    routes += routes_tokens.routes()
    routes += routes_accounts.routes()
    routes += routes_announcements.routes()
    routes += routes_targets.routes()
    routes += routes_tickets.routes()
    routes += routes_queue.routes()
    return routes
