"""Polls in Redis.

Layout (under ``Keys``)::

    poll:seq                         counter  P-<n>
    poll:<id>                        hash     question, options (JSON), state, closes_at, ...
    poll:<id>:targets                set      the chats it went to (its audience)
    poll:<id>:votes                  hash     resident -> {"o": [options], "at", "p", "t", "n"}
    poll:<id>:seen                   set      platform update ids already counted
    poll:<id>:stats                  hash     counted, changed, retracted, outside, late, stale
    poll:<id>:comments               hash     update id -> comment JSON (replies to the poll)
    poll:ref:<platform>:<ref>        string   "<id> <target>": the poll a native poll id is
    polls                            zset     ids by number, for listing
    polls:closing                    zset     open ids by closing time

A vote is one script call: it adds the update id to ``seen`` and applies the vote in
the same atomic step, so a vote replayed after ``kill -9`` finds its id and changes
nothing, and every vote is counted exactly once.
"""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis

from gateway.keys import Keys
from gateway.polls.model import Poll, PollId

# KEYS: poll, votes, seen, stats, targets
# ARGV: update id, resident, target, options JSON ("[]": retract), sent_at, record JSON
_VOTE_LUA = """
if redis.call('SADD', KEYS[3], ARGV[1]) == 0 then return 'duplicate' end
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 'unknown' end
local closes = tonumber(redis.call('HGET', KEYS[1], 'closes_at') or '')
if state ~= 'open' or (closes and tonumber(ARGV[5]) > closes) then
  redis.call('HINCRBY', KEYS[4], 'late', 1)
  return 'late'
end
if redis.call('SISMEMBER', KEYS[5], ARGV[3]) == 0 then
  redis.call('HINCRBY', KEYS[4], 'outside', 1)
  return 'outside'
end
local cur = redis.call('HGET', KEYS[2], ARGV[2])
if cur and tonumber(cjson.decode(cur)['at']) > tonumber(ARGV[5]) then
  redis.call('HINCRBY', KEYS[4], 'stale', 1)
  return 'stale'
end
if ARGV[4] == '[]' then
  if cur then
    redis.call('HDEL', KEYS[2], ARGV[2])
    redis.call('HINCRBY', KEYS[4], 'retracted', 1)
    return 'retracted'
  end
  return 'nothing'
end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[6])
if cur then
  redis.call('HINCRBY', KEYS[4], 'changed', 1)
  return 'changed'
end
redis.call('HINCRBY', KEYS[4], 'counted', 1)
return 'counted'
"""

# KEYS: poll, closing; ARGV: id, now. 1 when this call closed it.
_CLOSE_LUA = """
if redis.call('HGET', KEYS[1], 'state') ~= 'open' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'closed', 'closed_at', ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""


class PollStore:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._vote = redis.register_script(_VOTE_LUA)
        self._close = redis.register_script(_CLOSE_LUA)

    def key(self, poll_id: str, *parts: str) -> str:
        return self.keys("poll", poll_id, *parts)

    async def next_id(self) -> PollId:
        return PollId(f"P-{await self.redis.incr(self.keys('poll', 'seq'))}")

    async def get(self, poll_id: str) -> Poll | None:
        h: Any = await self.redis.hgetall(self.key(poll_id))
        return Poll.from_hash(poll_id, {str(k): str(v) for k, v in h.items()}) if h else None

    async def recent(self, limit: int = 50) -> list[Poll]:
        ids: Any = await self.redis.zrevrange(self.keys("polls"), 0, limit - 1)
        polls = [await self.get(str(i)) for i in ids]
        return [p for p in polls if p is not None]

    async def targets(self, poll_id: str) -> set[str]:
        return {str(t) for t in await self.redis.smembers(self.key(poll_id, "targets"))}

    async def due(self, now: float) -> list[str]:
        ids: Any = await self.redis.zrangebyscore(self.keys("polls", "closing"), 0, now)
        return [str(i) for i in ids]

    async def recent_ids(self, limit: int = 200) -> list[str]:
        ids: Any = await self.redis.zrevrange(self.keys("polls"), 0, limit - 1)
        return [str(i) for i in ids]

    async def close(self, poll_id: str, now: float) -> bool:
        keys = [self.key(poll_id), self.keys("polls", "closing")]
        return bool(await self._close(keys=keys, args=[poll_id, repr(now)]))

    async def vote(
        self,
        poll_id: str,
        *,
        update_id: str,
        resident: str,
        target: str,
        options: tuple[int, ...],
        sent_at: float,
        name: str,
    ) -> str:
        """Apply one vote; the outcome: counted, changed, retracted, nothing, late,
        outside, stale (an older vote than the one held) or duplicate."""
        platform = resident.partition(":")[0]
        record = {"o": list(options), "at": sent_at, "p": platform, "t": target, "n": name}
        keys = [
            self.key(poll_id),
            self.key(poll_id, "votes"),
            self.key(poll_id, "seen"),
            self.key(poll_id, "stats"),
            self.key(poll_id, "targets"),
        ]
        args = [update_id, resident, target, json.dumps(list(options)), repr(sent_at),
                json.dumps(record, ensure_ascii=False)]  # fmt: skip
        return str(await self._vote(keys=keys, args=args))

    async def votes(self, poll_id: str) -> dict[str, dict[str, Any]]:
        raw: Any = await self.redis.hgetall(self.key(poll_id, "votes"))
        return {str(k): json.loads(v) for k, v in raw.items()}

    async def voter_count(self, poll_id: str) -> int:
        return int(await self.redis.hlen(self.key(poll_id, "votes")))

    async def stats(self, poll_id: str) -> dict[str, int]:
        raw: Any = await self.redis.hgetall(self.key(poll_id, "stats"))
        return {str(k): int(v) for k, v in raw.items()}

    async def add_comment(self, poll_id: str, update_id: str, comment: dict[str, Any]) -> None:
        body = json.dumps(comment, ensure_ascii=False)
        await self.redis.hsetnx(self.key(poll_id, "comments"), update_id, body)

    async def comments(self, poll_id: str) -> list[dict[str, Any]]:
        raw: Any = await self.redis.hgetall(self.key(poll_id, "comments"))
        return sorted((json.loads(v) for v in raw.values()), key=lambda c: c.get("at", 0))

    # --- native poll handles -------------------------------------------------
    def ref_key(self, platform: str, ref: str) -> str:
        return self.keys("poll", "ref", platform, ref)

    async def ref(self, platform: str, ref: str) -> tuple[str, str] | None:
        raw = await self.redis.get(self.ref_key(platform, ref))
        if not raw:
            return None
        poll_id, _, target = str(raw).partition(" ")
        return poll_id, target

    async def set_ref(self, platform: str, ref: str, poll_id: str, target: str) -> None:
        await self.redis.set(self.ref_key(platform, ref), f"{poll_id} {target}")
