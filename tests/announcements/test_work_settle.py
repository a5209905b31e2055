"""Queued edit or recall work is acked only where it is recorded done.

In a Redis failover, the work's final status can land on the demoted primary and the
ack on the new one: acked there, the work would show "running" for ever and never
be taken over. Here the first run's writes "land elsewhere".
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from gateway.runtime import Runtime
from gateway.work import runner
from gateway.work.store import DONE, GROUP, QUEUED, Work, WorkStore


async def _queued(rt: Runtime) -> tuple[WorkStore, str]:
    store = WorkStore(rt)
    await rt.redis.hset(
        store.key("W-1"),
        mapping={"announcement": "A-1", "action": "recall", "text": "", "status": QUEUED,
                 "by": "secretary", "created_at": repr(time.time())},
    )  # fmt: skip
    await rt.redis.xgroup_create(store.stream, GROUP, id="0", mkstream=True)
    await rt.redis.xadd(store.stream, {"work": "W-1"})
    res: Any = await rt.redis.xreadgroup(GROUP, "p1", {store.stream: ">"}, count=1)
    return store, str(res[0][1][0][0])


async def test_work_whose_done_was_lost_stays_to_be_taken_over(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, entry_id = await _queued(runtime)
    runs: list[str] = []

    async def run_one(store_: WorkStore, w: Work) -> None:
        runs.append(w.id)
        if len(runs) > 1:  # the take-over's run reaches this server
            await store_.set_status(w, DONE)

    monkeypatch.setattr(runner, "_run_one", run_one)
    gate = asyncio.Semaphore(1)
    await runner._handle(store, entry_id, "W-1", gate)
    pending: Any = await runtime.redis.xpending(store.stream, GROUP)
    assert pending["pending"] == 1, "acked although the work is not done here"

    await runner._handle(store, entry_id, "W-1", gate)  # as a take-over would
    assert runs == ["W-1", "W-1"]
    pending = await runtime.redis.xpending(store.stream, GROUP)
    assert pending["pending"] == 0
    assert await runtime.redis.xlen(store.stream) == 0
    w = await store.get("W-1")
    assert w is not None
    assert w.status == DONE


async def test_work_cut_short_by_redis_is_not_marked_done(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A recall half-way when Redis goes away: marked done and acked, the chats not yet
    # recalled would keep the message for good. It must stay for a take-over.
    store, entry_id = await _queued(runtime)

    async def cut_short(store_: WorkStore, w: Work) -> None:
        raise RedisConnectionError("Connection closed by server.")

    monkeypatch.setattr(runner, "_run_one", cut_short)
    monkeypatch.setattr(runner, "RETRY_DELAYS", (0.01, 0.01))
    await runner._handle(store, entry_id, "W-1", asyncio.Semaphore(1))
    w = await store.get("W-1")
    assert w is not None
    assert w.status == QUEUED
    pending: Any = await runtime.redis.xpending(store.stream, GROUP)
    assert pending["pending"] == 1


async def test_work_cut_short_runs_again_in_the_same_process(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A short Redis outage mid-recall: the recall is finished a moment later by the
    # same process, not a minute later by a take-over.
    store, entry_id = await _queued(runtime)
    runs: list[float] = []

    async def flaky(store_: WorkStore, w: Work) -> None:
        runs.append(time.monotonic())
        if len(runs) < 3:
            raise RedisConnectionError("Connection closed by server.")
        await store_.set_status(w, DONE)

    monkeypatch.setattr(runner, "_run_one", flaky)
    await asyncio.wait_for(runner._handle(store, entry_id, "W-1", asyncio.Semaphore(1)), 10)
    assert len(runs) == 3
    assert runs[2] - runs[0] >= runner.RETRY_DELAYS[0] + runner.RETRY_DELAYS[1]
    w = await store.get("W-1")
    assert w is not None
    assert w.status == DONE
    assert await runtime.redis.xlen(store.stream) == 0


async def test_a_bug_in_work_still_ends_it(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, entry_id = await _queued(runtime)

    async def bug(store_: WorkStore, w: Work) -> None:
        raise KeyError("text")

    monkeypatch.setattr(runner, "_run_one", bug)
    await runner._handle(store, entry_id, "W-1", asyncio.Semaphore(1))
    w = await store.get("W-1")
    assert w is not None
    assert w.status == DONE
    assert await runtime.redis.xlen(store.stream) == 0
