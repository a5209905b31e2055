"""Rejected chats are left by the bot, durably, by whichever ``palm run`` gets to it.

``queue_leave`` puts the chat in a sorted set in Redis (score: when it was queued);
``run_leaver``, a ``palm run`` component, works the set off every second with the
platform's ``Adapter.leave``. So a reject from the CLI (which has no platform
connection) or the API is carried out by a running palm, and a crash, a platform
outage or a restart only delays it. Nothing is dropped silently: a leave that cannot
succeed (a permanent error) is logged and recorded as the target's reason.

The set is checked against the target's admission before each leave: an entry whose
chat is no longer rejected (approved again) is dropped, not acted on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from redis.exceptions import RedisError

from gateway.aio import checkpoint
from gateway.errors import PermanentError, RetryableError, StoreUnavailable, TargetGone
from gateway.models import TargetId, split_target_id
from gateway.runtime import Runtime
from gateway.targets import TargetDirectory
from gateway.targets_lua import REJECTED

log = logging.getLogger("palm.admission")

EVERY = 1.0
"""Seconds between two looks at the set."""
LOCK_MS = 30_000
"""One process leaves a chat at a time (a second leave would be harmless anyway)."""
STALE_SECONDS = 60.0
"""An entry whose chat is not rejected (approved meanwhile) is dropped after this."""
LEFT = "rejected: the bot left the chat"


def _set(rt: Runtime) -> str:
    return rt.keys("admission", "leaving")


async def queue_leave(rt: Runtime, target: TargetId) -> None:
    try:
        await rt.redis.zadd(_set(rt), {target: time.time()})
    except (RedisError, OSError) as exc:
        raise StoreUnavailable(f"admission: {exc}") from exc


async def unqueue_leave(rt: Runtime, target: TargetId) -> None:
    try:
        await rt.redis.zrem(_set(rt), target)
    except (RedisError, OSError) as exc:
        raise StoreUnavailable(f"admission: {exc}") from exc


async def leaving(rt: Runtime) -> list[str]:
    """Chats the bot still has to leave (``palm targets list`` shows the reason)."""
    return [str(m) for m in await rt.redis.zrange(_set(rt), 0, -1)]


class Leaver:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.targets = TargetDirectory(rt.redis, rt.keys)
        self._retry_at: dict[str, float] = {}
        self._failures: dict[str, int] = {}

    async def run(self) -> None:
        while True:
            checkpoint()
            try:
                await self.step()
            except (RedisError, OSError, StoreUnavailable) as exc:
                log.warning("admission: redis trouble, retrying", extra={"error": str(exc)})
            await asyncio.sleep(EVERY)

    async def step(self) -> int:
        """One pass over the set; returns how many chats were left."""
        entries: Any = await self.rt.redis.zrange(_set(self.rt), 0, 99, withscores=True)
        done = 0
        for member, queued_at in entries:
            target = TargetId(str(member))
            if self._retry_at.get(target, 0.0) > time.monotonic():
                continue
            done += await self._one(target, float(queued_at))
        return done

    async def _one(self, target: TargetId, queued_at: float) -> int:
        admission = await self.rt.redis.hget(self.targets.hash_prefix + target, "admission")
        if admission != REJECTED:
            if time.time() - queued_at > STALE_SECONDS:
                await unqueue_leave(self.rt, target)
            return 0
        platform, _ = split_target_id(target)
        adapter = self.rt.adapters.get(platform)
        if adapter is None:
            return 0  # another palm process with that platform will do it
        lock = self.rt.keys("admission", "leave-lock", target)
        if not await self.rt.redis.set(lock, self.rt.instance, nx=True, px=LOCK_MS):
            return 0
        reason = LEFT
        try:
            await adapter.leave(target)
        except TargetGone:
            pass  # not in the chat any more: what we wanted
        except RetryableError as exc:
            self._backoff(target, exc.retry_after)
            log.warning("admission: leave failed, retrying", extra={"target": target,
                        "error": exc.message})  # fmt: skip
            await self.rt.redis.delete(lock)
            return 0
        except PermanentError as exc:
            reason = f"rejected; the bot could not leave: {exc.message}"
            log.warning("admission: cannot leave", extra={"target": target, "error": exc.message})
        except Exception:  # an adapter bug must not stop the component: retry later
            log.exception("admission: leave crashed", extra={"target": target})
            self._backoff(target, None)
            await self.rt.redis.delete(lock)
            return 0
        await self.targets.mark_inactive(target, reason)
        await unqueue_leave(self.rt, target)
        await self.rt.redis.delete(lock)  # added back and rejected again: leave again
        self._failures.pop(target, None)
        log.info("admission: left a rejected chat", extra={"target": target})
        return 1

    def _backoff(self, target: str, hint: float | None) -> None:
        n = self._failures.get(target, 0) + 1
        self._failures[target] = n
        wait = hint if hint is not None else min(300.0, 2.0**n)
        self._retry_at[target] = time.monotonic() + wait


async def run_leaver(rt: Runtime) -> None:
    """The ``palm run`` component."""
    await Leaver(rt).run()
