"""Funnel fixtures: a consumer and the inbound sink on the test Redis."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence

import pytest

from gateway.components import delivery_hooks
from gateway.funnel.consumer import ConsumerSettings, FunnelConsumer
from gateway.inbound import RedisInboundSink
from gateway.models import InboundEvent
from gateway.outbox import run_workers
from gateway.runtime import Runtime
from tests.fakes.memory_adapter import MemoryAdapter


class Pipeline:
    """Sink -> stream -> consumer, driven step by step by the test."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.sink = RedisInboundSink(rt.redis, rt.keys)
        self.consumer = FunnelConsumer(
            rt, name="test-consumer", settings=ConsumerSettings(block_ms=10, claim_idle=0.2)
        )

    async def feed(self, *events: InboundEvent) -> int:
        """Accept the events and run the consumer until the stream is drained."""
        await self.sink.accept(events)
        return await self.drain()

    async def drain(self) -> int:
        total = 0
        while True:
            n = await self.consumer.step(block_ms=10)
            total += n
            if n == 0:
                return total


@pytest.fixture
async def funnel(runtime: Runtime) -> Pipeline:
    p = Pipeline(runtime)
    await p.consumer.start()
    return p


@pytest.fixture
async def adapter(runtime: Runtime) -> AsyncIterator[MemoryAdapter]:
    """The in-memory adapter as telegram, with the real outbox workers sending to it."""
    fake = MemoryAdapter()
    runtime.adapters["telegram"] = fake  # type: ignore[assignment]
    task = asyncio.create_task(run_workers(runtime, delivery_hooks()))
    yield fake
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def texts(events: Sequence[dict[str, object]]) -> list[object]:
    return [e.get("text") for e in events]
