"""/api/v1/queue: the queue's figures, and the inbound entries the funnel parked."""

from __future__ import annotations

from typing import Any

from gateway.accounts import Role, views
from gateway.accounts.scope import targets_in_scope
from gateway.funnel import deadletters
from gateway.http.route import ApiRequest, ApiRoute
from gateway.targets import TargetDirectory


async def get_queue(req: ApiRequest) -> dict[str, Any]:
    return await views.scoped_queue_stats(req.rt, req.scope)


async def dead_letters(req: ApiRequest) -> list[dict[str, Any]]:
    allowed = await targets_in_scope(TargetDirectory(req.rt.redis, req.rt.keys), req.scope)
    items = await deadletters.parked(req.rt.redis, req.rt.keys)
    return [p.to_json() for p in deadletters.in_scope(items, allowed)]


def routes() -> list[ApiRoute]:
    return [
        ApiRoute(
            "GET",
            "/queue",
            Role.VIEWER,
            "Queue depth by status, kind, category and priority; age of the oldest new ticket",
            get_queue,
        ),
        ApiRoute(
            "GET",
            "/queue/dead-letters",
            Role.VIEWER,
            "Inbound entries the funnel parked instead of handling, newest first (500 at most)",
            dead_letters,
        ),
    ]
