"""A send recorded while the replicas lagged, whose record a failover then lost.

Two failovers in a row can bring back a primary that never had the record: the delivery
is ``queued`` there, not even in flight, and goes out again. The process that recorded it
knows ``WAIT`` failed for it and counts the resend as a possible duplicate. Here the test
Redis has no replica (so ``WAIT`` for one fails), and the "failover" puts back every key
as it was before the send.
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.config import RedisConfig
from gateway.models import DeliveryId, OutboundMessage, TargetId
from gateway.outbox import OutboxItem, OutboxStore, enqueue
from gateway.runtime import Runtime
from tests.fakes.memory_adapter import MemoryAdapter
from tests.outbox.helpers import seed, wait_for, with_outbox, workers

DID = DeliveryId("A-1:telegram:-1")


async def _snapshot(rt: Runtime) -> dict[bytes, Any]:
    keys = [k async for k in rt.redis_bytes.scan_iter(match=rt.keys.pattern())]
    return {k: await rt.redis_bytes.dump(k) for k in keys}


async def _restore(rt: Runtime, snapshot: dict[bytes, Any]) -> None:
    async for k in rt.redis_bytes.scan_iter(match=rt.keys.pattern()):
        await rt.redis_bytes.delete(k)
    for k, v in snapshot.items():
        await rt.redis_bytes.restore(k, 0, v, replace=True)


async def _sent(rt: Runtime) -> bool:
    d = await OutboxStore(rt).get(DID)
    return d is not None and d.state == "sent"


async def _lagged(caplog: pytest.LogCaptureFixture) -> bool:
    return any("not on the replicas" in r.getMessage() for r in caplog.records)


async def _round(
    rt: Runtime, replica_acks: int, caplog: pytest.LogCaptureFixture
) -> tuple[MemoryAdapter, bool]:
    redis = RedisConfig.model_validate(
        {**rt.config.redis.model_dump(), "replica_acks": replica_acks}
    )
    rt = with_outbox(rt, workers=1)
    rt.config = rt.config.model_copy(update={"redis": redis})
    mem = MemoryAdapter()
    rt.adapters["telegram"] = mem
    await seed(rt, {"telegram:-1": []})
    msg = OutboundMessage(TargetId("telegram:-1"), "water off at 9", DID)
    await enqueue(rt, [OutboxItem(DID, "announcement", "A-1", msg)])
    before = await _snapshot(rt)
    async with workers(rt):
        await wait_for(lambda: _sent(rt))
        if replica_acks:  # WAIT for the replica that is not there gives up (2 s)
            await wait_for(lambda: _lagged(caplog), limit=10)
    await _restore(rt, before)  # the failover: the record of the send is gone
    async with workers(rt):
        await wait_for(lambda: _sent(rt))
    d = await OutboxStore(rt).get(DID)
    assert d is not None
    return mem, d.possible_duplicate


async def test_a_send_whose_record_a_failover_lost_is_counted_when_sent_again(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    mem, flagged = await _round(runtime, 1, caplog)
    assert len(mem.sent_to("telegram:-1")) == 2  # the chat got it twice...
    assert flagged  # ...and palm says so
    dups = await runtime.redis.hget(runtime.keys("outbox", "dups"), "telegram")
    assert dups == "1"


async def test_without_replica_acks_nothing_is_remembered(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    # The control: with WAIT off palm cannot know a record was at risk (the README's
    # failover table says so), and the same loss goes uncounted.
    mem, flagged = await _round(runtime, 0, caplog)
    assert len(mem.sent_to("telegram:-1")) == 2
    assert not flagged
