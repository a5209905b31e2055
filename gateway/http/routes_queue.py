"""/api/v1/queue: the queue's figures, read from Redis."""

from __future__ import annotations

from typing import Any

from gateway.accounts import Role, views
from gateway.http.route import ApiRequest, ApiRoute


async def get_queue(req: ApiRequest) -> dict[str, Any]:
    return await views.scoped_queue_stats(req.rt, req.scope)


def routes() -> list[ApiRoute]:
    return [
        ApiRoute(
            "GET",
            "/queue",
            Role.VIEWER,
            "Queue depth by status, kind, category and priority; age of the oldest new ticket",
            get_queue,
        )
    ]
