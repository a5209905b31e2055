"""Fault 9 (a poison delivery that kills its palm every time) and fault 13 (a backlog
larger than any stream trimming bound: nothing unacknowledged may be trimmed).

palm trims no stream by length: an entry leaves the inbound stream and the outbox
streams only by ``XACK`` + ``XDEL`` of that entry after it was handled. Fault 13 puts
backlogs of 20,000 inbound and 10,000 outbox entries in front of their consumers and
checks each one was handled before it left.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest
from redis.asyncio import Redis

from gateway.funnel.consumer import GROUP as FUNNEL_GROUP
from gateway.inbound import RedisInboundSink, inbound_stream
from gateway.keys import Keys
from gateway.models import ChatKind, OutboundMessage, TargetId, TargetSeen
from gateway.outbox import OutboxItem, OutboxStore, enqueue
from gateway.runtime import Runtime
from tests.fakes.memory_adapter import MemoryAdapter
from tests.fakes.telegram_api import FakeTelegram
from tests.faults.audit import audit, telegram_received, tg_audience
from tests.faults.conftest import (
    PalmOn,
    announce,
    eventually,
    group_chats,
    seeds,
    wait_done,
)
from tests.outbox.helpers import wait_for, with_outbox, workers


@pytest.mark.slow
async def test_poison_delivery_that_kills_palm_every_time_is_dead_lettered(
    fake_tg: FakeTelegram, palm_on: PalmOn, redis: Redis, keys: Keys
) -> None:
    """Fault 9: whenever palm sends to the poison chat, palm dies (kill -9 at that moment).
    After ``max_attempts`` crashed takes the delivery is dead-lettered and listed; the
    rest of the broadcast goes out."""
    ids = group_chats(30)
    poison = ids[7]
    trap = fake_tg.fail("latency", chat_id=poison, method="sendMessage", delay=5.0, times=1000)
    outbox = {"workers": 8, "claim_idle_seconds": 1, "max_attempts": 3}
    n = 0
    palm = palm_on(f"p{n}", telegram=fake_tg, targets=seeds(ids), outbox=outbox)
    palm.start()
    await palm.ready()
    text = "F9 fire drill at noon"
    ann = await announce(palm, text)
    deadline = time.monotonic() + 60
    while (crashes := 1000 - (trap.times or 0)) < 3:
        assert time.monotonic() < deadline, "the poison delivery was not retried"
        if crashes > n:  # palm just sent to the poison chat: crash it there
            palm.kill9()
            n += 1
            palm = palm_on(f"p{n}", telegram=fake_tg, targets=seeds(ids), outbox=outbox)
            palm.start()
            await palm.ready()
        await asyncio.sleep(0.02)
    palm.kill9()
    palm = palm_on("last", telegram=fake_tg, targets=seeds(ids), outbox=outbox)
    palm.start()
    await palm.ready()
    shown = await wait_done(palm, ann, limit=40)
    dead_lettered = {f"telegram:{poison}": "dead-lettered after 3 crashed attempts"}
    result = audit(
        shown, tg_audience(ids), telegram_received(fake_tg, text), expect_failed=dead_lettered
    )
    print(result.row("9 poison delivery kills palm every time", f"{n + 1} kills, max_attempts 3"))
    assert 1000 - (trap.times or 0) == 3, "a dead-lettered delivery was sent again"
    result.check()
    assert result.failed == dead_lettered
    dead = await redis.zrange(keys("outbox", "deadletter"), 0, -1)
    assert dead == [f"{ann}:telegram:{poison}"]
    assert fake_tg.violations == 0


async def test_inbound_backlog_of_20000_is_never_trimmed(
    palm_on: PalmOn, redis: Redis, keys: Keys
) -> None:
    """Fault 13 (inbound): 20,000 entries wait while no consumer runs; then palm run
    consumes them. Each one was applied (a target registered) before it left."""
    sink = RedisInboundSink(redis, keys)
    total = 20_000
    for start in range(0, total, 500):
        await sink.accept(
            [
                TargetSeen(TargetId(f"telegram:-42{n:06d}"), ChatKind.GROUP, f"g{n}")
                for n in range(start, start + 500)
            ]
        )
    stream = inbound_stream(keys)
    assert await redis.xlen(stream) == total
    palm = palm_on()
    palm.start()
    await palm.ready()

    async def drained() -> bool:
        return int(await redis.xlen(stream)) == 0

    await eventually(drained, limit=80, what="the backlog to drain")
    registered = await redis.scard(keys("targets", "all"))
    pending = await redis.xpending(stream, FUNNEL_GROUP)
    dead = await redis.llen(keys("inbound", "deadletter"))
    print(
        f"FAULT-TABLE | 13 inbound backlog > any trim bound | {total} | {total - registered} | "
        f"0 (targets are a set) | handled before removal; {dead} dead-lettered"
    )
    assert registered == total
    assert pending["pending"] == 0
    assert dead == 0


async def test_outbox_backlog_of_10000_is_never_trimmed(runtime: Runtime, redis: Redis) -> None:
    """Fault 13 (outbox): 10,000 queued deliveries, then workers: each sent exactly once."""
    rt = with_outbox(runtime, workers=32)
    adapter = MemoryAdapter()
    rt.adapters["telegram"] = adapter
    total = 10_000
    for start in range(0, total, 1000):
        await enqueue(
            rt,
            [
                OutboxItem(
                    f"B:{n}",  # type: ignore[arg-type]
                    "announcement",
                    "A-backlog",
                    OutboundMessage(TargetId(f"telegram:{n + 1}"), f"backlog {n}", f"B:{n}"),
                )
                for n in range(start, start + 1000)
            ],
        )
    store = OutboxStore(rt)
    assert await redis.xlen(store.stream("telegram", "normal")) == total
    async with workers(rt):

        async def done() -> bool:
            return (await store.counts("announcement", "A-backlog")).get("telegram", {}) == {
                "sent": total
            }

        await wait_for(done, limit=80)
    shown = {
        "deliveries": [d.to_json() for d in await store.of_origin("announcement", "A-backlog")]
    }
    audience = [f"telegram:{n + 1}" for n in range(total)]
    received = Counter(str(s.target) for s in adapter.sends)
    result = audit(shown, audience, received, max_copies=1)
    print(
        result.row(
            "13 outbox backlog > any trim bound",
            "entries leave only by XACK+XDEL after their final state",
        )
    )
    result.check()
    assert await redis.xlen(store.stream("telegram", "normal")) == 0
