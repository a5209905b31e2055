"""Edit and recall what the outbox already sent, through each delivery's adapter.

Each action takes a rate permit like a send does, so a recall of 300 messages obeys
the same platform limits. The result says, per target, ``done`` or why it was not
possible (``NotPossible``: e.g. a Telegram message older than 48 h).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from gateway.errors import PermanentError, RateLimited, RetryableError, TargetGone
from gateway.metrics import RATE_LIMITED
from gateway.outbox.model import QUEUED, RECALLED, SENT, Delivery
from gateway.outbox.store import OutboxStore
from gateway.ratelimit import RateLimiter
from gateway.runtime import Runtime
from gateway.targets import TargetDirectory

log = logging.getLogger("palm.outbox")

Action = Literal["edit", "recall"]
RETRY_BUDGET_SECONDS = 120.0


@dataclass(frozen=True, slots=True)
class ActionResult:
    target: str
    platform: str
    result: str
    """``done``, ``not possible``, ``failed``, ``cancelled`` (recalled before it was sent),
    ``updated`` (edited before it was sent) or ``skipped``."""
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.result in ("done", "cancelled", "updated", "skipped")

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "platform": self.platform,
            "result": self.result,
            "reason": self.reason,
        }


OnResult = Callable[[ActionResult], Awaitable[None]]


async def apply(
    rt: Runtime,
    deliveries: Sequence[Delivery],
    action: Action,
    *,
    text: str | None = None,
    on_result: OnResult | None = None,
) -> list[ActionResult]:
    """Edit (to ``text``) or recall every delivery; results in the deliveries' order.

    ``on_result`` hears each chat's result as soon as it is known (the console and the
    API show them as they come).
    """
    store = OutboxStore(rt)
    gate = asyncio.Semaphore(rt.config.outbox.workers)

    async def one(d: Delivery) -> ActionResult:
        async with gate:
            result = await _one(rt, store, d, action, text)
        if on_result is not None:
            await on_result(result)
        return result

    return list(await asyncio.gather(*(one(d) for d in deliveries)))


async def _one(
    rt: Runtime, store: OutboxStore, d: Delivery, action: Action, text: str | None
) -> ActionResult:
    if d.state == QUEUED:
        if action == "recall":
            # Not sent yet: make sure it never is. The worker's pre-send check sees this.
            if await store.transition(
                d.delivery_id, QUEUED, RECALLED, reason="recalled before sending"
            ):
                return ActionResult(d.target, d.platform, "cancelled", "recalled before sending")
            fresh = await store.get(d.delivery_id)
            if fresh is None or fresh.state != SENT:
                return ActionResult(d.target, d.platform, "skipped", f"delivery is {d.state}")
            d = fresh
        else:
            return ActionResult(d.target, d.platform, "skipped", "not sent yet")
    if d.state != SENT:
        return ActionResult(d.target, d.platform, "skipped", f"delivery is {d.state}")
    adapter = rt.adapters.get(d.platform)
    if adapter is None:
        return ActionResult(d.target, d.platform, "failed", f"{d.platform} is not configured")
    kind = (await TargetDirectory(rt.redis, rt.keys).kinds([d.target]))[d.target]
    limiter = RateLimiter(rt.redis, rt.keys)
    deadline = time.monotonic() + RETRY_BUDGET_SECONDS
    while True:
        await limiter.acquire(adapter.rate_rules(d.target, kind))
        try:
            if action == "edit":
                msg = await store.message(d, text=text)
                await adapter.edit(d.target, d.message_ids, msg)
            else:
                await adapter.recall(d.target, d.message_ids, d.sent_at or d.created_at)
                await store.transition(d.delivery_id, SENT, RECALLED, reason="recalled")
            return ActionResult(d.target, d.platform, "done")
        except TargetGone as exc:
            await TargetDirectory(rt.redis, rt.keys).mark_inactive(d.target, exc.reason)
            return ActionResult(d.target, d.platform, "not possible", exc.reason)
        except PermanentError as exc:
            return ActionResult(d.target, d.platform, "not possible", exc.message)
        except RetryableError as exc:
            if isinstance(exc, RateLimited):
                RATE_LIMITED.labels(platform=d.platform).inc()
                if exc.scope:
                    await limiter.pause(exc.scope, exc.retry_after or 1.0)
            wait = exc.retry_after or 1.0
            if time.monotonic() + wait > deadline:
                return ActionResult(d.target, d.platform, "failed", exc.message)
            await asyncio.sleep(wait)
        except Exception as exc:
            log.exception("adapter %s crashed", action, extra={"delivery": d.delivery_id})
            return ActionResult(d.target, d.platform, "failed", f"internal error: {exc}")
