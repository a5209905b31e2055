"""Funnel figures on a local Redis (not a test; prints numbers).

    .venv/bin/python -m bench.funnel [redis_url] [flood] [open_tickets]

1. flood: ``flood`` inbound messages (half group /report, half direct messages from
   flood/5 residents) through RedisInboundSink, then one in-process consumer drains
   the stream: messages per second end to end (routing, rules, ticket Lua, ack
   enqueued to the outbox, XACK+XDEL).
2. listing: ``open_tickets`` open tickets, then the time of `list` (first page and a
   page deep in the cursor chain) and of `queue_stats`.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid

from redis.asyncio import Redis

from bench.common import delete_prefix
from bench.tickets import apply_open_tickets
from gateway.config import GatewayConfig, RedisConfig
from gateway.funnel.consumer import ConsumerSettings, FunnelConsumer
from gateway.funnel.stats import queue_stats
from gateway.funnel.tickets import TicketStore
from gateway.inbound import RedisInboundSink
from gateway.keys import Keys
from gateway.models import Command
from gateway.runtime import Runtime, instance_name
from tests.funnel.factory import direct, message


async def flood(rt: Runtime, n: int) -> None:
    sink = RedisInboundSink(rt.redis, rt.keys)
    msgs = [
        message(f"/report 漏水 {i}", command=Command.REPORT, user=str(i))
        if i % 2
        else direct(f"hello {i}", user=str(100_000 + i % max(1, n // 5)))
        for i in range(n)
    ]
    for i in range(0, n, 100):
        await sink.accept(msgs[i : i + 100])
    consumer = FunnelConsumer(rt, settings=ConsumerSettings(batch=200))
    await consumer.start()
    started = time.perf_counter()
    done = 0
    while done < n:
        done += await consumer.step(block_ms=50)
    elapsed = time.perf_counter() - started
    print(f"flood: {n} inbound messages in {elapsed:.2f}s = {n / elapsed:,.0f} msg/s (1 consumer)")


async def listing(rt: Runtime, n: int) -> None:
    store = TicketStore(rt.redis, rt.keys)
    took = await apply_open_tickets(rt, n)
    print(f"listing: created {n} open tickets in {took:.1f}s")
    for label, coro in (
        ("first page of 50", store.list(limit=50)),
        ("status=new&kind=report, 50", store.list(status="new", kind="report", limit=50)),
    ):
        t = time.perf_counter()
        page, cursor = await coro
        print(f"  {label}: {(time.perf_counter() - t) * 1000:.1f} ms ({len(page)} tickets)")
    t = time.perf_counter()
    for _ in range(100):
        page, cursor = await store.list(limit=50, cursor=cursor)
    print(f"  100 further cursor pages: {(time.perf_counter() - t) * 10:.1f} ms per page")
    t = time.perf_counter()
    stats = await queue_stats(rt)
    print(f"  queue_stats: {(time.perf_counter() - t) * 1000:.1f} ms, depth {stats['depth']}")


async def main(url: str, n_flood: int, n_open: int) -> None:
    keys = Keys(f"palmbench:{uuid.uuid4().hex[:8]}:")
    config = GatewayConfig(redis=RedisConfig(url=url, prefix=keys.prefix))
    redis = Redis.from_url(url, decode_responses=True)
    binary = Redis.from_url(url)
    rt = Runtime(config, redis, binary, keys, instance_name())
    try:
        await flood(rt, n_flood)
        await delete_prefix(redis, keys.prefix)
        await listing(rt, n_open)
    finally:
        await delete_prefix(redis, keys.prefix)
        await redis.aclose()
        await binary.aclose()


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(
        main(
            args[0] if args else "redis://127.0.0.1:6379/0",
            int(args[1]) if len(args) > 1 else 5000,
            int(args[2]) if len(args) > 2 else 100_000,
        )
    )
