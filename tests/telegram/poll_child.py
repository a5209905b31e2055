"""Run the Telegram poller in a child process that is killed with SIGKILL mid-batch.

``python -m tests.telegram.poll_child REDIS_URL PREFIX BASE_URL TOKEN MODE``
MODE ``before``: hang (print ACCEPTING) when the batch reaches the sink, before it is
durable. MODE ``after``: store the batch, print ACCEPTED, then hang before the offset
is stored. The parent kills the process at that point.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from pydantic import SecretStr
from redis.asyncio import Redis

from adapters.telegram import TelegramAdapter
from gateway.adapter import AdapterContext
from gateway.config import GatewayConfig, TelegramConfig
from gateway.inbound import RedisInboundSink
from gateway.keys import Keys
from gateway.models import InboundEvent


class HangingSink:
    def __init__(self, real: RedisInboundSink, mode: str) -> None:
        self._real = real
        self._mode = mode

    async def accept(self, events: Sequence[InboundEvent]) -> int:
        if self._mode == "before":
            print("ACCEPTING", flush=True)
            await asyncio.sleep(3600)
        n = await self._real.accept(events)
        print("ACCEPTED", flush=True)
        await asyncio.sleep(3600)
        return n


async def main(redis_url: str, prefix: str, base_url: str, token: str, mode: str) -> None:
    redis = Redis.from_url(redis_url, decode_responses=True)
    keys = Keys(prefix)
    config = TelegramConfig(token=SecretStr(token), base_url=base_url, poll_timeout=1)
    adapter = TelegramAdapter(config, GatewayConfig(), lease_seconds=6.0)
    sink = HangingSink(RedisInboundSink(redis, keys), mode)
    await adapter.start(AdapterContext(redis, keys, sink, "child"))
    await adapter.run()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
