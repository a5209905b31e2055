"""The receive loop: ``/sync`` -> normalise -> durable sink -> only then save ``since``.

At-least-once by construction: a crash anywhere before the token is saved makes the
next start fetch the same batch again, and the sink drops what it already holds
(dedupe key = ``event_id``). A ``limited`` timeline is paged back with ``/messages``
from its ``prev_batch`` to the previous ``since`` so a long downtime skips nothing.
The very first start (no token) registers the rooms the bot is in and stores the
token without turning their old history into tickets.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import nio
from redis.asyncio import Redis
from redis.exceptions import RedisError

from adapters.matrix.client import get_json, room_path, text
from adapters.matrix.decrypt import Decryptor
from adapters.matrix.invites import join
from adapters.matrix.messages import PLATFORM
from adapters.matrix.normalize import Backfill, normalize_sync, room_events
from adapters.matrix.pending import Pending
from adapters.matrix.rooms import AutoJoin, Me, RoomInfo, encrypted_reason
from gateway import metrics
from gateway.adapter import InboundSink
from gateway.aio import checkpoint
from gateway.errors import (
    GatewayError,
    NetworkError,
    PermanentError,
    RetryableError,
    StoreUnavailable,
)
from gateway.keys import Keys
from gateway.models import InboundEvent, InboundMessage, TargetSeen, make_target_id

log = logging.getLogger(__name__)

TIMELINE_LIMIT = 50
"""Events per room per sync; beyond it the timeline is ``limited`` and we backfill."""
BACKFILL_PAGE = 100
BACKFILL_MAX_PAGES = 100
"""At most 10,000 missed events per room per batch are fetched back (bounded memory)."""
_TYPES = [
    "m.room.message",
    "m.reaction",
    "m.poll.response",
    "org.matrix.msc3381.poll.response",
    "m.room.member",
    "m.room.name",
    "m.room.encryption",
    "m.room.encrypted",
]
SYNC_FILTER = json.dumps(
    {
        "presence": {"not_types": ["*"]},
        "account_data": {"not_types": ["*"]},
        "room": {
            "timeline": {"limit": TIMELINE_LIMIT, "types": _TYPES},
            "state": {"types": _TYPES, "lazy_load_members": True},
            "ephemeral": {"not_types": ["*"]},
            "account_data": {"not_types": ["*"]},
        },
    },
    separators=(",", ":"),
)
_MESSAGES_FILTER = json.dumps({"types": _TYPES, "lazy_load_members": True})


class Backoff:
    """Capped exponential backoff with jitter, so errors never spin."""

    def __init__(self, first: float = 0.5, cap: float = 30.0) -> None:
        self._first, self._cap, self._n = first, cap, 0

    def next(self) -> float:
        delay = min(self._cap, self._first * (2**self._n))
        self._n = min(self._n + 1, 16)
        return float(delay * random.uniform(0.8, 1.2))

    def reset(self) -> None:
        self._n = 0


class SyncState:
    """``since`` and the known room facts, in Redis."""

    def __init__(self, redis: Redis, keys: Keys, user_id: str) -> None:
        self._redis = redis
        self._since = keys("matrix", user_id, "since")
        self._rooms = keys("matrix", user_id, "rooms")

    @property
    def rooms_key(self) -> str:
        return self._rooms

    async def load(self) -> tuple[str | None, dict[str, RoomInfo]]:
        try:
            since = await self._redis.get(self._since)
            raw = await self._redis.hgetall(self._rooms)
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"matrix sync state: {exc}") from exc
        rooms: dict[str, RoomInfo] = {}
        for room_id, blob in raw.items():
            try:
                rooms[text(room_id)] = RoomInfo(**json.loads(blob))
            except (ValueError, TypeError):
                log.warning("matrix: dropping unreadable room facts for %s", room_id)
        return (text(since) if since is not None else None), rooms

    async def save(self, since: str, rooms: Mapping[str, RoomInfo]) -> None:
        """Room facts and the token in one transaction: both or neither."""
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                if rooms:
                    pipe.hset(
                        self._rooms,
                        mapping={k: json.dumps(asdict(v)) for k, v in rooms.items()},
                    )
                pipe.set(self._since, since)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"matrix sync state: {exc}") from exc


class SyncLoop:
    def __init__(
        self,
        client: nio.AsyncClient,
        me: Me,
        state: SyncState,
        sink: InboundSink,
        *,
        auto_join: AutoJoin,
        timeout_ms: int,
        decryptor: Decryptor | None = None,
    ) -> None:
        self._client = client
        self._decryptor = decryptor
        """Only on the process that owns the device (and its crypto store)."""
        self._me = me
        self._state = state
        self._sink = sink
        self._auto_join = auto_join
        self._timeout_ms = timeout_ms
        self._rooms: dict[str, RoomInfo] = {}
        self._since: str | None = None
        self._loaded = False

    async def run(self) -> None:
        """Sync until cancelled. Every failure waits (backoff or the server's delay)."""
        backoff = Backoff()
        while True:
            checkpoint()
            try:
                await self.step()
            except RetryableError as exc:
                if isinstance(exc, NetworkError) or exc.code == "unavailable":
                    metrics.PLATFORM_UP.labels(platform="matrix").set(0)
                delay = max(exc.retry_after or 0.0, backoff.next())
                log.warning("matrix sync: %s; retrying in %.1fs", exc.message, delay)
                await asyncio.sleep(delay)
            except GatewayError as exc:
                log.error("matrix sync: %s; retrying", exc.message)
                await asyncio.sleep(backoff.next())
            except Exception:
                # A bug must not stop receiving for good, nor spin.
                log.exception("matrix sync: unexpected error; retrying")
                await asyncio.sleep(backoff.next())
            else:
                backoff.reset()

    async def step(self) -> int:
        """One sync round; returns how many new events went to the sink."""
        if not self._loaded:
            self._since, self._rooms = await self._state.load()
            self._loaded = True
        since = self._since
        body = await self._sync(since)
        next_batch = body.get("next_batch")
        if not isinstance(next_batch, str) or not next_batch:
            raise RetryableError("matrix sync: answer without next_batch", retry_after=5.0)
        metrics.PLATFORM_UP.labels(platform="matrix").set(1)
        dec = self._decryptor
        waiting: list[Pending] = []
        if dec is not None:
            await dec.crypto.absorb(body)
            if since is not None:
                if dec.retry_due(body):
                    await self._retry_undecrypted(dec)
                body, waiting = dec.clear_body(body)
        batch = normalize_sync(body, self._me, self._rooms, self._auto_join)
        events: list[InboundEvent] = []
        if since is None:
            # Invited rooms register once the join shows up in a later sync.
            joined = {k: v for k, v in batch.rooms.items() if k not in batch.joins}
            events = self._initial_targets(joined)
        else:
            for bf in batch.backfills:
                # A room joined in this batch has no earlier position of ours: what
                # came before the join is history, not news.
                if bf.room_id in self._rooms:
                    events += await self._backfill(bf, since, waiting)
            events += batch.events
        rooms = {**self._rooms, **batch.rooms}
        for room_id in batch.joins:
            await self._join(room_id)
        added = await self._sink.accept(events) if events else 0
        self._count(events)
        if dec is not None:
            await dec.keep(waiting)  # durable before the token moves past them
        # Only now, with the batch durable, does the server's position move on.
        await self._state.save(next_batch, batch.rooms)
        self._since, self._rooms = next_batch, rooms
        return added

    @staticmethod
    def _count(events: list[InboundEvent]) -> None:
        for ev in events:
            if isinstance(ev, InboundMessage):
                metrics.INBOUND.labels(platform="matrix", kind=ev.chat_kind.value).inc()

    async def _retry_undecrypted(self, dec: Decryptor) -> None:
        """Kept events whose key has arrived: to the sink, then out of the kept set."""
        done = await dec.retry()
        if not done:
            return
        events: list[InboundEvent] = []
        for p, clear in done:
            info = self._rooms.get(p.room_id, RoomInfo())
            events += room_events(p.room_id, [clear], self._me, info)[0]
        if events:
            await self._sink.accept(events)
            self._count(events)
        await dec.pending.remove([p.event_id for p, _ in done])
        log.info("matrix e2e: %d kept event(s) decrypted at last", len(done))

    async def _sync(self, since: str | None) -> dict[str, Any]:
        params: dict[str, str | int] = {"filter": SYNC_FILTER, "set_presence": "offline"}
        if since:
            params["since"] = since
            params["timeout"] = self._timeout_ms
        else:
            params["timeout"] = 0
        http_timeout = self._timeout_ms / 1000 + 15
        try:
            # Our own bound around the whole call: a stalled connection cannot hang us.
            async with asyncio.timeout(http_timeout + 5):
                return await get_json(
                    self._client, "/sync", params, timeout=http_timeout, action="sync"
                )
        except TimeoutError as exc:
            raise NetworkError("matrix sync: timed out") from exc

    def _initial_targets(self, rooms: Mapping[str, RoomInfo]) -> list[InboundEvent]:
        return [
            TargetSeen(
                make_target_id(PLATFORM, room_id),
                info.kind,
                info.title,
                encrypted_reason(self._me) if info.encrypted else None,
            )
            for room_id, info in rooms.items()
        ]

    async def _backfill(
        self, bf: Backfill, since: str, waiting: list[Pending]
    ) -> list[InboundEvent]:
        """Events the server left out of a ``limited`` timeline, oldest first."""
        raw: list[Mapping[str, Any]] = []
        token = bf.prev_batch
        for _ in range(BACKFILL_MAX_PAGES):
            params: dict[str, str | int] = {
                "dir": "b",
                "from": token,
                "to": since,
                "limit": BACKFILL_PAGE,
                "filter": _MESSAGES_FILTER,
            }
            page = await get_json(
                self._client,
                room_path(bf.room_id, "messages"),
                params,
                timeout=30,
                action="backfill",
            )
            chunk = page.get("chunk")
            if not isinstance(chunk, list) or not chunk:
                break
            raw += [e for e in chunk if isinstance(e, Mapping)]
            end = page.get("end")
            if not isinstance(end, str) or end == token:
                break
            token = end
        else:
            log.warning("matrix: backfill of %s stopped after %d pages", bf.room_id, len(raw))
        raw.reverse()
        if self._decryptor is not None:
            raw, pend = self._decryptor.clear_events(bf.room_id, raw)
            waiting += pend
        info = self._rooms.get(bf.room_id, RoomInfo())
        events, _ = room_events(bf.room_id, raw, self._me, info)
        log.info("matrix: backfilled %d events in %s", len(raw), bf.room_id)
        return events

    async def _join(self, room_id: str) -> None:
        try:
            await join(self._client, room_id)
        except PermanentError as err:
            # The invite was withdrawn or the room is gone: nothing to retry.
            log.warning("matrix: cannot join %s: %s", room_id, err.message)
            return
        log.info("matrix: joined %s", room_id)
