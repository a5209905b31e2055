"""What the overview charts show, kept in Redis with bounded sizes.

- Every minute one palm process (a ``SET NX`` per minute decides which) samples the
  queue depth and the oldest new ticket's age into a list capped at 24 h of minutes.
- Each first staff response's time goes into a list capped at ``MAX_RESPONSES``.
- Deliveries by result are read from the outbox's own counters at render time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from gateway.aio import checkpoint
from gateway.runtime import Runtime

log = logging.getLogger("palm.console")

MINUTES = 24 * 60
MAX_RESPONSES = 2000
TICK_SECONDS = 5.0


def _samples_key(rt: Runtime) -> str:
    return rt.keys("console", "samples")


def _responses_key(rt: Runtime) -> str:
    return rt.keys("console", "first_response")


async def record_first_response(rt: Runtime, seconds: float) -> None:
    pipe = rt.redis.pipeline(transaction=False)
    pipe.lpush(_responses_key(rt), json.dumps([round(time.time(), 1), round(seconds, 1)]))
    pipe.ltrim(_responses_key(rt), 0, MAX_RESPONSES - 1)
    await pipe.execute()


async def sample_once(rt: Runtime, now: float | None = None) -> bool:
    """Take this minute's sample unless another process did; ``True`` if this one did."""
    from gateway.funnel.stats import queue_stats

    now = now or time.time()
    minute = int(now // 60)
    if not await rt.redis.set(rt.keys("console", "sampled", minute), "1", nx=True, ex=180):
        return False
    stats = await queue_stats(rt)
    row = [minute * 60, stats["depth"], stats["oldest_new_age_seconds"] or 0]
    pipe = rt.redis.pipeline(transaction=False)
    pipe.lpush(_samples_key(rt), json.dumps(row))
    pipe.ltrim(_samples_key(rt), 0, MINUTES - 1)
    await pipe.execute()
    return True


async def run_sampler(rt: Runtime) -> None:
    """The ``console.samples`` component."""
    while True:
        checkpoint()
        try:
            await sample_once(rt)
        except Exception:
            log.exception("console sample failed; trying again")
        await asyncio.sleep(TICK_SECONDS)


async def queue_samples(rt: Runtime) -> list[tuple[float, int, float]]:
    """(time, depth, oldest new age) per minute over the last 24 h, oldest first."""
    raw: Any = await rt.redis.lrange(_samples_key(rt), 0, MINUTES - 1)
    since = time.time() - 86400
    rows = [json.loads(r) for r in raw]
    return sorted((float(a), int(b), float(c)) for a, b, c in rows if a >= since)


async def first_responses(rt: Runtime) -> list[float]:
    """First-response times (seconds) of the last 24 h."""
    raw: Any = await rt.redis.lrange(_responses_key(rt), 0, MAX_RESPONSES - 1)
    since = time.time() - 86400
    return [float(s) for at, s in (json.loads(r) for r in raw) if at >= since]


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]
