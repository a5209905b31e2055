"""Edits of encrypted-room messages, asked of the device owner by any other process.

Sends reach the owner through the outbox (its own stream partition). An edit is not
a delivery: ``palm announcements edit`` (or an API call landing on a process that
does not own the device) runs it at once and waits for the result. So the asking
process puts the request on a Redis list, and the owner (``serve``) runs it with its
crypto and answers on a reply list. A request carries a deadline; one the asker gave
up on is dropped, never applied late. The edit's transaction id is deterministic, so
an asker that retries after a lost answer cannot make a second edit event.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.aio import checkpoint
from gateway.errors import NotPossible, PermanentError, RetryableError, StoreUnavailable
from gateway.keys import Keys
from gateway.models import OutboundMessage, PlatformMessageId, TargetId

log = logging.getLogger(__name__)

WAIT = 60.0
"""How long an asker waits for the owner's answer."""
POLL = 1.0
"""BLPOP timeout per round: below the Redis client's socket timeout."""

EditFn = Callable[[TargetId, Sequence[PlatformMessageId], OutboundMessage], Awaitable[None]]


class OwnerRelay:
    def __init__(self, redis: Redis, keys: Keys, user_id: str) -> None:
        self._redis = redis
        self._queue = keys("matrix", user_id, "owner-requests")

    async def ask_edit(
        self,
        target: TargetId,
        message_ids: Sequence[PlatformMessageId],
        msg: OutboundMessage,
        *,
        wait: float = WAIT,
    ) -> None:
        req_id = secrets.token_hex(8)
        reply = f"{self._queue}:{req_id}"
        request = {
            "id": req_id,
            "deadline": time.time() + wait,
            "target": target,
            "message_ids": list(message_ids),
            "text": msg.text,
            "title": msg.title,
            "plain": msg.plain,
            "idempotency_key": msg.idempotency_key,
        }
        try:
            await self._redis.rpush(self._queue, json.dumps(request))
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                got = await self._redis.blpop([reply], timeout=POLL)
                if got is not None:
                    break
            else:
                raise RetryableError(
                    "matrix: no palm process owns the Matrix device to edit in an encrypted"
                    " room (is palm run up?)",
                    retry_after=5.0,
                )
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"matrix owner relay: {exc}") from exc
        answer = json.loads(got[1])
        if answer.get("ok"):
            return
        message = str(answer.get("message") or "the owner could not edit")
        if answer.get("kind") == "permanent":
            raise NotPossible(message)
        raise RetryableError(message, retry_after=2.0)

    async def serve(self, edit: EditFn) -> None:
        """On the owner, until cancelled: run the edits other processes ask for."""
        while True:
            checkpoint()
            try:
                got = await self._redis.blpop([self._queue], timeout=POLL)
            except (RedisError, OSError) as exc:
                log.warning("matrix owner relay: %s", exc)
                await asyncio.sleep(POLL)
                continue
            if got is not None:
                await self._one(got[1], edit)

    async def _one(self, raw: str | bytes, edit: EditFn) -> None:
        try:
            req = json.loads(raw)
            reply = f"{self._queue}:{req['id']}"
            if float(req["deadline"]) < time.time():
                return  # the asker gave up: never apply it late
            msg = OutboundMessage(
                TargetId(req["target"]),
                str(req["text"]),
                str(req["idempotency_key"]),
                title=req.get("title"),
                plain=bool(req.get("plain")),
            )
            ids = [PlatformMessageId(i) for i in req["message_ids"]]
        except (ValueError, KeyError, TypeError):
            log.warning("matrix owner relay: dropping an unreadable request")
            return
        answer: dict[str, object] = {"ok": True}
        try:
            await edit(msg.target, ids, msg)
        except PermanentError as exc:
            answer = {"ok": False, "kind": "permanent", "message": exc.message}
        except RetryableError as exc:
            answer = {"ok": False, "kind": "retry", "message": exc.message}
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.rpush(reply, json.dumps(answer))
                pipe.expire(reply, int(WAIT) * 2)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("matrix owner relay: cannot answer: %s", exc)
