"""One palm process at a time owns the bot's Matrix device and its crypto store.

A fenced Redis lease, on the pattern of the Telegram poll lease (adapters/telegram/
lease.py; the two can be unified later): ``SET NX PX`` takes it, a compare-and-set
script renews and releases it. Each take also draws a new epoch (``INCR``), logged
and kept in the lease value, so every owner is told apart even on the same host.

Why two owners never overlap: the holder computes its deadline from a local clock
read *before* each successful take/renew, so the key in Redis outlives it; the owner's
work (sync with decryption, encrypted sends) is cancelled once less than ``margin``
of the lease is left without a renewal, before anyone else can take it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.aio import TaskGroup, checkpoint
from gateway.errors import StoreUnavailable
from gateway.ops.liveness import holder_is_dead

log = logging.getLogger(__name__)

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_TAKE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local epoch = redis.call('INCR', KEYS[2])
local value = epoch .. ':' .. ARGV[1]
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
return value
"""
# Replace a holder whose process is gone (compare-and-set on its exact value).
_STEAL = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local epoch = redis.call('INCR', KEYS[2])
local value = epoch .. ':' .. ARGV[2]
redis.call('SET', KEYS[1], value, 'PX', ARGV[3])
return value
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class LeaseLost(Exception):
    """The owner could not renew in time: stop acting as the owner."""


class DeviceLease:
    def __init__(self, redis: Redis, key: str, owner: str, ttl: float) -> None:
        self.key = key
        self.ttl = ttl
        self.value: str | None = None
        """``epoch:owner`` while held."""
        self._owner = owner
        self._redis = redis
        self._take = redis.register_script(_TAKE)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self._steal = redis.register_script(_STEAL)
        self._deadline = 0.0

    def remaining(self) -> float:
        """Seconds this process may still act as the owner (0 when it is not)."""
        return max(0.0, self._deadline - time.monotonic())

    async def try_take(self) -> bool:
        """Take the lease if free, or renew it if already ours."""
        started = time.monotonic()
        ms = int(self.ttl * 1000)
        try:
            if self.value is not None and self._deadline > started:
                ok = bool(await self._renew(keys=[self.key], args=[self.value, ms]))
            else:
                got = await self._take(keys=[self.key, self.key + ":epoch"], args=[self._owner, ms])
                if not got:
                    got = await self._take_from_dead(ms)
                self.value = (got.decode() if isinstance(got, bytes) else str(got)) if got else None
                ok = self.value is not None
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"matrix device lease: {exc}") from exc
        self._deadline = started + self.ttl if ok else 0.0
        if not ok:
            self.value = None
        return ok

    async def _take_from_dead(self, ms: int) -> Any:
        """A holder of this host whose process is gone (kill -9) is replaced at once, as
        the Telegram poll lease does (gateway.ops.liveness); other hosts' holders expire."""
        raw = await self._redis.get(self.key)
        holder = raw.decode() if isinstance(raw, bytes) else raw
        if not holder or not holder_is_dead(holder.partition(":")[2]):
            return None
        got = await self._steal(
            keys=[self.key, self.key + ":epoch"], args=[holder, self._owner, ms]
        )
        if got:
            log.info("matrix: took over the device lease of %s (that process is gone)", holder)
        return got

    async def holder(self) -> str | None:
        try:
            value = await self._redis.get(self.key)
        except (RedisError, OSError):
            return None
        return value.decode() if isinstance(value, bytes) else value

    async def release(self) -> None:
        value, self.value, self._deadline = self.value, None, 0.0
        if value is not None:
            with contextlib.suppress(RedisError, OSError):  # else it expires by itself
                await self._release(keys=[self.key], args=[value])


class Ownership:
    """Wait for the lease, run ``work`` while it is held, stop it before it lapses."""

    def __init__(self, lease: DeviceLease, *, margin: float = 1.0) -> None:
        self.lease = lease
        self._margin = margin

    def owned(self) -> bool:
        return self.lease.remaining() > self._margin

    async def run(self, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Until cancelled: take the lease when free, then own until it is lost."""
        try:
            while True:
                checkpoint()
                if await self._take():
                    log.info("matrix: this process owns the device (lease %s)", self.lease.value)
                    try:
                        async with TaskGroup() as tg:
                            tg.create_task(self._renewer())
                            tg.create_task(work())
                    except* LeaseLost:
                        log.warning("matrix: lost the device lease; no longer the owner")
                    await self.lease.release()
                await asyncio.sleep(self.lease.ttl / 4)
        finally:
            await asyncio.shield(self.lease.release())

    async def _take(self) -> bool:
        try:
            if await self.lease.try_take():
                return True
        except StoreUnavailable as exc:
            log.warning("matrix: cannot take the device lease: %s", exc.message)
            return False
        log.debug("matrix: another process owns the device (%s)", await self.lease.holder())
        return False

    async def _renewer(self) -> None:
        every = self.lease.ttl / 4
        while True:
            # A cancel that redis-py swallowed in try_take must still end the renewer:
            # else its TaskGroup, aborting, waits for it for ever (a stuck test showed
            # it: the device's sync gone, the renewer renewing, palm's stop hanging).
            checkpoint()
            await asyncio.sleep(max(0.05, min(every, self.lease.remaining() - self._margin)))
            try:
                if not await self.lease.try_take():
                    raise LeaseLost()
            except StoreUnavailable as exc:
                log.warning("matrix: cannot renew the device lease: %s", exc.message)
            if not self.owned():
                raise LeaseLost()
