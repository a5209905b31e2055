"""The durable inbound sink: adapters hand events here before confirming them.

One Lua script per batch does, atomically, for each event: drop it if its
``dedupe_key`` was seen (``SET NX EX``), else ``XADD`` it to the inbound stream.
When ``accept`` returns, the batch is in Redis (AOF) and the adapter may confirm it
to the platform. The funnel consumes the stream with a consumer group.

Group commit: ``accept`` calls that arrive while another one's script is running (a
webhook flood: one update per HTTP request, many requests at once) wait for it and then
go to Redis together in one script call, each caller still answered only once its own
events are durable. One call alone goes at once; under load the round trips and
redis-py's per-command cost are shared by the whole group.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.codec import encode_event
from gateway.errors import StoreUnavailable
from gateway.keys import Keys
from gateway.models import ButtonPress, InboundEvent, InboundMessage, PollVote
from gateway.ops.replication import wait_replicas

DEDUPE_TTL_SECONDS = 7 * 24 * 3600
"""Telegram keeps unconfirmed updates for 24 h; a week leaves room for long outages."""

MAX_GROUP = 256
"""Events per script call at most (a flood's group is split beyond that)."""

# KEYS[1] = stream; ARGV[1] = dedupe prefix, ARGV[2] = ttl, then (dedupe_key, payload) pairs.
# An empty dedupe key means "always append" (target events are idempotent upserts).
# Returns one 0/1 per event (1 = appended), so each caller of a group gets its own count.
_ACCEPT_LUA = """
local added = {}
for i = 3, #ARGV, 2 do
  local key = ARGV[i]
  local fresh = true
  if key ~= '' then
    fresh = redis.call('SET', ARGV[1] .. key, '1', 'NX', 'EX', tonumber(ARGV[2]))
  end
  if fresh then
    redis.call('XADD', KEYS[1], '*', 'e', ARGV[i + 1])
    added[#added + 1] = 1
  else
    added[#added + 1] = 0
  end
end
return added
"""


def inbound_stream(keys: Keys) -> str:
    return keys("inbound", "stream")


@dataclass(slots=True)
class _Call:
    """One ``accept`` waiting for its group's script call."""

    pairs: list[str]
    done: asyncio.Future[int] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class RedisInboundSink:
    """``gateway.adapter.InboundSink`` backed by a Redis stream."""

    def __init__(self, redis: Redis, keys: Keys, *, replica_acks: int = 0) -> None:
        self._redis = redis
        self._keys = keys
        self._replica_acks = replica_acks
        """``redis.replica_acks``: accepted means on this many replicas too (``WAIT``)."""
        self._script = redis.register_script(_ACCEPT_LUA)
        self._seen_prefix = keys("inbound", "seen", "")
        self._stream = inbound_stream(keys)
        self._waiting: deque[_Call] = deque()
        self._turn = asyncio.Lock()
        """Held by the caller whose group is in Redis; the next takes every waiting call."""

    async def accept(self, events: Sequence[InboundEvent]) -> int:
        if not events:
            return 0
        pairs: list[str] = []
        for event in events:
            key = (
                f"{event.platform}:{event.dedupe_key}"
                if isinstance(event, InboundMessage | ButtonPress | PollVote)
                else ""
            )
            pairs += [key, encode_event(event)]
        call = _Call(pairs)
        self._waiting.append(call)
        try:
            async with self._turn:
                if not call.done.done():  # else an earlier caller's group carried it
                    await self._run_group()
        except asyncio.CancelledError:
            if call in self._waiting:  # not sent: nobody else will wait for it
                self._waiting.remove(call)
            raise
        return call.done.result()

    async def _run_group(self) -> None:
        group: list[_Call] = []
        size = 0
        while self._waiting and (not group or size + len(self._waiting[0].pairs) <= 2 * MAX_GROUP):
            call = self._waiting.popleft()
            group.append(call)
            size += len(call.pairs)
        argv: list[str | int] = [self._seen_prefix, DEDUPE_TTL_SECONDS]
        for call in group:
            argv += call.pairs
        try:
            flags = await self._script(keys=[self._stream], args=argv)
            await wait_replicas(self._redis, self._keys, self._replica_acks)
        except (RedisError, OSError, StoreUnavailable) as exc:
            _fail(group, f"cannot store inbound events: {exc}", exc)
            return
        except BaseException as exc:
            # Cancelled mid-call: the others of the group must not wait for ever. The
            # events may or may not be in; the platform resends and dedupe drops repeats.
            _fail(group, f"inbound store interrupted: {type(exc).__name__}", exc)
            raise
        at = 0
        for call in group:
            n = len(call.pairs) // 2
            call.done.set_result(sum(int(f) for f in flags[at : at + n]))
            at += n


def _fail(group: list[_Call], message: str, cause: BaseException) -> None:
    for call in group:
        if not call.done.done():
            err = StoreUnavailable(message)  # one each: every caller raises its own
            err.__cause__ = cause
            call.done.set_exception(err)
