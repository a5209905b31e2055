"""The durable inbound sink: adapters hand events here before confirming them.

One Lua script per batch does, atomically, for each event: drop it if its
``dedupe_key`` was seen (``SET NX EX``), else ``XADD`` it to the inbound stream.
When ``accept`` returns, the batch is in Redis (AOF) and the adapter may confirm it
to the platform. The funnel consumes the stream with a consumer group.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.codec import encode_event
from gateway.errors import StoreUnavailable
from gateway.keys import Keys
from gateway.models import InboundEvent, InboundMessage

DEDUPE_TTL_SECONDS = 7 * 24 * 3600
"""Telegram keeps unconfirmed updates for 24 h; a week leaves room for long outages."""

# KEYS[1] = stream; ARGV[1] = dedupe prefix, ARGV[2] = ttl, then (dedupe_key, payload) pairs.
# An empty dedupe key means "always append" (target events are idempotent upserts).
_ACCEPT_LUA = """
local added = 0
for i = 3, #ARGV, 2 do
  local key = ARGV[i]
  local fresh = true
  if key ~= '' then
    fresh = redis.call('SET', ARGV[1] .. key, '1', 'NX', 'EX', tonumber(ARGV[2]))
  end
  if fresh then
    redis.call('XADD', KEYS[1], '*', 'e', ARGV[i + 1])
    added = added + 1
  end
end
return added
"""


def inbound_stream(keys: Keys) -> str:
    return keys("inbound", "stream")


class RedisInboundSink:
    """``gateway.adapter.InboundSink`` backed by a Redis stream."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._script = redis.register_script(_ACCEPT_LUA)

    async def accept(self, events: Sequence[InboundEvent]) -> int:
        if not events:
            return 0
        argv: list[str | int] = [self._keys("inbound", "seen", ""), DEDUPE_TTL_SECONDS]
        for event in events:
            key = (
                f"{event.platform}:{event.dedupe_key}" if isinstance(event, InboundMessage) else ""
            )
            argv += [key, encode_event(event)]
        try:
            added = await self._script(keys=[inbound_stream(self._keys)], args=argv)
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"cannot store inbound events: {exc}") from exc
        return int(added)
