"""Run the Matrix adapter in a child process, so a test can ``kill -9`` it.

    python -m tests.matrix.run_adapter sync     # the sync loop until killed
    python -m tests.matrix.run_adapter send     # one send, retried on retryable errors

Settings come from the environment (never argv: the password is a secret):
PALM_MX_HOMESERVER, PALM_MX_USER, PALM_MX_PASSWORD, PALM_REDIS_URL, PALM_KEYS_PREFIX;
for ``sync`` PALM_SINK_CHUNK / PALM_SINK_PAUSE make the store slow (each batch goes in
chunks of that many events with a pause between), so a kill lands inside a batch;
for ``send`` PALM_SEND_ROOM, PALM_SEND_KEY, PALM_SEND_TEXT.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Sequence

from pydantic import SecretStr
from redis.asyncio import Redis

from adapters.matrix import MatrixAdapter
from gateway.adapter import AdapterContext
from gateway.config import MatrixConfig
from gateway.errors import RetryableError
from gateway.inbound import RedisInboundSink
from gateway.keys import Keys
from gateway.models import InboundEvent, OutboundMessage, TargetId


class SlowSink:
    """The real sink, fed in chunks with pauses: a batch is durable piece by piece."""

    def __init__(self, inner: RedisInboundSink, chunk: int, pause: float) -> None:
        self._inner, self._chunk, self._pause = inner, chunk, pause

    async def accept(self, events: Sequence[InboundEvent]) -> int:
        added = 0
        for i in range(0, len(events), self._chunk):
            added += await self._inner.accept(events[i : i + self._chunk])
            print(f"stored {min(i + self._chunk, len(events))}/{len(events)}", flush=True)
            await asyncio.sleep(self._pause)
        return added


async def main(mode: str) -> None:
    env = os.environ
    config = MatrixConfig(
        homeserver=env["PALM_MX_HOMESERVER"],
        user_id=env["PALM_MX_USER"],
        password=SecretStr(env["PALM_MX_PASSWORD"]),
        auto_join="any",
        sync_timeout_ms=1000,
    )
    redis = Redis.from_url(env["PALM_REDIS_URL"], decode_responses=True)
    keys = Keys(env["PALM_KEYS_PREFIX"])
    sink = RedisInboundSink(redis, keys)
    chunk = int(env.get("PALM_SINK_CHUNK", "0"))
    slow = SlowSink(sink, chunk, float(env.get("PALM_SINK_PAUSE", "0.2"))) if chunk else sink
    adapter = MatrixAdapter(config)
    await adapter.start(AdapterContext(redis, keys, slow, "runner"))
    if mode == "send":
        # A first send reads the room's encryption state from the server (once): done
        # before "started" (the test arms the proxy then), so the request the proxy
        # drops is the send itself.
        room = TargetId(f"matrix:{env['PALM_SEND_ROOM']}")
        await adapter.send(OutboundMessage(room, "warm-up", idempotency_key="warm-up"))
    print(f"started device={adapter.device_id}", flush=True)
    if mode == "sync":
        await adapter.run()
    elif mode == "send":
        msg = OutboundMessage(
            TargetId(f"matrix:{env['PALM_SEND_ROOM']}"),
            env["PALM_SEND_TEXT"],
            idempotency_key=env["PALM_SEND_KEY"],
        )
        # Wait for the test's go-ahead, so it can arm the proxy after our login.
        await asyncio.to_thread(sys.stdin.readline)
        while True:
            try:
                receipt = await adapter.send(msg)
            except RetryableError as exc:
                print(f"retryable: {exc.message}", flush=True)
                await asyncio.sleep(exc.retry_after or 1.0)
            else:
                print(f"sent {receipt.message_ids[0]}", flush=True)
                break
    await adapter.aclose()
    await redis.aclose()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
    asyncio.run(main(sys.argv[1]))
