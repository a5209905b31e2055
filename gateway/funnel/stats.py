"""Queue figures for ``palm queue stats``, ``GET /queue`` and the Prometheus gauges.

Everything is read from Redis (index cardinalities, a counts hash kept by the ticket
scripts, the oldest member of the age indexes), so every palm process reports the
same numbers and nothing is scanned.
"""

from __future__ import annotations

import time
from typing import Any

from gateway.funnel.ticket_model import Status
from gateway.metrics import QUEUE_DEPTH, QUEUE_OLDEST_AGE
from gateway.runtime import Runtime

_OPEN = (Status.NEW.value, Status.CLAIMED.value)


async def queue_stats(rt: Runtime) -> dict[str, Any]:
    k = rt.keys
    pipe = rt.redis.pipeline(transaction=False)
    for status in Status:
        pipe.zcard(k("tickets", "idx", status.value))
    pipe.hgetall(k("tickets", "counts"))
    for open_status in _OPEN:
        pipe.zrange(k("tickets", "age", open_status), 0, 0, withscores=True)
    res = await pipe.execute()
    by_status = {s.value: int(n) for s, n in zip(Status, res[:3], strict=True)}
    groups: dict[str, dict[str, int]] = {"kind": {}, "category": {}, "priority": {}}
    for field, value in res[3].items():
        group, _, name = field.partition(":")
        if group in groups and int(value) > 0:
            groups[group][name] = int(value)
    now = time.time()
    oldest = {
        status: (float(rows[0][1]) if rows else None)
        for status, rows in zip(_OPEN, res[4:], strict=True)
    }
    return figures(by_status, groups, oldest, now)


def figures(
    by_status: dict[str, int],
    groups: dict[str, dict[str, int]],
    oldest: dict[str, float | None],
    now: float,
) -> dict[str, Any]:
    """The queue document: counts, and ages from the oldest open tickets' received times."""

    def age(status: str) -> float | None:
        first = oldest.get(status)
        return round(max(0.0, now - first), 1) if first is not None else None

    return {
        "depth": by_status["new"] + by_status["claimed"],
        "by_status": by_status,
        "by_kind": groups["kind"],
        "by_category": groups["category"],
        "by_priority": groups["priority"],
        "oldest_new_age_seconds": age("new"),
        "oldest_claimed_age_seconds": age("claimed"),
    }


async def refresh_queue_metrics(rt: Runtime) -> None:
    """A ``metric_refreshers`` entry: set the queue gauges from Redis before a scrape."""
    stats = await queue_stats(rt)
    for status, n in stats["by_status"].items():
        QUEUE_DEPTH.labels(status=status).set(n)
    for status in _OPEN:
        QUEUE_OLDEST_AGE.labels(status=status).set(stats[f"oldest_{status}_age_seconds"] or 0)
