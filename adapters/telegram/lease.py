"""A Redis lease: only one palm process polls a given bot at a time.

``SET key value NX PX ttl`` takes it; a compare-and-set Lua script renews and
releases it, so a process can never extend or drop a lease another one took over.

Why two pollers can never overlap: the holder computes ``deadline`` from a local
clock read *before* each successful take/renew, so the lease in Redis outlives it.
The poller starts a ``getUpdates`` only when the lease is still valid for longer than
the poll can last (its server timeout plus the HTTP read slack); a holder that can no
longer renew (Redis gone, process frozen) therefore stops polling before anyone else
can take the lease over.

Takeover after a crash: the lease's value starts with the holder's instance name
(``host:pid:start:...``). A holder on this host whose process is gone is replaced at
once (``gateway.ops.liveness``), by a compare-and-set, so a restarted palm polls within
a second instead of waiting out the TTL; a holder on another host keeps the TTL.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.errors import StoreUnavailable
from gateway.ops.liveness import holder_is_dead

log = logging.getLogger("palm.telegram")

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_STEAL = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Lease:
    def __init__(
        self, redis: Redis, key: str, owner: str, ttl: float, *, same_host_takeover: bool = True
    ) -> None:
        self.key = key
        self.value = f"{owner}:{secrets.token_hex(4)}"
        self.ttl = ttl
        self._redis = redis
        self._takeover = same_host_takeover
        self._renew = redis.register_script(_RENEW)
        self._steal = redis.register_script(_STEAL)
        self._release = redis.register_script(_RELEASE)
        self._deadline = 0.0

    def remaining(self) -> float:
        """Seconds this process may still act as the holder (0 when it is not)."""
        return max(0.0, self._deadline - time.monotonic())

    async def try_take(self) -> bool:
        """Take the lease if free, or renew it if already ours."""
        started = time.monotonic()
        try:
            if self._deadline > started:
                ok = await self._renew(keys=[self.key], args=[self.value, int(self.ttl * 1000)])
            else:
                ok = await self._redis.set(self.key, self.value, nx=True, px=int(self.ttl * 1000))
                if not ok and self._takeover:
                    ok = await self._take_from_dead()
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"telegram poll lease: {exc}") from exc
        self._deadline = started + self.ttl if ok else 0.0
        return bool(ok)

    async def _take_from_dead(self) -> bool:
        """Replace a holder of this host whose process is gone (compare-and-set)."""
        holder = await self._redis.get(self.key)
        if holder is None or holder == self.value or not holder_is_dead(str(holder)):
            return False
        taken = await self._steal(keys=[self.key], args=[holder, self.value, int(self.ttl * 1000)])
        if taken:
            log.info("telegram: took over the poll lease of %s (that process is gone)", holder)
        return bool(taken)

    async def holder(self) -> str | None:
        try:
            value = await self._redis.get(self.key)
        except (RedisError, OSError):
            return None
        return str(value) if value is not None else None

    async def release(self) -> None:
        self._deadline = 0.0
        with contextlib.suppress(RedisError, OSError):  # else it expires by itself
            await self._release(keys=[self.key], args=[self.value])
