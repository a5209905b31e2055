"""Retention: the per-chat delivery records of old announcements (``outbox.keep_days``).

Every delivery keeps its hash (``outbox:d:<id>``, about 0.6 KB: target, body reference,
state, message ids, times) and its place in the announcement's origin set for ever: a
100,000-chat paid broadcast leaves about 70 MB in Redis, and a season of them fills the
server. With ``keep_days`` set, an announcement created more than that many days ago
whose deliveries are all final (nothing queued; done, edited or recalled) loses them.
What stays: its hash (text, audience, status), the counts by platform and state, the
targets it reached (scope checks and the confirmation roll-up read them), the replies.
It is marked ``pruned_at``; edit and recall then refuse with a clear 409, as they need
each chat's message ids.

One process prunes at a time (a lock with a deadline), once an hour. Each chunk is one
Lua step (``SPOP`` a few hundred ids from the origin set, delete their hashes), so a
crash leaves neither a hash without its set member nor the reverse; the announcement is
marked only after its set is empty, and the next pass finishes one left half done.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from redis.exceptions import RedisError

from gateway import announcements
from gateway.aio import checkpoint
from gateway.errors import RetryableError
from gateway.outbox import OutboxStore
from gateway.runtime import Runtime

log = logging.getLogger("palm.retention")

EVERY = 3600.0
LOCK_SECONDS = 3000
CHUNK = 500
_FINAL = (announcements.DONE, announcements.EDITED, announcements.RECALLED)

# KEYS[1] the origin set; ARGV[1] the key prefix, ARGV[2] how many ids at most.
_PRUNE_LUA = """
local ids = redis.call('SPOP', KEYS[1], tonumber(ARGV[2]))
for _, id in ipairs(ids) do redis.call('DEL', ARGV[1] .. 'outbox:d:' .. id) end
return #ids
"""


async def prune_once(rt: Runtime, now: float | None = None) -> int:
    """Prune what is due; the number of announcements pruned (0 when another process
    holds the lock or ``keep_days`` is 0)."""
    days = rt.config.outbox.keep_days
    if days <= 0:
        return 0
    now = time.time() if now is None else now
    lock = rt.keys("retention", "lock")
    if not await rt.redis.set(lock, rt.instance, nx=True, ex=LOCK_SECONDS):
        return 0
    try:
        return await _prune_before(rt, now - days * 86400, now)
    finally:
        await rt.redis.delete(lock)


async def _prune_before(rt: Runtime, cutoff: float, now: float) -> int:
    script: Any = rt.redis.register_script(_PRUNE_LUA)
    store = OutboxStore(rt)
    pruned = 0
    # Oldest first (ids grow with time): stop at the first one too young.
    for raw_id in await rt.redis.zrange(rt.keys("announcements"), 0, -1):
        ann = await announcements.get(rt, str(raw_id))
        if ann.created_at > cutoff:
            break
        if ann.pruned_at is not None or ann.status not in _FINAL:
            continue
        counts = await store.counts(announcements.ORIGIN, ann.id)
        if any(c.get("queued", 0) for c in counts.values()):
            continue  # edited while some were still queued: not out yet
        origin = rt.keys("outbox", "origin", announcements.ORIGIN, ann.id)
        while await script(keys=[origin], args=[rt.keys.prefix, CHUNK]):
            checkpoint()
        await rt.redis.hset(rt.keys("announcement", ann.id), "pruned_at", repr(now))
        pruned += 1
    return pruned


async def run_prune(rt: Runtime) -> None:
    """The ``retention`` component of ``palm run``: idle when ``keep_days`` is 0."""
    while True:
        checkpoint()
        try:
            if n := await prune_once(rt):
                log.info("pruned old announcements' delivery records", extra={"count": n})
        except (RetryableError, RedisError, OSError) as exc:
            checkpoint()
            log.warning("retention: redis trouble", extra={"error": str(exc)})
        await asyncio.sleep(EVERY)
