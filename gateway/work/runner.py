"""The ``work`` component: runs queued edits and recalls, several at a time.

Each process reads the work stream through one consumer group, so each piece of work
runs once. A piece cut short by Redis or the platform is run again by the same process
after a short wait (``RETRY_DELAYS``). A piece whose process died is taken over after
``CLAIM_IDLE_MS``; while a
process works on one (a recall may wait minutes for a group's send budget) it keeps
renewing its claim so nobody takes it over. A taken-over edit or recall only repeats
what is idempotent: a recalled delivery is skipped, a chat's first result is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError, ResponseError

from gateway import announcements
from gateway.aio import TaskGroup, checkpoint
from gateway.errors import RetryableError
from gateway.outbox.actions import ActionResult
from gateway.runtime import Runtime
from gateway.work.store import DONE, GROUP, RUNNING, Work, WorkStore

log = logging.getLogger("palm.work")

CLAIM_IDLE_MS = 60_000

# A piece of work done with: acked and deleted at once. KEYS: the work stream, the work's
# hash. ARGV: group, entry id. Returns -1, and acks nothing, when the work is not `done`
# *on this server*: a Redis failover put its last writes on a demoted primary and this
# ack on the new one. Left pending, it is taken over and run again (idempotent); acked,
# the staff would see it "running" for ever. A work gone (expired) is simply acked.
_ACK_LUA = """
local status = redis.call('HGET', KEYS[2], 'status')
if status and status ~= 'done' then return -1 end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return redis.call('XDEL', KEYS[1], ARGV[2])
"""
RENEW_SECONDS = 15.0
PARALLEL = 8
RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 15.0)
"""Waits before running interrupted work again in the same process: 30 s in all, within
``CLAIM_IDLE_MS``, so a short Redis outage or a failover does not hold a recall a minute."""


async def _ensure_group(store: WorkStore) -> None:
    with contextlib.suppress(ResponseError):  # BUSYGROUP: it exists
        await store.rt.redis.xgroup_create(store.stream, GROUP, id="0", mkstream=True)


async def _run_one(store: WorkStore, w: Work) -> None:
    rt = store.rt

    async def heard(result: ActionResult) -> None:
        await store.record(w, result)

    await store.set_status(w, RUNNING)
    if w.action == "edit":
        await announcements.edit(rt, w.announcement, w.text or "", on_result=heard)
    else:
        await announcements.recall(rt, w.announcement, on_result=heard)
    await store.set_status(w, DONE)


async def _handle(store: WorkStore, entry_id: str, work_id: str, gate: asyncio.Semaphore) -> None:
    async with gate:
        for delay in (*RETRY_DELAYS, None):
            try:
                await _run(store, work_id)
                break
            except (RetryableError, RedisError, OSError) as exc:
                # Redis (or the platform, for good) is away mid-way: the work is not
                # done. Marked done, a recall cut short by a failover would leave chats
                # with the message for good. Run again here (idempotent) once Redis is
                # likely back, while the claim is still renewed; after the last try it is
                # left unacked, and taken over after CLAIM_IDLE_MS.
                log.warning(
                    "work: interrupted; %s",
                    "left to be taken over" if delay is None else f"again in {delay:g} s",
                    extra={"work": work_id, "error": str(exc)[:200]},
                )
                if delay is None:
                    return
                await asyncio.sleep(delay)
        with contextlib.suppress(RedisError, OSError):  # unacked: taken over and run again
            await _ack(store, entry_id, work_id)


async def _run(store: WorkStore, work_id: str) -> None:
    w = await store.get(work_id)
    if w is None or w.status == DONE:
        return
    try:
        await _run_one(store, w)
    except (RetryableError, RedisError, OSError):
        raise
    except Exception:  # a bug: the work must not run again and again
        log.exception("work failed", extra={"work": work_id})
        await store.set_status(w, DONE)


async def _ack(store: WorkStore, entry_id: str, work_id: str) -> None:
    ack = store.rt.redis.register_script(_ACK_LUA)
    done = await ack(keys=[store.stream, store.key(work_id)], args=[GROUP, entry_id])
    if int(done) < 0:
        log.warning(
            "work: not done on this redis server (a failover?); left to be taken over",
            extra={"work": work_id},
        )


async def _renew(store: WorkStore, me: str, running: dict[str, str]) -> None:
    while True:
        checkpoint()
        await asyncio.sleep(RENEW_SECONDS)
        if running:
            with contextlib.suppress(RedisError, OSError):  # Redis away: try next turn
                await store.rt.redis.xclaim(store.stream, GROUP, me, 0, list(running), justid=True)


async def run_work(rt: Runtime) -> None:
    store = WorkStore(rt)
    await _ensure_group(store)
    me = rt.instance
    gate = asyncio.Semaphore(PARALLEL)
    running: dict[str, str] = {}

    def start(tg: TaskGroup, entry_id: str, work_id: str) -> None:
        if entry_id in running:
            return
        running[entry_id] = work_id
        task = tg.create_task(_handle(store, entry_id, work_id, gate))
        task.add_done_callback(lambda _: running.pop(entry_id, None))

    async with TaskGroup() as tg:
        tg.create_task(_renew(store, me, running))
        while True:
            checkpoint()
            try:
                await _take(store, me, lambda e, w: start(tg, e, w))
            except (RedisError, OSError) as exc:
                # Redis away (or the stream deleted under us): wait, make sure the group
                # exists, go on. Palm must not stop over it.
                log.warning("work: redis trouble, retrying", extra={"error": str(exc)})
                await asyncio.sleep(1.0)
                with contextlib.suppress(RedisError, OSError):
                    await _ensure_group(store)


async def _take(store: WorkStore, me: str, start: Callable[[str, str], None]) -> None:
    redis = store.rt.redis
    claimed: Any = await redis.xautoclaim(store.stream, GROUP, me, CLAIM_IDLE_MS, "0-0", count=10)
    for entry_id, fields in claimed[1]:
        if fields:
            start(str(entry_id), str(fields["work"]))
    res: Any = await redis.xreadgroup(GROUP, me, {store.stream: ">"}, count=10, block=1000)
    for _, entries in res or []:
        for entry_id, fields in entries:
            start(str(entry_id), str(fields["work"]))
