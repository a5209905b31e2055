"""/api/v1/queue: the queue's figures, and the inbound entries the funnel parked (list,
retry, mark handled)."""

from __future__ import annotations

from typing import Any

from gateway.accounts import Role, views
from gateway.accounts.scope import targets_in_scope
from gateway.funnel import deadletters, parked_actions
from gateway.http.route import ApiRequest, ApiRoute
from gateway.targets import TargetDirectory


async def get_queue(req: ApiRequest) -> dict[str, Any]:
    return await views.scoped_queue_stats(req.rt, req.scope)


async def _visible(req: ApiRequest) -> list[deadletters.Parked]:
    allowed = await targets_in_scope(TargetDirectory(req.rt.redis, req.rt.keys), req.scope)
    return deadletters.in_scope(await deadletters.parked(req.rt.redis, req.rt.keys), allowed)


async def dead_letters(req: ApiRequest) -> list[dict[str, Any]]:
    return [p.to_json() for p in await _visible(req)]


async def retry(req: ApiRequest) -> dict[str, str]:
    p = parked_actions.pick(await _visible(req), req.path("entry"))
    return await parked_actions.act(req.rt, p, "retry", by=req.principal.name)


async def handled(req: ApiRequest) -> dict[str, str]:
    p = parked_actions.pick(await _visible(req), req.path("entry"))
    return await parked_actions.act(req.rt, p, "handled", by=req.principal.name)


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
        ApiRoute(
            "POST",
            "/queue/dead-letters/{entry}/retry",
            Role.STAFF,
            "Put a parked entry back on the inbound stream: the funnel handles it again",
            retry,
        ),
        ApiRoute(
            "POST",
            "/queue/dead-letters/{entry}/handled",
            Role.STAFF,
            "Mark a parked entry handled (someone reached the resident): it leaves the list",
            handled,
        ),
    ]
