"""The one place that lists every /api/v1 endpoint.

Each feature module declares its ``ApiRoute`` list (see ``gateway.http.route``) and is
added here. Route modules import ``gateway.http.route``, never this module, so there
is no import cycle (``tests/accounts/test_import_cycles.py`` checks it). The route
modules are imported inside ``all_routes`` so that an old-style ``from
gateway.http.api import ApiRoute`` in a route module still loads (and that test names
the cycle) instead of failing at import time.
"""

from __future__ import annotations

from gateway.http.route import ApiRequest, ApiRoute

__all__ = ["ApiRequest", "ApiRoute", "all_routes"]


def all_routes() -> list[ApiRoute]:
    """Every /api/v1 endpoint."""
    from gateway.admission import routes as routes_admission
    from gateway.http import (
        routes_accounts,
        routes_announcements,
        routes_confirm,
        routes_polls,
        routes_queue,
        routes_residents,
        routes_targets,
        routes_tickets,
        routes_tokens,
    )

    routes: list[ApiRoute] = []
    routes += routes_tokens.routes()
    routes += routes_accounts.routes()
    routes += routes_announcements.routes()
    routes += routes_confirm.routes()
    routes += routes_targets.routes()
    routes += routes_admission.routes()
    routes += routes_tickets.routes()
    routes += routes_queue.routes()
    routes += routes_residents.routes()
    routes += routes_polls.routes()
    return routes
