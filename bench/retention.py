"""What an announcement leaves in Redis per chat, and what ``outbox.keep_days`` frees.

    .venv/bin/python -m bench.retention [chats] [redis_url]     # ~20 s for 20,000 chats

On a local Redis (its own key prefix, removed after): ``chats`` direct chats, one
announcement to all of them, delivered by the outbox workers into an in-memory adapter
(no platform: what is measured is palm's bookkeeping, not the sends). Redis's
``used_memory`` is read before the announcement, once it is out, and after a prune with
``keep_days`` 1 run as if 2 days later; the prune's own speed (deliveries removed per
second) is printed too. Baseline: the memory before the announcement (the chats
themselves). Informational, no goal.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from typing import Any

from redis.asyncio import Redis

from bench.common import delete_prefix, write_result
from gateway import announcements
from gateway.config import GatewayConfig, OutboxConfig, RedisConfig
from gateway.keys import Keys
from gateway.models import ChatKind, Platform, TargetId
from gateway.ops import retention
from gateway.outbox import run_workers
from gateway.runtime import Runtime, instance_name
from gateway.targets import TargetDirectory
from tests.fakes.memory_adapter import MemoryAdapter


async def _used(redis: Redis) -> int:
    info: Any = await redis.info("memory")
    return int(info["used_memory"])


async def _seed(rt: Runtime, n: int) -> None:
    d = TargetDirectory(rt.redis, rt.keys)
    for i in range(n):
        target = TargetId(f"telegram:{10_000_000 + i}")
        await d.upsert(target, ChatKind.DIRECT, f"Resident {i}")
        await d.tag(target, ["building:1"])


async def _deliver(rt: Runtime) -> tuple[str, float]:
    started = time.perf_counter()
    text = "台风预警：请关好门窗，减少外出。" * 3
    ann, _ = await announcements.create(rt, text=text, to="building:1")
    workers = asyncio.create_task(run_workers(rt))
    try:
        while (await announcements.get(rt, ann.id)).status != announcements.DONE:  # noqa: ASYNC110
            await asyncio.sleep(0.2)  # polling Redis: nothing in this process to wait on
    finally:
        workers.cancel()
        await asyncio.gather(workers, return_exceptions=True)
    return ann.id, time.perf_counter() - started


async def main(n: int, url: str) -> None:
    keys = Keys(f"palmbench:{uuid.uuid4().hex[:8]}:")
    outbox = OutboxConfig(workers=32, keep_days=1)
    config = GatewayConfig(redis=RedisConfig(url=url, prefix=keys.prefix), outbox=outbox)
    redis = Redis.from_url(url, decode_responses=True)
    binary = Redis.from_url(url)
    rt = Runtime(config, redis, binary, keys, instance_name())
    rt.adapters["telegram"] = MemoryAdapter(platform=Platform("telegram"))
    try:
        await _seed(rt, n)
        before = await _used(redis)
        ann_id, took = await _deliver(rt)
        out = await _used(redis)
        started = time.perf_counter()
        pruned = await retention.prune_once(rt, time.time() + 2 * 86400)
        prune_s = time.perf_counter() - started
        after = await _used(redis)
    finally:
        await delete_prefix(redis, keys.prefix)
        await redis.aclose()
        await binary.aclose()
    kept, left = (out - before) / n, (after - before) / n
    print(f"bench.retention: {n:,} chats, one announcement ({ann_id}) out in {took:.1f} s")
    print(f"  Redis per chat reached, once out:          {kept:,.0f} bytes")
    print(f"  Redis per chat reached, after the prune:   {left:,.0f} bytes")
    print(f"  prune: {pruned} announcement, {n / prune_s:,.0f} deliveries/s ({prune_s:.2f} s)")
    path = write_result(
        "retention",
        {"chats": n, "bytes_per_chat_out": kept, "bytes_per_chat_pruned": left,
         "prune_seconds": prune_s, "deliver_seconds": took},
    )  # fmt: skip
    print(f"wrote {path}")


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(
        main(
            int(args[0]) if args else 20_000,
            args[1] if len(args) > 1 else "redis://127.0.0.1:6379/0",
        )
    )
