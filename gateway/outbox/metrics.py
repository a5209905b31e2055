"""``palm_outbox_pending{platform}``: read from Redis at scrape time, same in every process."""

from __future__ import annotations

from prometheus_client import Gauge

from gateway.metrics import REGISTRY
from gateway.outbox.store import OutboxStore
from gateway.runtime import Runtime

OUTBOX_PENDING = Gauge(
    "palm_outbox_pending", "Deliveries waiting to be sent", ["platform"], registry=REGISTRY
)


async def refresh_outbox_pending(rt: Runtime) -> None:
    for platform, n in (await OutboxStore(rt).pending()).items():
        OUTBOX_PENDING.labels(platform=platform).set(max(0, n))
