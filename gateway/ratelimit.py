"""Exact rolling-window rate limits, shared by every palm process on one Redis.

Each ``RateRule`` is a sliding log: a sorted set of send times for its key. One Lua
script checks every rule of a send and the pause flags at once, and only if all of
them allow it records the send in all of them. So a send either counts against every
limit or against none, and several processes can never together exceed a limit.
Time comes from the Redis server (``TIME``), so clocks of the processes do not matter.

A permit is granted ahead of the send: between the grant and the request leaving lie
a Redis round trip (``begin_send``), the event loop and the HTTP client, which on a busy
machine can stretch by tens of ms for one send and not the next. So just before the
request leaves, ``stamp`` moves the send's entry in every log to the Redis time of that
moment, and first checks that the window still allows a send *now* against the others'
times (waiting if not).

The platform counts a send when the request arrives, which is after its stamp and
before its answer comes back; how long after the stamp, palm cannot see (a busy
platform, a busy network). So a send stamped ``until_sent`` counts as in flight
(``IN_FLIGHT_HOLD`` ahead of its stamp) until ``sent`` moves it to the moment its answer
came. Every send is then counted from no earlier than its arrival, and a later send
stamped at least a window after it also arrives at least a window after it: the windows
hold at the platform however late the requests arrive, and the margins only absorb clock
rounding. The cost is the round-trip time: a window frees a slot an answer's time later.
A process that dies with a send in flight leaves its entry held, not under-counted.
A caller held back by a send in flight is told to wait one window and look again (its
answer comes no sooner than now), not the hold as well.

``spread`` keeps its grid of grant times in a key of its own (``rate:grid:<rule>``), so
entries moved by a stamp or an answer do not push the grid back.

A rule with ``pace`` (the 1,000/s paid broadcast) is also paced in each process before
the shared limiter is asked: every send takes the next slot of an even local grid
(``Pacer``). Without it, the workers woken together by a freed window would send in
bursts, and a burst's last request, late on the platform's clock, can land in the next
window (the fake Bot API counted hundreds of such violations in 100,000 sends). The
grid also spares the shared log a retry per waiting worker.

A 429 sets a pause on the key the platform meant (the whole bot or one chat): while
it lasts, every send counting against that key waits.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import weakref
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.batch import for_client
from gateway.errors import StoreUnavailable
from gateway.keys import Keys
from gateway.models import RateRule

# KEYS: n log keys, n pause keys, n grid keys. ARGV: member, then (limit, window_ms,
# spread) per rule. Returns 0 when the send was recorded, else the milliseconds to wait.
_ACQUIRE_LUA = """
local SNAP_MS = 10
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = #KEYS / 3
local wait = 0
local slots = {}
for i = 1, n do
  slots[i] = now
  local pause = redis.call('PTTL', KEYS[n + i])
  if pause > wait then wait = pause end
  local limit = tonumber(ARGV[3 * i - 1])
  local window = tonumber(ARGV[3 * i])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  -- every send still in the window, those in flight (scored ahead of now) included
  local count = redis.call('ZCARD', KEYS[i])
  if count >= limit then
    -- the send that frees a slot is the (count - limit + 1)-th oldest in the window
    local oldest = redis.call('ZRANGE', KEYS[i], count - limit, count - limit, 'WITHSCORES')
    -- one in flight (scored ahead of now) frees its slot no sooner than a window
    -- from now: wait that long and look again, not its hold too
    local w = math.min(tonumber(oldest[2]), now) + window - now
    if w > wait then wait = w end
  end
  local grid = ARGV[3 * i + 1] == '1' and redis.call('GET', KEYS[2 * n + i])
  if grid then
    local interval = window / limit
    local slot = tonumber(grid) + interval
    local w = slot - now
    if w > wait then wait = w end
    -- A grant a little late for its slot takes the slot, so one late grant (the
    -- caller's sleep overshoot, a busy event loop) does not push back every later
    -- slot: grants stay on a grid of exactly window/limit. Later than that: a new grid.
    if w <= 0 and -w <= math.min(SNAP_MS, interval / 4) then slots[i] = slot end
  end
end
-- a fractional wait must not reach the caller as 0 (Lua numbers become integers)
if wait > 0 then return math.ceil(wait) end
for i = 1, n do
  local window = tonumber(ARGV[3 * i])
  redis.call('ZADD', KEYS[i], slots[i], ARGV[1])
  redis.call('PEXPIRE', KEYS[i], window + 1000)
  if ARGV[3 * i + 1] == '1' then
    redis.call('SET', KEYS[2 * n + i], slots[i], 'PX', window + 1000)
  end
end
return 0
"""


# KEYS: n log keys. ARGV: member, hold_ms, then (limit, window_ms, spread) per rule.
# Moves the member to Redis time now (plus hold_ms: a send in flight) if every window
# holds at most limit - 1 other sends after now - window; returns 0 then, else the
# milliseconds to wait (nothing changed).
_STAMP_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local hold = tonumber(ARGV[2])
local n = #KEYS
local wait = 0
for i = 1, n do
  local limit = tonumber(ARGV[3 * i])
  local window = tonumber(ARGV[3 * i + 1])
  -- the others in the window (ours excluded), sends in flight scored ahead of now
  -- included; O(log n), as a 1,000/s log is long. The window's sends are the
  -- highest-scored of the set, so the set's ranks are ranks in the window.
  local count = redis.call('ZCOUNT', KEYS[i], '(' .. (now - window), '+inf')
  local rank = redis.call('ZREVRANK', KEYS[i], ARGV[1])
  if rank and rank < count then count = count - 1 end
  if count >= limit then
    -- the limit-th newest other send: it must leave the window first
    local at = limit - 1
    if rank and rank <= at then at = limit end
    local s = redis.call('ZREVRANGE', KEYS[i], at, at, 'WITHSCORES')
    local w = math.min(tonumber(s[2]), now) + window - now
    if w > wait then wait = w end
  end
end
if wait > 0 then return math.ceil(wait) end
for i = 1, n do
  if redis.call('ZSCORE', KEYS[i], ARGV[1]) then
    redis.call('ZADD', KEYS[i], now + hold, ARGV[1])
    redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[3 * i + 1]) + hold + 1000)
  end
end
return 0
"""


# KEYS: n log keys. ARGV: member. The send's answer has come: it reached the platform
# before now, so it counts from now (rounded up: Redis time is in whole ms).
_SENT_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + 1
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], 'XX', now, ARGV[1])
end
return 0
"""

IN_FLIGHT_HOLD = 0.5
"""How far ahead of its stamp a send in flight counts, until ``sent`` gives its end:
covers a request still on its way when its process died (no ``sent`` comes then)."""


class Pacer:
    """One process's even grid of send times for one rule: each caller takes the next
    slot, ``interval`` after the one before (or now, after a pause), and sleeps until it.

    A slot taken and then not used (the shared limiter said wait, a cancellation) is
    simply lost: the grid only ever slows a process down."""

    __slots__ = ("_next",)

    def __init__(self) -> None:
        self._next = 0.0

    async def slot(self, interval: float) -> None:
        now = time.monotonic()
        at = max(now, self._next)
        self._next = at + interval
        if at > now:
            await asyncio.sleep(at - now)


_PACERS: weakref.WeakKeyDictionary[Redis, dict[str, Pacer]] = weakref.WeakKeyDictionary()


def pacer(redis: Redis, rule_key: str) -> Pacer:
    """The pacer of ``rule_key`` shared by every limiter of this process on ``redis``."""
    by_key = _PACERS.setdefault(redis, {})
    p = by_key.get(rule_key)
    if p is None:
        p = by_key[rule_key] = Pacer()
    return p


class RateLimiter:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._script = redis.register_script(_ACQUIRE_LUA)
        self._stamp = redis.register_script(_STAMP_LUA)
        self._sent = redis.register_script(_SENT_LUA)
        # Grants and stamps of concurrent sends share round trips (gateway.batch).
        self._batch = for_client(redis)

    def _log_key(self, rule_key: str) -> str:
        return self._keys("rate", "log", rule_key)

    def _pause_key(self, rule_key: str) -> str:
        return self._keys("rate", "pause", rule_key)

    def _grid_key(self, rule_key: str) -> str:
        return self._keys("rate", "grid", rule_key)

    async def try_acquire(self, rules: Sequence[RateRule], member: str | None = None) -> float:
        """Record one send if every rule allows it now; else return seconds to wait.

        ``member`` names the recorded send, so ``stamp`` can move it later."""
        if not rules:
            return 0.0
        keys = [self._log_key(r.key) for r in rules]
        keys += [self._pause_key(r.key) for r in rules] + [self._grid_key(r.key) for r in rules]
        args: list[str | int] = [member or secrets.token_hex(8)]
        for r in rules:
            args += [r.limit, int(r.window * 1000), 1 if r.spread else 0]
        try:
            wait_ms = await self._batch.script(self._script, keys, args)
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"rate limiter: {exc}") from exc
        return max(0.0, int(wait_ms) / 1000.0)

    async def acquire(
        self,
        rules: Sequence[RateRule],
        *,
        max_wait: float | None = None,
        member: str | None = None,
    ) -> bool:
        """Wait until one send is allowed under every rule, and record it.

        Returns ``False`` if ``max_wait`` seconds pass first (nothing is recorded then).
        """
        deadline = None if max_wait is None else time.monotonic() + max_wait
        for r in rules:
            if r.pace:
                await pacer(self._redis, r.key).slot(r.window / r.limit)
        while True:
            wait = await self.try_acquire(rules, member)
            if wait <= 0:
                return True
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                wait = min(wait, left)
            # A few ms past the computed instant, so the slot is really free on arrival.
            await asyncio.sleep(wait + 0.002)

    async def stamp(
        self, rules: Sequence[RateRule], member: str, *, until_sent: bool = False
    ) -> None:
        """Just before the request leaves: record the granted send ``member`` at the
        time now, once every window allows a send now (see the module's docstring).

        ``until_sent``: the caller calls ``sent`` when the answer comes; until then the
        send counts as in flight (``IN_FLIGHT_HOLD`` ahead of now)."""
        while True:
            wait = await self.try_stamp(rules, member, until_sent=until_sent)
            if wait <= 0:
                return
            await asyncio.sleep(wait + 0.002)

    async def try_stamp(
        self, rules: Sequence[RateRule], member: str, *, until_sent: bool = False
    ) -> float:
        """One try of ``stamp``: 0 when ``member`` now stands at the time now, else the
        seconds to wait (nothing changed then)."""
        if not rules:
            return 0.0
        keys = [self._log_key(r.key) for r in rules]
        hold = int(IN_FLIGHT_HOLD * 1000) if until_sent else 0
        args: list[str | int] = [member, hold]
        for r in rules:
            args += [r.limit, int(r.window * 1000), 1 if r.spread else 0]
        try:
            wait_ms = int(await self._batch.script(self._stamp, keys, args))
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"rate limiter: {exc}") from exc
        return max(0.0, wait_ms / 1000.0)

    async def sent(self, rules: Sequence[RateRule], member: str) -> None:
        """The answer to the send ``member`` (stamped ``until_sent``) has come: it
        reached the platform before now, so count it from now."""
        if not rules:
            return
        keys = [self._log_key(r.key) for r in rules]
        try:
            await self._batch.script(self._sent, keys, [member])
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"rate limiter: {exc}") from exc

    async def pause(self, rule_key: str, seconds: float) -> None:
        """Stop every send counting against ``rule_key`` for ``seconds`` (after a 429).

        A longer pause already in force is kept.
        """
        ms = max(1, int(seconds * 1000))
        key = self._pause_key(rule_key)
        try:
            current = await self._redis.pttl(key)
            if current is None or int(current) < ms:
                await self._redis.set(key, "1", px=ms)
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"rate limiter: {exc}") from exc

    async def paused_for(self, rule_key: str) -> float:
        try:
            ms = await self._redis.pttl(self._pause_key(rule_key))
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"rate limiter: {exc}") from exc
        return max(0.0, int(ms) / 1000.0)
