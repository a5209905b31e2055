"""Helpers shared by the outbox and announcement tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

from gateway.config import OutboxConfig
from gateway.models import ChatKind, TargetId
from gateway.outbox import DeliveryHook, run_workers
from gateway.runtime import Runtime
from gateway.targets import TargetDirectory


def with_outbox(rt: Runtime, **outbox: object) -> Runtime:
    """The same runtime with different outbox settings (fast claims for tests)."""
    base = {"workers": 4, "claim_idle_seconds": 1.0, "retry_deadline_seconds": 30.0}
    base.update(outbox)
    cfg = rt.config.model_copy(update={"outbox": OutboxConfig.model_validate(base)})
    return Runtime(cfg, rt.redis, rt.redis_bytes, rt.keys, rt.instance, rt.adapters)


async def seed(
    rt: Runtime, targets: Mapping[str, list[str]], kind: ChatKind = ChatKind.GROUP
) -> None:
    d = TargetDirectory(rt.redis, rt.keys)
    for target, tags in targets.items():
        await d.upsert(TargetId(target), kind, f"chat {target}")
        if tags:
            await d.tag(TargetId(target), tags)


@contextlib.asynccontextmanager
async def workers(
    rt: Runtime, hooks: Mapping[str, DeliveryHook] | None = None
) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(run_workers(rt, hooks or {}))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def wait_for(
    check: Callable[[], Awaitable[bool]], limit: float = 20.0, every: float = 0.05
) -> None:
    async with asyncio.timeout(limit):
        while not await check():  # noqa: ASYNC110 - polling Redis state, no event to wait on
            await asyncio.sleep(every)
