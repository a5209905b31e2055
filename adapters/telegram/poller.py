"""Long polling with the offset in Redis: an update is confirmed only once it is durable.

One round: ``getUpdates(offset)`` -> ``normalize`` -> ``sink.accept`` (durable, deduped
by update id) -> store ``offset = last update_id + 1`` in Redis (only while this process
still holds the lease) -> the next ``getUpdates(offset)`` confirms the batch to
Telegram. A crash anywhere before the offset is stored means the batch is fetched
again and the sink drops what it already has; ignored updates are confirmed too.

``update_id`` jumps: Telegram numbers the first update after a quiet week randomly, so
it may be lower than the stored offset, and sending that stale offset would make
Telegram drop it. An offset older than ``STALE_OFFSET_SECONDS`` is therefore not sent;
the first poll then takes whatever Telegram still holds (it keeps unconfirmed updates
at most 24 h, and the sink's dedupe covers any repeat).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping, Sequence
from typing import Any

import telegram.error as tg
from redis.asyncio import Redis
from redis.exceptions import RedisError
from telegram import Bot

from adapters.telegram.errors import retry_after_seconds
from adapters.telegram.lease import Lease
from adapters.telegram.normalize import BotIdentity, normalize
from gateway.adapter import InboundSink
from gateway.aio import checkpoint
from gateway.errors import StoreUnavailable
from gateway.metrics import INBOUND, PLATFORM_UP
from gateway.models import InboundEvent, InboundMessage

log = logging.getLogger(__name__)

ALLOWED_UPDATES = (
    "message",
    "edited_message",
    "my_chat_member",
    "callback_query",
    "poll_answer",
)
STALE_OFFSET_SECONDS = 6 * 24 * 3600
READ_SLACK = 2.0
"""HTTP read timeout beyond the server-side long-poll timeout."""
MAX_BACKOFF = 30.0
CONFLICT_LOG_EVERY = 60.0

# Store the offset only while the lease is ours (a fence against a late ex-holder).
_COMMIT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], 'offset', ARGV[2], 'at', ARGV[3])
return 1
"""


class Poller:
    def __init__(
        self,
        bot: Bot,
        me: BotIdentity,
        redis: Redis,
        offset_key: str,
        lease: Lease,
        sink: InboundSink,
        *,
        poll_timeout: int,
    ) -> None:
        self._bot = bot
        self._me = me
        self._redis = redis
        self._offset_key = offset_key
        self._lease = lease
        self._sink = sink
        # A poll must end well inside the lease (see lease.py).
        self._poll_timeout = max(0, min(poll_timeout, int(lease.ttl * 0.75 - READ_SLACK - 1)))
        self._commit = redis.register_script(_COMMIT)
        self._backoff = 0.0
        self._last_conflict_log = -CONFLICT_LOG_EVERY

    async def run(self) -> None:
        try:
            while True:
                checkpoint()
                if not await self._hold_lease():
                    await asyncio.sleep(self._lease.ttl / 4)
                    continue
                try:
                    await self._poll_while_holding()
                except StoreUnavailable as exc:
                    log.warning("telegram: Redis unavailable while polling: %s", exc.message)
                    await self._sleep_backoff()
        finally:
            await self._lease.release()

    async def _hold_lease(self) -> bool:
        try:
            if await self._lease.try_take():
                return True
        except StoreUnavailable as exc:
            log.warning("telegram: cannot take the poll lease: %s", exc.message)
            return False
        log.debug("telegram: another palm process polls this bot (%s)", await self._lease.holder())
        return False

    async def _poll_while_holding(self) -> None:
        """Poll while the lease lasts; a renewer task keeps extending it."""
        renewer = asyncio.create_task(self._renew_loop())
        try:
            offset = await self._load_offset()
            needed = self._poll_timeout + READ_SLACK + 0.5
            while self._lease.remaining() > needed:
                checkpoint()
                offset = await self._round(offset)
        finally:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)

    async def _renew_loop(self) -> None:
        while True:
            checkpoint()
            await asyncio.sleep(self._lease.ttl / 4)
            try:
                if not await self._lease.try_take():
                    log.warning("telegram: lost the poll lease; stopping to poll")
                    return
            except StoreUnavailable as exc:
                log.warning("telegram: cannot renew the poll lease: %s", exc.message)

    async def _load_offset(self) -> int | None:
        try:
            raw = await self._redis.hgetall(self._offset_key)
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"telegram offset: {exc}") from exc
        if not raw:
            return None
        if time.time() - float(raw.get("at", 0)) > STALE_OFFSET_SECONDS:
            log.info("telegram: stored offset is older than 6 days; not sending it")
            return None
        return int(raw["offset"])

    async def _round(self, offset: int | None) -> int | None:
        updates = await self._get_updates(offset)
        if not updates:
            if self._poll_timeout == 0:
                await asyncio.sleep(1.0)  # short polling: never hammer the API
            return offset
        ids = [int(u["update_id"]) for u in updates]
        if offset is not None and ids[0] != offset:
            log.info("telegram: update_id jumped from %d to %d", offset, ids[0])
        events: list[InboundEvent] = []
        for update in updates:
            events += normalize(update, self._me)
        if not await self._store(events):
            return offset  # not durable: keep the offset, fetch the batch again
        new_offset = max(ids) + 1
        await self._save_offset(new_offset)
        return new_offset

    async def _get_updates(self, offset: int | None) -> list[Mapping[str, Any]]:
        kwargs: dict[str, Any] = {
            "timeout": self._poll_timeout,
            "allowed_updates": list(ALLOWED_UPDATES),
        }
        if offset is not None:
            kwargs["offset"] = offset
        try:
            result = await self._bot.do_api_request(
                "getUpdates", api_kwargs=kwargs, read_timeout=self._poll_timeout + READ_SLACK
            )
        except tg.Conflict as exc:
            await self._on_conflict(exc)
            return []
        except tg.RetryAfter as exc:
            await asyncio.sleep(retry_after_seconds(exc))
            return []
        except tg.InvalidToken:
            log.error("telegram: the bot token was rejected; polling paused")
            PLATFORM_UP.labels(platform="telegram").set(0)
            await self._sleep_backoff()
            return []
        except tg.TelegramError as exc:
            PLATFORM_UP.labels(platform="telegram").set(0)
            log.warning("telegram: getUpdates failed (%s); retrying", type(exc).__name__)
            await self._sleep_backoff()
            return []
        PLATFORM_UP.labels(platform="telegram").set(1)
        self._backoff = 0.0
        if not isinstance(result, list):
            return []
        return [u for u in result if isinstance(u, Mapping) and _is_id(u.get("update_id"))]

    async def _on_conflict(self, exc: tg.Conflict) -> None:
        now = time.monotonic()
        if now - self._last_conflict_log >= CONFLICT_LOG_EVERY:
            self._last_conflict_log = now
            log.error(
                "telegram: 409 Conflict from getUpdates (%s). Another program polls this bot "
                "token, or a webhook is set: run only one, or delete the webhook. Backing off.",
                exc.message,
            )
        await self._sleep_backoff(floor=1.0)

    async def _sleep_backoff(self, floor: float = 0.5) -> None:
        self._backoff = min(MAX_BACKOFF, max(floor, self._backoff * 2))
        await asyncio.sleep(self._backoff * random.uniform(0.8, 1.2))

    async def _store(self, events: Sequence[InboundEvent]) -> bool:
        """True once durable; on StoreUnavailable back off and retry while we hold the lease."""
        while True:
            checkpoint()
            try:
                await self._sink.accept(events)
            except StoreUnavailable as exc:
                log.warning("telegram: cannot store updates (%s); keeping them", exc.message)
                await self._sleep_backoff()
                if self._lease.remaining() <= 0:
                    return False
                continue
            for e in events:
                if isinstance(e, InboundMessage):
                    kind = e.command.value if e.command else "message"
                    INBOUND.labels(platform="telegram", kind=kind).inc()
            return True

    async def _save_offset(self, offset: int) -> None:
        try:
            ok = await self._commit(
                keys=[self._lease.key, self._offset_key],
                args=[self._lease.value, offset, f"{time.time():.3f}"],
            )
        except (RedisError, OSError) as exc:
            # Durable already; the batch comes again and is deduped.
            log.warning("telegram: could not store the offset (%s)", type(exc).__name__)
            return
        if not ok:
            log.warning("telegram: lease lost before the offset was stored")


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
