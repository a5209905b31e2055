"""The durable cross-platform outbox: announcements and ticket replies go out through here.

``enqueue`` writes deliveries atomically into Redis streams (one per platform and
priority) plus a state hash per delivery; ``run_workers`` sends them with the
platform adapters, honouring the shared rate limits, and records each final state.
See ``gateway.outbox.store`` for the Redis layout and ``gateway.outbox.worker`` for
the delivery life cycle.
"""

from __future__ import annotations

from gateway.outbox.model import (
    FAILED,
    QUEUED,
    RECALLED,
    SENT,
    SUPERSEDED,
    Delivery,
    DeliveryHook,
    DeliveryResult,
    OutboxItem,
)
from gateway.outbox.store import OutboxStore, enqueue, lookup_msgref
from gateway.outbox.worker import run_workers

__all__ = [
    "FAILED",
    "QUEUED",
    "RECALLED",
    "SENT",
    "SUPERSEDED",
    "Delivery",
    "DeliveryHook",
    "DeliveryResult",
    "OutboxItem",
    "OutboxStore",
    "enqueue",
    "lookup_msgref",
    "run_workers",
]
