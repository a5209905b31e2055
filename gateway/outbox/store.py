"""The outbox in Redis: streams for the work, a hash per delivery for its state.

Layout (all under ``Keys``)::

    outbox:stream:<platform>:<priority>  stream  one entry {d: delivery_id} per queued send
    outbox:d:<delivery_id>               hash    origin, target, state, reason, attempts, ...
    outbox:body:<sha256>                 string  the message body (JSON), shared by deliveries
    outbox:origin:<origin>:<origin_id>   set     the deliveries of an announcement or ticket
    outbox:counts:<origin>:<origin_id>   hash    "<platform>:<state>" -> count (progress bars)
    outbox:pending                       hash    platform -> deliveries not yet final
    outbox:deadletter                    zset    dead-lettered delivery ids by time
    outbox:dups                          hash    platform -> sends that may have gone twice
    outbox:last:<origin>:<origin_id>     string  the last ordered delivery queued (a ticket's)
    msgref:<target>:<message_id>         string  "<origin>:<origin_id>" for 60 days

Every state change is one Lua script that checks the current state first, so the
counters move exactly once per transition however many workers race.

An ordered delivery (a ticket's message) found waiting for the one queued before it is
parked at take, out of its stream, until that one is final (``lua.TAKE_LUA``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from gateway.batch import for_client, retrieved
from gateway.keys import Keys
from gateway.models import (
    OutboundMessage,
    PlatformMessageId,
    Priority,
    TargetId,
    split_target_id,
)
from gateway.outbox import lua
from gateway.outbox.body import decode_message, encode_body
from gateway.outbox.model import QUEUED, Anchor, Delivery, OutboxItem, Parked, Taken, TargetStatus
from gateway.runtime import Runtime

MSGREF_TTL_SECONDS = 60 * 24 * 3600
GROUP = "workers"
PRIORITIES = (Priority.URGENT.value, Priority.NORMAL.value)  # read order
BODY_CACHE = 64


class OutboxStore:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.redis: Redis = rt.redis
        self.keys: Keys = rt.keys
        self._enqueue = self.redis.register_script(lua.ENQUEUE_LUA)
        self._transition = self.redis.register_script(lua.TRANSITION_LUA)
        self._take = self.redis.register_script(lua.TAKE_LUA)
        self._begin = self.redis.register_script(lua.BEGIN_LUA)
        self._rebody = self.redis.register_script(lua.REBODY_LUA)
        self._settle = self.redis.register_script(lua.SETTLE_LUA)
        self._ack = self.redis.register_script(lua.ACK_LUA)
        self._batch = for_client(self.redis)
        """The calls every delivery makes (take, begin, settle) go in group commits."""
        self._bodies: dict[str, dict[str, Any]] = {}

    # --- keys ---------------------------------------------------------------
    def stream(self, platform: str, priority: str) -> str:
        return self.keys("outbox", "stream", platform, priority)

    def delivery_key(self, delivery_id: str) -> str:
        return self.keys("outbox", "d", delivery_id)

    def origin_key(self, origin: str, origin_id: str) -> str:
        return self.keys("outbox", "origin", origin, origin_id)

    def counts_key(self, origin: str, origin_id: str) -> str:
        return self.keys("outbox", "counts", origin, origin_id)

    # --- enqueue ------------------------------------------------------------
    async def prepare(self, items: Sequence[OutboxItem]) -> tuple[dict[str, str], list[str]]:
        """Store attachment bytes and bodies' JSON; return (bodies by hash, script args)."""
        bodies: dict[str, str] = {}
        args: list[str] = [self.keys.prefix, repr(time.time())]
        # An announcement's items share one body: encode and hash it (and store its
        # attachments) once, not once per chat.
        encoded: dict[tuple[object, ...], str] = {}
        for item in items:
            msg = item.message
            platform, _ = split_target_id(msg.target)
            cache_key = (msg.text, msg.title, msg.reply_to, msg.plain, msg.attachments,
                         msg.buttons, msg.thread, msg.poll, msg.stop_poll, msg.mentions,
                         item.anchor)  # fmt: skip
            sha = encoded.get(cache_key)
            if sha is None:
                body = await encode_body(self.rt, msg, item.anchor)
                sha = encoded[cache_key] = hashlib.sha256(body.encode()).hexdigest()
                bodies[sha] = body
            args += [
                item.delivery_id,
                item.origin,
                item.origin_id,
                msg.target,
                platform,
                msg.priority.value,
                sha,
                msg.idempotency_key,
                "1" if item.ordered else "",
            ]
        return bodies, args

    async def add_to(self, pipe: Pipeline, bodies: dict[str, str], args: list[str]) -> None:
        """Queue the atomic enqueue on ``pipe`` (a MULTI), e.g. next to an announcement."""
        for sha, body in bodies.items():
            pipe.set(self.keys("outbox", "body", sha), body, nx=True)
        await self._enqueue(keys=[], args=args, client=pipe)

    async def message(self, d: Delivery, *, text: str | None = None) -> OutboundMessage:
        """Rebuild the ``OutboundMessage`` of a delivery (with ``text`` replaced for edits)."""
        return await decode_message(self.rt, d, await self._body(d.body), text=text)

    async def anchor(self, d: Delivery) -> Anchor | None:
        """The earlier delivery this one edits or replies to, if any."""
        return Anchor.from_json((await self._body(d.body)).get("anchor"))

    async def _body(self, sha: str) -> dict[str, Any]:
        # Bodies are content-addressed (the key is their hash), so a cached one is never
        # stale; one announcement's thousands of deliveries share one body: read it once.
        cached = self._bodies.get(sha)
        if cached is not None:
            return cached
        raw = await self.redis.get(self.keys("outbox", "body", sha))
        if not raw:
            return {"text": ""}
        body: dict[str, Any] = json.loads(raw)
        if len(self._bodies) >= BODY_CACHE:
            self._bodies.clear()
        self._bodies[sha] = body
        return body

    async def rebody(self, delivery_ids: Sequence[str], msg: OutboundMessage) -> set[str]:
        """Give still-queued deliveries ``msg``'s content; returns the ids changed.

        A worker that already loaded the old body sends it; an edit of the sent
        message (the caller's next step) then catches that one up.
        """
        body = await encode_body(self.rt, msg)
        sha = hashlib.sha256(body.encode()).hexdigest()
        await self.redis.set(self.keys("outbox", "body", sha), body, nx=True)
        changed: set[str] = set()
        for did in delivery_ids:
            if await self._rebody(keys=[sha], args=[self.keys.prefix, did]):
                changed.add(did)
        return changed

    # --- state changes -------------------------------------------------------
    async def take(self, delivery_id: str, owner: str) -> Taken | None:
        """Become the delivery's owner; ``None`` if there is no such delivery."""
        res = await self._take(keys=[self.delivery_key(delivery_id)], args=[owner])
        return self._taken(delivery_id, res) if res else None

    def _took(self, delivery_id: str, res: Any) -> Taken | Parked | None:
        if res and str(res[0]) == "parked":
            return Parked(str(res[1]))
        return self._taken(delivery_id, res) if res else None

    @staticmethod
    def _taken(delivery_id: str, res: Any) -> Taken:
        delivery = Delivery.from_hash(delivery_id, _pairs(res[4]))
        status = TargetStatus.from_fields(res[5]) if len(res) > 5 else None
        return Taken(str(res[0]), int(res[1]), str(res[2]) == "1", int(res[3]), delivery, status)

    async def take_and_peek(
        self,
        delivery_id: str,
        owner: str,
        stream: str | None,
        consumer: str,
        targets_prefix: str,
        entry: tuple[str, str] | None = None,
    ) -> tuple[Taken | Parked | None, Any]:
        """``take`` with the target's status (from the hashes under ``targets_prefix``),
        and in the same round trip one new entry of ``stream`` (the urgent one) read for
        ``consumer``: a worker sees new urgent work at every delivery. No ``stream``:
        the take alone (the answer's second item is ``None``). With ``entry`` (the
        stream and entry id it was read from), a delivery that must wait for the one
        before it is parked, not taken (``Parked``)."""
        args = [owner, targets_prefix]
        if entry is not None:
            args += [self.delivery_key(""), entry[0], entry[1], GROUP]
        take = self._batch.submit_script(self._take, [self.delivery_key(delivery_id)], args)
        if stream is None:
            return self._took(delivery_id, await take), None
        peek = self._batch.submit(
            lambda pipe: pipe.xreadgroup(GROUP, consumer, {stream: ">"}, count=1)
        )
        try:
            res = await take
        except BaseException:
            peek.add_done_callback(retrieved)  # its error is this one: not logged as lost
            raise
        return self._took(delivery_id, res), await peek

    async def release(self, delivery_id: str) -> None:
        """A graceful stop: this take was no crash and must not count towards dead-lettering."""
        await self.redis.hincrby(self.delivery_key(delivery_id), "takes", -1)

    async def begin_send(self, delivery_id: str, owner: str) -> str:
        key = self.delivery_key(delivery_id)
        return str(await self._batch.script(self._begin, [key], [owner, repr(time.time())]))

    async def end_attempt(self, delivery_id: str, reason: str) -> None:
        await self.redis.hset(
            self.delivery_key(delivery_id), mapping={"inflight": 0, "last_error": reason}
        )

    async def mark_possible_duplicate(self, delivery_id: str, platform: str) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self.delivery_key(delivery_id), "possible_duplicate", 1)
        pipe.hincrby(self.keys("outbox", "dups"), platform, 1)
        await pipe.execute()

    async def retarget(self, delivery_id: str, target: TargetId) -> None:
        await self.redis.hset(
            self.delivery_key(delivery_id), mapping={"target": target, "migrated": 1}
        )

    async def transition(
        self,
        delivery_id: str,
        from_state: str,
        to_state: str,
        *,
        reason: str | None = None,
        retryable: bool = False,
        message_ids: Sequence[str] = (),
    ) -> bool:
        """Move one delivery between states; ``False`` if it was not in ``from_state``."""
        args: list[str | int] = [
            self.keys.prefix,
            delivery_id,
            from_state,
            to_state,
            repr(time.time()),
            reason or "",
            1 if retryable else 0,
            json.dumps(list(message_ids)),
            MSGREF_TTL_SECONDS,
            *message_ids,
        ]
        return bool(await self._transition(keys=[], args=args))

    async def settle(
        self,
        delivery_id: str,
        to_state: str,
        *,
        reason: str | None = None,
        retryable: bool = False,
        message_ids: Sequence[str] = (),
        ack: tuple[str, str] | None = None,
    ) -> tuple[bool, Delivery | None]:
        """``transition`` from queued, then ack ``(stream, entry_id)`` if given; one call.

        Returns (changed, the delivery as stored now).
        """
        args: list[str | int] = [
            self.keys.prefix,
            delivery_id,
            QUEUED,
            to_state,
            repr(time.time()),
            reason or "",
            1 if retryable else 0,
            json.dumps(list(message_ids)),
            MSGREF_TTL_SECONDS,
            GROUP if ack else "",
            ack[1] if ack else "",
            *message_ids,
        ]
        keys = [ack[0]] if ack else []
        res = await self._batch.script(self._settle, keys, args)
        h = _pairs(res[1])
        return bool(res[0]), Delivery.from_hash(delivery_id, h) if h else None

    def ack_soon(self, stream: str, entry_id: str, delivery_id: str) -> asyncio.Future[Any]:
        """Ack and delete a stream entry, queued in the next batch (one script: atomic);
        await the future later, with other calls. Its answer is -1 when the delivery is
        still queued here and the entry was left pending (``lua.ACK_LUA``)."""
        keys = [stream, self.delivery_key(delivery_id)]
        return self._batch.submit_script(self._ack, keys, [GROUP, entry_id])

    async def requeue(self, entries: Sequence[tuple[str, str, str]]) -> None:
        """Hand read but not yet taken ``(stream, entry id, delivery id)`` entries back:
        new entries at the tails, the old ones acked and deleted, in one MULTI (nothing
        lost, nothing left waiting in the hands of a busy or stopping worker)."""
        pipe = self.redis.pipeline(transaction=True)
        for stream, entry_id, delivery_id in entries:
            pipe.xadd(stream, {"d": delivery_id})
            pipe.xack(stream, GROUP, entry_id)
            pipe.xdel(stream, entry_id)
        await pipe.execute()

    async def forward(self, stream: str, entry_id: str, delivery_id: str, to: str) -> None:
        """Move a taken entry to stream ``to`` (the owner's partition), undoing the take
        (it was no attempt): new entry, old one acked and deleted, in one MULTI."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.xadd(to, {"d": delivery_id})
        pipe.xack(stream, GROUP, entry_id)
        pipe.xdel(stream, entry_id)
        pipe.hincrby(self.delivery_key(delivery_id), "takes", -1)
        await pipe.execute()

    async def dead_letter(self, delivery_id: str) -> None:
        await self.redis.zadd(self.keys("outbox", "deadletter"), {delivery_id: time.time()})

    # --- reads ---------------------------------------------------------------
    async def get(self, delivery_id: str) -> Delivery | None:
        h = _strs(await self.redis.hgetall(self.delivery_key(delivery_id)))
        return Delivery.from_hash(delivery_id, h) if h else None

    async def raw(self, delivery_id: str) -> dict[str, str]:
        return _strs(await self.redis.hgetall(self.delivery_key(delivery_id)))

    async def many(self, ids: Sequence[str]) -> list[Delivery]:
        out: list[Delivery] = []
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            pipe = self.redis.pipeline(transaction=False)
            for d in chunk:
                pipe.hgetall(self.delivery_key(d))
            for d, h in zip(chunk, await pipe.execute(), strict=True):
                if h:
                    out.append(Delivery.from_hash(d, _strs(h)))
        return out

    async def of_origin(self, origin: str, origin_id: str) -> list[Delivery]:
        ids = sorted(str(m) for m in await self.redis.smembers(self.origin_key(origin, origin_id)))
        return await self.many(ids)

    async def counts(self, origin: str, origin_id: str) -> dict[str, dict[str, int]]:
        """``{platform: {state: n}}`` from the counters (no per-delivery reads)."""
        raw = _strs(await self.redis.hgetall(self.counts_key(origin, origin_id)))
        out: dict[str, dict[str, int]] = {}
        for field, value in raw.items():
            platform, _, state = field.rpartition(":")
            if int(value):
                out.setdefault(platform, {})[state] = int(value)
        return out

    async def pending(self) -> dict[str, int]:
        raw = _strs(await self.redis.hgetall(self.keys("outbox", "pending")))
        return {k: int(v) for k, v in raw.items()}

    async def dead_letters(self) -> list[str]:
        return [str(m) for m in await self.redis.zrange(self.keys("outbox", "deadletter"), 0, -1)]

    async def possible_duplicates(self) -> dict[str, int]:
        raw = _strs(await self.redis.hgetall(self.keys("outbox", "dups")))
        return {k: int(v) for k, v in raw.items()}


async def enqueue(rt: Runtime, items: Sequence[OutboxItem]) -> None:
    """Write every item's delivery atomically (one MULTI); ids already enqueued are ignored."""
    if not items:
        return
    store = OutboxStore(rt)
    bodies, args = await store.prepare(items)
    pipe = rt.redis.pipeline(transaction=True)
    await store.add_to(pipe, bodies, args)
    await pipe.execute()


async def lookup_msgref(
    rt: Runtime, target: TargetId, message_id: PlatformMessageId
) -> tuple[str, str] | None:
    """Which announcement or ticket a platform message belongs to: ``("announcement", "A-17")``."""
    raw = await rt.redis.get(rt.keys("msgref", target, message_id))
    if not raw:
        return None
    origin, _, origin_id = str(raw).partition(":")
    return origin, origin_id


def _pairs(flat: Any) -> dict[str, str]:
    """A Lua ``HGETALL`` answer (a flat list) as a dict."""
    items = [str(x) for x in flat or []]
    return dict(zip(items[::2], items[1::2], strict=True))


def _strs(h: Any) -> dict[str, str]:
    """A hash from the text client (redis-py types it as bytes | str)."""
    return {str(k): str(v) for k, v in dict(h).items()}
