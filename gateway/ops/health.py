"""Gauges that alerts need, refreshed at each scrape (``metric_refreshers``).

``palm_platform_up`` is otherwise set only by ``/readyz`` probes; Prometheus scrapes
``/metrics``, so the scrape runs the same probes. ``palm_redis_up`` and ``palm_ready``
make "Redis unreachable" and "readiness failing" alertable from one scrape, and
``palm_queue_oldest_urgent_age_seconds`` is the age of the oldest urgent ticket nobody
has claimed yet (the "urgent ticket unclaimed over 5 min" alert).
"""

from __future__ import annotations

import asyncio
import time

from prometheus_client import Gauge
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from gateway.adapter import Adapter
from gateway.metrics import PLATFORM_UP, REGISTRY
from gateway.runtime import Runtime

PROBE_TIMEOUT = 4.0
"""Below Prometheus's default 10 s scrape timeout, with room for the rest of the scrape."""

REDIS_PROBE_TIMEOUT = 0.8
"""A PING is answered in microseconds; one that takes this long counts as Redis down, and
it keeps a scrape with Redis gone shorter than a 1 s scrape timeout (the client would
otherwise retry a refused connection for about a second)."""

URGENT_RANK = 1e13
"""Ticket index scores below this are urgent (see ``score`` in gateway/funnel/lua.py)."""

REDIS_UP = Gauge("palm_redis_up", "Whether Redis answered a PING at scrape time", registry=REGISTRY)
READY = Gauge(
    "palm_ready", "Whether /readyz would answer 200 (Redis and every platform)", registry=REGISTRY
)
OLDEST_URGENT_NEW = Gauge(
    "palm_queue_oldest_urgent_age_seconds",
    "Age of the oldest urgent ticket still new (unclaimed); 0 when there is none",
    registry=REGISTRY,
)


async def _redis_up(rt: Runtime) -> bool:
    try:
        async with asyncio.timeout(REDIS_PROBE_TIMEOUT):
            await rt.redis.ping()
    except (RedisError, OSError, TimeoutError):
        return False
    return True


async def _platform_up(adapter: Adapter) -> bool:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            problem = await adapter.check_ready()
    except Exception:  # a probe must answer, whatever broke (the adapter logs its own)
        problem = "no answer"
    PLATFORM_UP.labels(platform=adapter.platform).set(0 if problem else 1)
    return problem is None


async def oldest_urgent_new_age(rt: Runtime) -> float:
    rows = await rt.redis.zrangebyscore(
        rt.keys("tickets", "idx", "new"), "-inf", f"({URGENT_RANK:.0f}", start=0, num=1,
        withscores=True,
    )  # fmt: skip
    if not rows:
        return 0.0
    received = float(rows[0][1]) / 1000.0
    return max(0.0, time.time() - received)


async def refresh_health(rt: Runtime) -> None:
    """Probe Redis and every started adapter concurrently; set the health gauges.

    Raises a Redis ``ConnectionError`` when Redis is down, after setting the gauges, so
    ``/metrics`` skips the refreshers that would only retry against it.
    """
    probes = [_redis_up(rt), *(_platform_up(a) for a in rt.adapters.values())]
    results = await asyncio.gather(*probes)
    REDIS_UP.set(1 if results[0] else 0)
    READY.set(1 if all(results) else 0)
    if not results[0]:
        raise RedisConnectionError("redis does not answer")
    OLDEST_URGENT_NEW.set(await oldest_urgent_new_age(rt))
