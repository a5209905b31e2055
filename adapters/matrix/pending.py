"""Encrypted events palm could not decrypt yet, kept durably until their key arrives.

The sync loop writes them here *before* it saves the new ``since`` token: the token
may move past an undecrypted event only because the event itself is safe in Redis.
Each later sync retries them (a room key may have come in as a to-device message)
and asks for the missing keys; a decrypted one goes to the sink, then leaves here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.errors import StoreUnavailable
from gateway.keys import Keys

log = logging.getLogger(__name__)

MAX_PENDING_PER_RETRY = 500
"""Events retried per sync round (bounded work when thousands wait for keys)."""


@dataclass(frozen=True, slots=True)
class Pending:
    room_id: str
    event: Mapping[str, Any]

    @property
    def event_id(self) -> str:
        return str(self.event.get("event_id", ""))


class PendingStore:
    def __init__(self, redis: Redis, keys: Keys, user_id: str) -> None:
        self._redis = redis
        self._key = keys("matrix", user_id, "undecrypted")

    async def add(self, items: Sequence[Pending]) -> int:
        """Store them; returns how many were new (a re-fetched batch adds nothing)."""
        if not items:
            return 0
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                for p in items:
                    blob = json.dumps({"room_id": p.room_id, "event": p.event})
                    pipe.hsetnx(self._key, p.event_id, blob)
                added = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"matrix undecrypted events: {exc}") from exc
        return sum(1 for a in added if a)

    async def load(self, limit: int = MAX_PENDING_PER_RETRY) -> list[Pending]:
        try:
            found: list[Pending] = []
            async for _, blob in self._redis.hscan_iter(self._key, count=100):
                try:
                    data = json.loads(blob)
                    found.append(Pending(str(data["room_id"]), dict(data["event"])))
                except (ValueError, KeyError, TypeError):
                    log.warning("matrix: unreadable undecrypted event kept as is")
                if len(found) >= limit:
                    break
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"matrix undecrypted events: {exc}") from exc
        return found

    async def count(self) -> int:
        try:
            return int(await self._redis.hlen(self._key))
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"matrix undecrypted events: {exc}") from exc

    async def remove(self, event_ids: Sequence[str]) -> None:
        if not event_ids:
            return
        try:
            await self._redis.hdel(self._key, *event_ids)
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"matrix undecrypted events: {exc}") from exc
