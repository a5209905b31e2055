"""Tickets by chat: the index that lets a scope read only its own tickets.

Layout (under ``Keys``)::

    tickets:target:<target>   set     ids of the tickets opened in that chat (the ticket
                                      Lua adds each new ticket in the same atomic step)
    tickets:target:ready      string  set once every older ticket is in its chat's set
    tmp:scope:<random>:*      temporary unions and intersections, deleted after use
                              (and expiring on their own should the process die)

A scope is a set of chats. Its tickets are the union of those chats' sets, intersected
in Redis with the index being read (a status, a kind, an age index), so a scoped page
or figure costs about what the tickets inside the scope cost: it never scans the
whole queue. Redis computes the unions and intersections; Python sees only results.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from types import TracebackType
from typing import Any

from redis.asyncio import Redis

from gateway.keys import Keys

__all__ = ["ScopedIndexes", "ensure_index", "target_key", "walk_scope"]

CHUNK = 1000
COUNT_CHUNK = 5000  # tickets one counting script reads: it never blocks Redis for long

# Counts a field's values over a slice of a sorted set of ticket ids, inside Redis:
# the ids and fields never travel to Python. KEYS[1] the set; ARGV prefix, field,
# start, stop. Returns a flat list value, count, value, count, ...
_COUNT_FIELD = """
local counts = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], ARGV[3], ARGV[4])) do
  local v = redis.call('HGET', ARGV[1] .. 'ticket:' .. id, ARGV[2])
  if v then counts[v] = (counts[v] or 0) + 1 end
end
local out = {}
for v, n in pairs(counts) do
  table.insert(out, v)
  table.insert(out, n)
end
return out
"""
TMP_TTL = 60  # seconds: a temporary key outlives a crashed reader by at most this


# Reads an index in order from a cursor and keeps the tickets whose chat is one of
# ARGV[7..], up to ARGV[5] of them, looking at ARGV[6] entries at most. KEYS[1] the
# index; ARGV: prefix, after score ('' for the start), after member, -, want, budget,
# the chats. Returns {flat member, score, ...; 1 if the page is complete (full, or the
# index ended), 0 if the budget ran out first}. One round trip; a wide scope fills a
# page after a few entries.
_WALK = """
local P, want, budget = ARGV[1], tonumber(ARGV[5]), tonumber(ARGV[6])
local allowed = {}
for i = 7, #ARGV do allowed[ARGV[i]] = true end
local after = tonumber(ARGV[2])
local start = 0
if after then start = redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. ARGV[2]) end
local out, kept, seen = {}, 0, 0
while seen < budget do
  local rows = redis.call('ZRANGE', KEYS[1], start, start + 199, 'WITHSCORES')
  if #rows == 0 then return {out, 1} end
  for i = 1, #rows, 2 do
    local m, s = rows[i], rows[i + 1]
    seen = seen + 1
    if not (after and tonumber(s) == after and m <= ARGV[3]) then
      local t = redis.call('HGET', P .. 'ticket:' .. m, 'target')
      if t and allowed[t] then
        table.insert(out, m)
        table.insert(out, s)
        kept = kept + 1
        if kept >= want then return {out, 1} end
      end
    end
  end
  start = start + 200
end
return {out, 0}
"""
WALK_BUDGET = 2000  # entries: a scope holding at least 1 in 40 tickets fills a page


async def walk_scope(
    redis: Redis,
    keys: Keys,
    index: str,
    targets: Collection[str],
    after: tuple[float, str] | None,
    want: int,
) -> list[tuple[str, float]] | None:
    """The first ``want`` entries of ``index`` after ``after`` whose chat is in ``targets``,
    or None when that takes more than ``WALK_BUDGET`` entries (use ``ScopedIndexes``)."""
    if not targets:
        return []
    score, member = (repr(after[0]), after[1]) if after else ("", "")
    args: list[str | int] = [keys.prefix, score, member, "", want, WALK_BUDGET, *targets]
    found: Any = await redis.register_script(_WALK)(keys=[index], args=args)
    flat, complete = found
    if not int(complete):
        return None
    return [(str(flat[i]), float(flat[i + 1])) for i in range(0, len(flat), 2)]


def target_key(keys: Keys, target: str) -> str:
    return keys("tickets", "target", target)


async def ensure_index(redis: Redis, keys: Keys) -> None:
    """Put tickets made before the index existed into their chats' sets, once.

    Safe to run from several processes at once (``SADD`` is idempotent), and new
    tickets are indexed by the ticket Lua meanwhile, so none is missed.
    """
    ready = keys("tickets", "target", "ready")
    if await redis.exists(ready):
        return
    start = 0
    while True:
        ids = [
            str(i)
            for i in await redis.zrange(keys("tickets", "idx", "all"), start, start + CHUNK - 1)
        ]
        if not ids:
            break
        pipe = redis.pipeline(transaction=False)
        for tid in ids:
            pipe.hget(keys("ticket", tid), "target")
        targets = await pipe.execute()
        pipe = redis.pipeline(transaction=False)
        for tid, target in zip(ids, targets, strict=True):
            if target:
                pipe.sadd(target_key(keys, str(target)), tid)
        await pipe.execute()
        start += CHUNK
    await redis.set(ready, "1")


class ScopedIndexes:
    """``async with ScopedIndexes(redis, keys, chats) as s: await s.narrow(index, ...)``."""

    def __init__(self, redis: Redis, keys: Keys, targets: Collection[str]) -> None:
        self._r = redis
        self._k = keys
        self._targets = sorted(set(targets))
        self._base = keys("tmp", "scope", secrets.token_hex(8))
        self._union = self._base + ":union"
        self._made: list[str] = [self._union]

    async def __aenter__(self) -> ScopedIndexes:
        await ensure_index(self._r, self._k)
        for start in range(0, len(self._targets), CHUNK):
            sets = [target_key(self._k, t) for t in self._targets[start : start + CHUNK]]
            pipe = self._r.pipeline(transaction=True)
            pipe.sunionstore(self._union, [self._union, *sets])
            pipe.expire(self._union, TMP_TTL)
            await pipe.execute()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._r.delete(*self._made)

    async def narrow(self, *indexes: str) -> list[tuple[str, int]]:
        """Each sorted-set index restricted to the scope's tickets, scores kept:
        ``(temporary key, how many)`` per index, in one round trip."""
        pipe = self._r.pipeline(transaction=False)
        out: list[str] = []
        for index in indexes:
            key = f"{self._base}:{len(self._made)}"
            self._made.append(key)
            out.append(key)
            # Weight 0 on the union (a plain set, score 1) keeps the index's scores.
            pipe.zinterstore(key, {index: 1, self._union: 0})
            pipe.expire(key, TMP_TTL)
        res: Any = await pipe.execute()
        return [(key, int(res[2 * i])) for i, key in enumerate(out)]

    async def count_field(self, key: str, size: int, field: str) -> dict[str, int]:
        """How many tickets of the narrowed ``key`` (``size`` members) have each value
        of ``field``, counted in Redis in slices of ``COUNT_CHUNK``."""
        script = self._r.register_script(_COUNT_FIELD)
        counts: dict[str, int] = {}
        for start in range(0, size, COUNT_CHUNK):
            stop = start + COUNT_CHUNK - 1
            flat: Any = await script(keys=[key], args=[self._k.prefix, field, start, stop])
            for i in range(0, len(flat), 2):
                counts[str(flat[i])] = counts.get(str(flat[i]), 0) + int(flat[i + 1])
        return counts
