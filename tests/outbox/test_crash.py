"""Crash safety: kill -9 of a worker process mid-broadcast; dead-lettering of poison entries."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway import announcements
from gateway.models import Platform
from gateway.outbox import OutboxStore
from gateway.outbox.store import GROUP
from gateway.outbox.worker import ensure_groups
from gateway.runtime import Runtime
from tests.fakes.memory_adapter import MemoryAdapter
from tests.outbox.helpers import seed, wait_for, with_outbox, workers

ROOT = Path(__file__).resolve().parents[2]


async def _child(redis_url: str, prefix: str) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.outbox.worker_child", redis_url, prefix,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    async with asyncio.timeout(15):
        assert (await proc.stdout.readline()).strip() == b"ready"
    return proc


async def test_kill_9_mid_broadcast_then_restart_loses_nothing(
    runtime: Runtime, redis_url: str
) -> None:
    rt = runtime
    tg = [f"telegram:{-1000 - i}" for i in range(150)]
    mx = [f"matrix:!room{i}:example.org" for i in range(150)]
    await seed(rt, {t: ["all"] for t in tg + mx})
    ann, _ = await announcements.create(rt, text="water off tomorrow", to="all")
    assert ann.target_count == 300
    calls = {p: rt.keys("test", p, "calls") for p in ("telegram", "matrix")}

    async def recorded(n: int) -> bool:
        return sum([await rt.redis.llen(k) for k in calls.values()]) >= n

    first = await _child(redis_url, rt.keys.prefix)
    try:
        await wait_for(lambda: recorded(100))
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
    at_kill = sum([await rt.redis.llen(k) for k in calls.values()])
    assert at_kill < 300, "the broadcast finished before the kill: make it slower"

    second = await _child(redis_url, rt.keys.prefix)
    try:
        await wait_for(lambda: _done(rt, ann.id), limit=45)
    finally:
        second.send_signal(signal.SIGKILL)
        await second.wait()

    store = OutboxStore(rt)
    deliveries = await store.of_origin("announcement", ann.id)
    assert len(deliveries) == 300
    assert {d.state for d in deliveries} == {"sent"}
    # Matrix: the transaction id makes a resend a no-op, so exactly one event per room.
    assert int(await rt.redis.get(rt.keys("test", "matrix", "seq"))) == 150
    assert set(await rt.redis.lrange(calls["matrix"], 0, -1)) == {
        d.delivery_id for d in deliveries if d.platform == "matrix"
    }
    # Telegram: every chat got it; a duplicate is possible only for a send in flight at
    # the kill, and each such case is counted.
    tg_calls = await rt.redis.lrange(calls["telegram"], 0, -1)
    assert set(tg_calls) == {d.delivery_id for d in deliveries if d.platform == "telegram"}
    duplicates = len(tg_calls) - len(set(tg_calls))
    counted = (await store.possible_duplicates()).get("telegram", 0)
    assert duplicates <= counted <= 4  # at most one in flight per killed worker
    assert (await store.pending()) == {"telegram": 0, "matrix": 0}
    print(f"kill -9 after {at_kill} sends: telegram duplicates {duplicates}, counted {counted}")


async def _done(rt: Runtime, ann_id: str) -> bool:
    return (await announcements.get(rt, ann_id)).status == "done"


async def test_a_delivery_that_keeps_crashing_workers_is_dead_lettered(runtime: Runtime) -> None:
    rt = with_outbox(runtime, max_attempts=3, claim_idle_seconds=0.2)
    mem = MemoryAdapter(platform=Platform("telegram"))
    rt.adapters["telegram"] = mem
    await seed(rt, {"telegram:1": ["x"], "telegram:2": ["x"]})
    await ensure_groups(rt, "telegram")
    ann, _ = await announcements.create(rt, text="poison", to="x")
    store = OutboxStore(rt)
    stream = store.stream("telegram", "normal")
    # Three workers take telegram:1's entry and die while sending it (as with kill -9).
    entries = await rt.redis.xreadgroup(GROUP, "doomed-0", {stream: ">"}, count=2)
    poison = next(eid for eid, f in entries[0][1] if f["d"].endswith("telegram:1"))
    other = next(eid for eid, f in entries[0][1] if f["d"].endswith("telegram:2"))
    await rt.redis.xack(stream, GROUP, other)
    await rt.redis.xadd(stream, {"d": f"{ann.id}:telegram:2"})  # put the other one back
    did = f"{ann.id}:telegram:1"
    for n in range(3):
        await rt.redis.xclaim(stream, GROUP, f"doomed-{n}", 0, [poison])
        assert await store.take(did, f"doomed-{n}") is not None
        assert await store.begin_send(did, f"doomed-{n}") == "ok"
    async with workers(rt):
        await wait_for(lambda: _done(rt, ann.id))
    d = await store.get(did)
    assert d is not None
    assert d.state == "failed"
    assert d.reason == "dead-lettered after 3 crashed attempts"
    assert await store.dead_letters() == [did]
    assert [s.target for s in mem.sends] == ["telegram:2"]
    assert await rt.redis.xpending(stream, GROUP) == {
        "pending": 0, "min": None, "max": None, "consumers": []
    }  # fmt: skip


async def test_a_settle_lost_in_a_failover_leaves_the_entry_for_a_take_over(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Redis failover can put a settle on the demoted primary (lost when it resyncs)
    and the ack after it on the new one. The ack must not take the entry: the delivery
    is still queued there, and acked nobody would ever send it again (the broadcast of
    tests/ops/test_failover.py hung so, once, in CI). It is taken over and sent."""
    rt = with_outbox(runtime, workers=1, claim_idle_seconds=0.5)
    mem = MemoryAdapter(platform=Platform("telegram"))
    rt.adapters["telegram"] = mem
    await seed(rt, {f"telegram:{i}": ["x"] for i in (1, 2, 3)})
    ann, _ = await announcements.create(rt, text="water off", to="x")
    victim = f"{ann.id}:telegram:2"
    real_settle = OutboxStore.settle
    lost: list[str] = []

    async def settle(self: OutboxStore, delivery_id: str, to_state: str, **kw: Any) -> Any:
        if delivery_id == victim and not lost:
            lost.append(delivery_id)  # written to the old primary: never seen again
            d = await self.get(delivery_id)
            assert d is not None
            return True, dataclasses.replace(d, state=to_state)
        return await real_settle(self, delivery_id, to_state, **kw)

    monkeypatch.setattr(OutboxStore, "settle", settle)

    async def hook(rt: Runtime, result: object) -> None:
        """Announcements have hooks: their ack goes after the settle, in the next batch."""

    async with workers(rt, {"announcement": hook}):
        await wait_for(lambda: _done(rt, ann.id), limit=15)
    store = OutboxStore(rt)
    assert lost == [victim]
    assert {d.state for d in await store.of_origin("announcement", ann.id)} == {"sent"}
    # Sent again after the take-over, and that possible duplicate is counted.
    assert sorted(s.target for s in mem.sends) == [
        "telegram:1", "telegram:2", "telegram:2", "telegram:3"
    ]  # fmt: skip
    assert (await store.possible_duplicates()).get("telegram") == 1
    assert (await rt.redis.xpending(store.stream("telegram", "normal"), GROUP))["pending"] == 0
