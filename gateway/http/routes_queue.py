"""/api/v1/queue: the queue's figures, read from Redis."""

from __future__ import annotations

from typing import Any

from gateway.funnel.stats import queue_stats
from gateway.http.api import ApiRequest, ApiRoute
from gateway.tokens import Role


async def get_queue(req: ApiRequest) -> dict[str, Any]:
    return await queue_stats(req.rt)


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
