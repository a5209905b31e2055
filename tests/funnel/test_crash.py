"""kill -9 of a consumer process during a flood, then a restart: each message once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from redis.asyncio import Redis

from gateway.config import GatewayConfig
from gateway.funnel.consumer import GROUP
from gateway.inbound import RedisInboundSink, inbound_stream
from gateway.keys import Keys
from tests.conftest import write_config
from tests.funnel.factory import direct

ROOT = Path(__file__).resolve().parents[2]
FLOOD = 500
RESIDENTS = 100


def _start(cfg: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.funnel.run_consumer", str(cfg), "0.5"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    return proc


async def _stored(redis: Redis, keys: Keys) -> int:
    return int(await redis.hlen(keys("ticket", "bymsg")))


async def _wait(redis: Redis, keys: Keys, at_least: int, within: float) -> None:
    deadline = time.monotonic() + within
    while await _stored(redis, keys) < at_least:
        assert time.monotonic() < deadline, f"only {await _stored(redis, keys)} stored"
        await asyncio.sleep(0.02)


async def test_kill_9_during_flood_then_restart(
    redis: Redis, keys: Keys, config: GatewayConfig, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path / "palm.yaml", config)
    sink = RedisInboundSink(redis, keys)
    msgs = [direct(f"flood {i}", user=str(10_000 + i % RESIDENTS)) for i in range(FLOOD)]
    first = _start(cfg)
    try:
        for i in range(0, FLOOD, 25):  # the adapters hand over small batches
            await sink.accept(msgs[i : i + 25])
            if i == 200:
                await _wait(redis, keys, 60, within=20)
                os.kill(first.pid, signal.SIGKILL)  # mid-flood, mid-batch
        first.wait(5)
        killed_at = await _stored(redis, keys)
        assert killed_at < FLOOD
        started = time.monotonic()
        second = _start(cfg)
        try:
            await _wait(redis, keys, FLOOD, within=45)
            elapsed = time.monotonic() - started
        finally:
            second.kill()
            second.wait(5)
    finally:
        if first.poll() is None:
            first.kill()
    ids: list[str] = []
    for n in range(1, RESIDENTS + 2):
        ids += [
            json.loads(m)["message_id"]
            for m in await redis.lrange(keys("ticket", f"T-{n}", "messages"), 0, -1)
        ]
    assert len(ids) == FLOOD
    assert sorted(ids) == sorted(m.message_id for m in msgs)  # each exactly once
    assert await redis.get(keys("ticket", "seq")) == str(RESIDENTS)  # one ticket each
    assert (await redis.xpending(inbound_stream(keys), GROUP))["pending"] == 0
    assert await redis.xlen(inbound_stream(keys)) == 0
    print(f"killed at {killed_at}/{FLOOD}; restart finished the rest in {elapsed:.2f}s")
