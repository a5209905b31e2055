"""A delivery-worker process for the kill -9 test: ``python -m tests.outbox.worker_child``.

It runs ``run_workers`` with recording adapters that write every send call into
Redis, so the test can SIGKILL this process mid-broadcast and still count exactly
what reached each "platform".
"""

from __future__ import annotations

import asyncio
import sys

from redis.asyncio import Redis

from gateway.config import GatewayConfig, OutboxConfig, RedisConfig
from gateway.keys import Keys
from gateway.outbox import run_workers
from gateway.runtime import Runtime, instance_name
from tests.fakes.memory_adapter import RedisRecordingAdapter


async def main(url: str, prefix: str) -> None:
    keys = Keys(prefix)
    config = GatewayConfig(
        redis=RedisConfig(url=url, prefix=prefix),
        outbox=OutboxConfig(workers=4, claim_idle_seconds=1.0, retry_deadline_seconds=60),
    )
    redis = Redis.from_url(url, decode_responses=True)
    binary = Redis.from_url(url, decode_responses=False)
    rt = Runtime(config, redis, binary, keys, instance_name())
    # Telegram has no idempotency key; Matrix dedupes by transaction id.
    # Half of each send's time is before the platform has it, half after (the answer
    # is on its way): a kill lands in either, like a real crash.
    for platform, dedupe in (("telegram", False), ("matrix", True)):
        rt.adapters[platform] = RedisRecordingAdapter(
            redis, keys, platform, dedupe=dedupe, delay=0.005, answer_delay=0.005
        )
    print("ready", flush=True)
    await run_workers(rt)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
