"""Claim the stream entries of a consumer whose process is gone (this host only).

Consumer names start with the instance name (``gateway.ops.liveness``), so a consumer
of this host whose process no longer runs is known dead at once, and its pending
entries can be claimed without waiting for them to go idle.
"""

from __future__ import annotations

import logging
from typing import Any

from redis.asyncio import Redis

from gateway.ops.liveness import holder_is_dead

log = logging.getLogger("palm.takeover")

Entry = tuple[str, dict[str, Any] | None]


async def claim_from_dead(
    redis: Redis, stream: str, group: str, consumer: str, *, count: int, min_idle_ms: int = 0
) -> list[Entry]:
    """Claim up to ``count`` entries pending with dead consumers of this host.

    A dead consumer with nothing pending is deleted from the group. ``min_idle_ms``
    keeps two claimers of one process from taking the same entry back and forth (a
    claim resets the idle time).
    """
    consumers: Any = await redis.xinfo_consumers(stream, group)
    for info in consumers:
        name = str(info["name"])
        if name == consumer or not holder_is_dead(name):
            continue
        if not int(info["pending"]):
            await redis.xgroup_delconsumer(stream, group, name)
            continue
        rows: Any = await redis.xpending_range(
            stream, group, min="-", max="+", count=count, consumername=name
        )
        ids = [row["message_id"] for row in rows]
        if not ids:  # another claimer was quicker
            continue
        claimed: Any = await redis.xclaim(stream, group, consumer, min_idle_ms, ids)
        # Entries deleted from the stream meanwhile are dropped from the pending list by
        # the claim itself (Redis 7) or come back without fields (6.2): callers ack those.
        if claimed:
            log.info("took over %d entries of %s (that process is gone)", len(claimed), name)
            return list(claimed)
    return []
