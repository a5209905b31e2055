"""/healthz, /readyz and /metrics: outside /api/v1, no token needed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError

from gateway.adapter import Adapter
from gateway.logs import redact
from gateway.metrics import PLATFORM_UP, REGISTRY
from gateway.runtime import Runtime

log = logging.getLogger("palm.http")

READY_TIMEOUT = 5.0

Refresher = Callable[[Runtime], Awaitable[None]]


def metric_refreshers() -> list[Refresher]:
    """Coroutines that set Redis-derived gauges just before a scrape.

    Gauges like queue depth must read the same from every palm process, so they are
    computed from Redis at scrape time, not kept in process memory.
    """
    from gateway.funnel.stats import refresh_queue_metrics
    from gateway.ops.health import refresh_health
    from gateway.outbox.metrics import refresh_outbox_pending

    return [refresh_health, refresh_queue_metrics, refresh_outbox_pending]


async def _platform_status(adapter: Adapter) -> str | None:
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            return await adapter.check_ready()
    except TimeoutError:
        return "no answer within 5 s"
    except Exception as exc:  # a readiness probe must answer, whatever broke
        return f"{type(exc).__name__}: {exc}"


def system_routes(
    rt: Runtime, adapters: Sequence[Adapter]
) -> list[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]]:
    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        checks: dict[str, str] = {}
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                await rt.redis.ping()
            checks["redis"] = "ok"
        except (RedisError, OSError, TimeoutError) as exc:
            checks["redis"] = redact(f"unreachable: {exc}")
        for adapter in adapters:
            problem = await _platform_status(adapter)
            PLATFORM_UP.labels(platform=adapter.platform).set(0 if problem else 1)
            # /readyz needs no token: a library's message must not carry one out.
            checks[adapter.platform] = redact(problem) if problem else "ok"
        ok = all(v == "ok" for v in checks.values())
        return web.json_response(
            {"status": "ready" if ok else "not ready", "checks": checks}, status=200 if ok else 503
        )

    async def metrics(_: web.Request) -> web.Response:
        for refresh in metric_refreshers():
            try:
                await refresh(rt)
            except (RedisError, OSError) as exc:
                # The refreshers all read Redis: with it gone, the scrape answers at once
                # (the last values, and palm_redis_up 0) rather than after every retry.
                log.warning("metrics refresh failed", extra={"error": str(exc)})
                break
        body = generate_latest(REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return [("GET", "/healthz", healthz), ("GET", "/readyz", readyz), ("GET", "/metrics", metrics)]
