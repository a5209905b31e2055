"""Flood limits on what residents can make palm do, shared by every process (Redis).

Each limit is an exact sliding window: a sorted set per resident (or chat) of the
events it allowed, by Redis server time. ``hit`` checks and records in one Lua call,
so several palm processes together never let more through than the limit. The member
is the inbound message's platform id (``dedupe_key``): a message handled twice (a
consumer crashed and its entry was redelivered) counts once, and is allowed again.
Only allowed events are recorded, so a set never holds more than ``limit`` members.

The limits (``flood:`` in the config; defaults from the contract):

- ``messages``: inbound messages per resident (new tickets and follow-ups);
- ``tickets``: new tickets per resident;
- ``acks``: acknowledgements per resident;
- ``help``: ``/help`` and ``/start`` answers per chat.

What "over a limit" means is the funnel's business (``gateway.funnel.consumer``): the
message is still stored on the resident's open ticket when there is one, but opens no
ticket and sends nothing. ``palm_inbound_limited_total{platform,reason}`` counts it.
"""

from __future__ import annotations

from redis.exceptions import RedisError

from gateway.admission.config import Limit
from gateway.errors import StoreUnavailable
from gateway.metrics import INBOUND_LIMITED
from gateway.models import InboundMessage
from gateway.runtime import Runtime

# KEYS[1]: the window's sorted set. ARGV: member, limit, window in ms.
# Returns 1 when the event is allowed (and recorded), 0 when over the limit.
_HIT_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], window + 1000)
return 1
"""

MESSAGES, TICKETS, ACKS, HELP = "messages", "tickets", "acks", "help"


class FloodGate:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.limits = rt.config.flood
        self._hit = rt.redis.register_script(_HIT_LUA)

    async def _allowed(self, reason: str, subject: str, member: str, limit: Limit) -> bool:
        key = self.rt.keys("flood", reason, subject)
        try:
            ok = await self._hit(
                keys=[key], args=[member, limit.limit, int(limit.window_seconds * 1000)]
            )
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"flood limits: {exc}") from exc
        return bool(int(ok))

    @staticmethod
    def _resident(msg: InboundMessage) -> str:
        return f"{msg.platform}:{msg.sender.user_id}"

    async def message(self, msg: InboundMessage) -> bool:
        """One more inbound message from this resident: within ``messages``?"""
        return await self._allowed(MESSAGES, self._resident(msg), msg.dedupe_key,
                                   self.limits.messages)  # fmt: skip

    async def new_ticket(self, msg: InboundMessage) -> str | None:
        """May this message open a ticket? ``None`` if so, else the limit it is over."""
        if not await self.message(msg):
            return MESSAGES
        member, resident = msg.dedupe_key, self._resident(msg)
        if not await self._allowed(TICKETS, resident, member, self.limits.tickets):
            return TICKETS
        return None

    async def ack(self, msg: InboundMessage) -> bool:
        return await self._allowed(ACKS, self._resident(msg), msg.dedupe_key, self.limits.acks)

    async def help(self, msg: InboundMessage) -> bool:
        return await self._allowed(HELP, msg.target, msg.dedupe_key, self.limits.help)


def count_limited(msg: InboundMessage, reason: str) -> None:
    INBOUND_LIMITED.labels(platform=msg.platform, reason=reason).inc()
