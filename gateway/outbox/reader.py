"""Reading for the delivery workers: the streams, the batch a worker holds, its lease.

A task reads up to ``PREFETCH`` entries of each stream at once (urgent ones first). The
acks a worker owes go with its next take, or before its next read (``_acks``). While
a worker holds entries (the one it works on and the rest of its batch) its lease task
re-claims them (``XCLAIM JUSTID``, which does not count as a delivery) so others take
them over only once the worker is gone for ``claim_idle_seconds`` (``XAUTOCLAIM``), or
at once when its process is known dead (``claim_from_dead``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from redis.exceptions import RedisError, ResponseError

from gateway.adapter import Adapter, OwnerRouted
from gateway.aio import checkpoint
from gateway.ops.takeover import claim_from_dead
from gateway.outbox.model import DeliveryHook
from gateway.outbox.store import GROUP, PRIORITIES, OutboxStore
from gateway.ratelimit import RateLimiter
from gateway.runtime import Runtime
from gateway.targets import TargetDirectory

log = logging.getLogger("palm.outbox")

BLOCK_MS = 1000
PREFETCH = 4
"""Entries read per stream per XREADGROUP: fewer round trips per delivery, and few
enough that a batch is never long in one worker's hands."""


async def ensure_groups(rt: Runtime, platform: str) -> None:
    store = OutboxStore(rt)
    for prio in PRIORITIES:
        try:
            # "0": entries written before any worker existed are read too.
            await rt.redis.xgroup_create(store.stream(platform, prio), GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise


def owner_partition(platform: str) -> str:
    """The streams of deliveries only the owner process may send (``OwnerRouted``)."""
    return f"{platform}@owner"


class StreamReader:
    """What a worker reads and holds; ``_Worker`` (worker.py) sends it."""

    def __init__(
        self,
        rt: Runtime,
        platform: str,
        adapter: Adapter,
        hooks: Mapping[str, DeliveryHook],
        n: int,
        partition: str | None = None,
    ) -> None:
        self.rt = rt
        self.platform = platform
        self.adapter = adapter
        self.routed = adapter if isinstance(adapter, OwnerRouted) else None
        self.partition = partition
        """Set on the workers of the owner's streams: they read only while we own."""
        self.hooks = hooks
        self.cfg = rt.config.outbox
        self.store = OutboxStore(rt)
        self.limiter = RateLimiter(rt.redis, rt.keys)
        self.targets = TargetDirectory(rt.redis, rt.keys)
        self.consumer = f"{rt.instance}:{partition or platform}:{n}"
        self.streams = [self.store.stream(partition or platform, p) for p in PRIORITIES]
        self.owner_streams = [self.store.stream(owner_partition(platform), p) for p in PRIORITIES]
        self._batch: deque[tuple[str, str, str]] = deque()
        """Read, not yet handled: (stream, entry id, delivery id), urgent first."""
        self._held: dict[str, str] = {}
        """Entry id -> stream of every entry this worker holds (leased)."""
        self._acks: list[tuple[str, str, str]] = []
        """(stream, entry id, delivery id) of entries done and owed an ack (``_Worker._handle``)."""
        # Spread the reclaim scans of many workers over time.
        self._next_claim = time.monotonic() + random.uniform(0, self.cfg.claim_idle_seconds / 2)
        self._next_dead_check = 0.0  # at once: a restart finds its predecessor's work

    def _hold(self, entries: list[tuple[str, str, str]], *, first: bool = False) -> None:
        for stream, entry_id, _ in entries:
            self._held[entry_id] = stream
        if first:
            self._batch.extendleft(reversed(entries))
        else:
            self._batch.extend(entries)

    # --- reading --------------------------------------------------------------
    async def _next(self) -> list[tuple[str, str, str]]:
        if self.partition is not None and self.routed is not None and not self.routed.owns():
            await asyncio.sleep(BLOCK_MS / 1000)  # not the owner: leave these to the owner
            return []
        now = time.monotonic()
        if self.rt.config.takeover.same_host and now >= self._next_dead_check:
            self._next_dead_check = now + self.cfg.claim_idle_seconds / 2
            for stream in self.streams:
                # 1 s idle at least: the workers of one process do not claim the same
                # entry from each other (a claim resets the idle time).
                dead = await claim_from_dead(
                    self.rt.redis, stream, GROUP, self.consumer, count=PREFETCH,
                    min_idle_ms=1000,
                )  # fmt: skip
                found = [(stream, eid, f["d"]) for eid, f in dead if f and "d" in f]
                if found:
                    self._next_dead_check = now + 1.0  # the dead may have left more
                    return found
        if now >= self._next_claim:
            self._next_claim = now + self.cfg.claim_idle_seconds / 2
            for stream in self.streams:
                claimed = await self.rt.redis.xautoclaim(
                    stream,
                    GROUP,
                    self.consumer,
                    int(self.cfg.claim_idle_seconds * 1000),
                    start_id="0-0",
                    count=1,
                )
                found = [(stream, eid, f["d"]) for eid, f in claimed[1] if f and "d" in f]
                if found:
                    log.info("took over a delivery", extra={"delivery": found[0][2]})
                    return found
        both = await self.rt.redis.xreadgroup(
            GROUP,
            self.consumer,
            dict.fromkeys(self.streams, ">"),
            count=PREFETCH,
            block=BLOCK_MS,
        )
        # The urgent ones (listed first) go first if both answered.
        return entries(both)

    async def _lease(self) -> None:
        """Keep the idle time of every held entry low while this worker is alive."""
        every = max(0.05, self.cfg.claim_idle_seconds / 3)
        while True:
            checkpoint()  # a cancel swallowed by redis-py in xclaim must end it too
            await asyncio.sleep(every)
            by_stream: dict[str, list[int | bytes | str | memoryview[int]]] = {}
            for entry_id, stream in list(self._held.items()):
                by_stream.setdefault(stream, []).append(entry_id)
            for stream, ids in by_stream.items():
                with contextlib.suppress(RedisError, OSError):
                    await self.rt.redis.xclaim(stream, GROUP, self.consumer, 0, ids, justid=True)

    def _queue_acks(self) -> list[asyncio.Future[object]]:
        """The acks owed, queued in the next batch (their answers awaited by the caller)."""
        acks = []
        for stream, entry_id, delivery_id in self._acks:
            ack = self.store.ack_soon(stream, entry_id, delivery_id)
            ack.add_done_callback(functools.partial(_refused, delivery_id))
            acks.append(ack)
        self._acks.clear()
        return acks

    async def _send_acks(self) -> None:
        await all_done(self._queue_acks())

    async def _hand_back(self) -> None:
        """Re-queue the rest of the batch (a long wait ahead): other workers take it."""
        if not self._batch:
            return
        entries = list(self._batch)
        await self.store.requeue(entries)
        self._batch.clear()
        for _, entry_id, _ in entries:
            self._held.pop(entry_id, None)


async def all_done(futures: list[asyncio.Future[object]]) -> None:
    """Await every future; the first error raised once all are done (none left unread)."""
    first: BaseException | None = None
    for f in futures:
        try:
            await f
        except Exception as exc:
            first = first or exc
    if first is not None:
        raise first


def _refused(delivery_id: str, ack: asyncio.Future[object]) -> None:
    if not ack.cancelled() and ack.exception() is None and ack.result() == -1:
        log.warning(
            "delivery done but still queued in Redis (a failover lost its record?): "
            "left for a take-over",
            extra={"delivery": delivery_id},
        )


def entries(resp: Any) -> list[tuple[str, str, str]]:
    """XREADGROUP's answer as (stream, entry id, delivery id) triples."""
    out: list[tuple[str, str, str]] = []
    for stream, items in resp or []:
        for entry_id, fields in items:
            if fields and "d" in fields:
                out.append((stream, entry_id, fields["d"]))
    return out
