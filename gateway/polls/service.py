"""Create and close polls; both go out through the outbox.

Creating writes the poll, its targets and one delivery per chat in one MULTI (all or
nothing). Each delivery carries a native poll and, as its text, the numbered
fallback. Closing flips the state once (Lua), then queues per chat an item anchored
to that chat's poll message: it stops the native poll and posts the result as a
reply. Delivery ids are deterministic, so closing again (after a crash, or the
closing time and a ``palm poll close`` racing) queues nothing twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence

from gateway import audience
from gateway.aio import checkpoint
from gateway.errors import InputError, NotFound, RetryableError
from gateway.models import DeliveryId, OutboundMessage, PollSpec, TargetId
from gateway.outbox import OutboxItem, OutboxStore
from gateway.outbox.model import FINAL, SENT, Anchor, Delivery
from gateway.polls.model import (
    OPEN,
    ORIGIN,
    Poll,
    PollId,
    check,
    fallback_text,
    result_text,
)
from gateway.polls.store import PollStore
from gateway.polls.tally import counts_of
from gateway.runtime import Runtime
from gateway.staffroom.config import staff_room_ids
from gateway.targets import TargetDirectory

log = logging.getLogger("palm.polls")

CLOSER_TICK = 1.0
IDEMPOTENCY_TTL = 86400
END = "end"


def store_of(rt: Runtime) -> PollStore:
    return PollStore(rt.redis, rt.keys)


def delivery_id(poll_id: str, target: str) -> DeliveryId:
    return DeliveryId(f"{poll_id}:{target}")


def end_id(poll_id: str, target: str) -> DeliveryId:
    return DeliveryId(f"{poll_id}:{END}:{target}")


async def create(
    rt: Runtime,
    *,
    question: str,
    options: Sequence[str],
    to: str,
    multiple: bool = False,
    closes_at: float | None = None,
    created_by: str = "",
    idempotency_key: str | None = None,
) -> Poll:
    """Create and send a poll. With ``idempotency_key`` (API header, console form), the
    same key within a day returns the poll it made instead of making another."""
    idem = rt.keys("polls", "idem", idempotency_key) if idempotency_key else None
    if idem and (existing := await rt.redis.get(idem)):
        return await _made_by_other(rt, str(existing))
    opts = [o.strip() for o in options]
    check(question, opts)
    now = time.time()
    if closes_at is not None and closes_at <= now:
        raise InputError("the closing time is in the past", zh="截止时间已经过去了")
    staff = staff_room_ids(rt.config.staff_rooms)
    targets = await audience.resolve(TargetDirectory(rt.redis, rt.keys), to, exclude=staff)
    polls = store_of(rt)
    poll_id = await polls.next_id()
    # Claim the key before writing anything, so two racing requests make one poll.
    if idem and not await rt.redis.set(idem, poll_id, nx=True, ex=IDEMPOTENCY_TTL):
        return await _made_by_other(rt, str(await rt.redis.get(idem)))
    spec = PollSpec(question.strip(), tuple(opts), multiple)
    fallback = fallback_text(spec.question, spec.options, multiple)
    items = [
        OutboxItem(
            delivery_id(poll_id, t),
            ORIGIN,
            poll_id,
            OutboundMessage(TargetId(t), fallback, delivery_id(poll_id, t), plain=True, poll=spec),
        )
        for t in targets
    ]
    outbox = OutboxStore(rt)
    bodies, args = await outbox.prepare(items)
    pipe = rt.redis.pipeline(transaction=True)
    pipe.hset(
        polls.key(poll_id),
        mapping={
            "question": spec.question,
            "options": json.dumps(list(spec.options), ensure_ascii=False),
            "multiple": "1" if multiple else "",
            "audience": to.strip(),
            "state": OPEN,
            "created_at": repr(now),
            "closes_at": repr(closes_at) if closes_at is not None else "",
            "created_by": created_by,
            "target_count": len(targets),
        },
    )
    pipe.sadd(polls.key(poll_id, "targets"), *targets)
    pipe.zadd(rt.keys("polls"), {poll_id: int(poll_id[2:])})
    if closes_at is not None:
        pipe.zadd(rt.keys("polls", "closing"), {poll_id: closes_at})
    await outbox.add_to(pipe, bodies, args)
    try:
        await pipe.execute()
    except BaseException:
        if idem:  # nothing was made: the same key may try again
            await rt.redis.delete(idem)
        raise
    log.info("poll created", extra={"id": poll_id, "targets": len(targets)})
    return await get(rt, poll_id)


async def _made_by_other(rt: Runtime, poll_id: str) -> Poll:
    """The poll a concurrent request with the same key made: it may be a few
    milliseconds from being written (the key is claimed first), so wait briefly."""
    for _ in range(100):
        if (poll := await store_of(rt).get(poll_id)) is not None:
            return poll
        await asyncio.sleep(0.05)
    return await get(rt, poll_id)


async def get(rt: Runtime, poll_id: str) -> Poll:
    poll = await store_of(rt).get(poll_id)
    if poll is None:
        raise NotFound(f"no poll {poll_id}", zh=f"没有投票 {poll_id}")
    return poll


async def poll_deliveries(rt: Runtime, poll_id: str) -> list[Delivery]:
    """The poll messages themselves (not the closing items)."""
    found = await OutboxStore(rt).of_origin(ORIGIN, poll_id)
    return [d for d in found if d.delivery_id == delivery_id(poll_id, d.target)]


async def close(rt: Runtime, poll_id: str) -> Poll:
    """Stop the poll everywhere and post the result in every chat (idempotent)."""
    poll = await get(rt, poll_id)
    if poll.state == OPEN:
        await store_of(rt).close(poll_id, time.time())
        poll = await get(rt, poll_id)
    votes = await store_of(rt).votes(poll_id)
    text = result_text(poll, counts_of(poll, votes), len(votes))
    items = [
        OutboxItem(
            end_id(poll_id, d.target),
            ORIGIN,
            poll_id,
            OutboundMessage(d.target, text, end_id(poll_id, d.target), plain=True, stop_poll=True),
            Anchor(d.delivery_id),
        )
        for d in await poll_deliveries(rt, poll_id)
        if d.state in (SENT, "queued")
    ]
    if items:
        outbox = OutboxStore(rt)
        bodies, args = await outbox.prepare(items)
        pipe = rt.redis.pipeline(transaction=True)
        await outbox.add_to(pipe, bodies, args)
        await pipe.execute()
    log.info("poll closed", extra={"id": poll_id, "chats": len(items)})
    return poll


async def close_due(rt: Runtime, now: float | None = None) -> list[str]:
    closed = []
    for poll_id in await store_of(rt).due(time.time() if now is None else now):
        await close(rt, poll_id)
        closed.append(poll_id)
    return closed


async def run_closer(rt: Runtime) -> None:
    """The ``palm run`` component that closes polls at their ``--closes`` time."""
    while True:
        checkpoint()
        try:
            await close_due(rt)
        except RetryableError as exc:
            log.warning("polls: cannot close due polls yet", extra={"error": str(exc)})
        await asyncio.sleep(CLOSER_TICK)


RACE_SECONDS = 60.0
"""How long a vote for an unknown poll handle waits for a poll still being sent."""


async def resolve_ref(
    rt: Runtime, platform: str, ref: str, sent_at: float | None = None
) -> tuple[str, str] | None:
    """The poll (and chat) a native poll handle belongs to: Telegram's poll id (in the
    delivery's message ids as ``poll:<id>``) or a Matrix poll start event id. Looked up
    in the recent polls' deliveries the first time, then remembered.

    Raises ``RetryableError`` while one of them is not sent yet on that platform: the
    vote may be for it (a resident can vote before the worker records the send). Only
    for a recent vote (``RACE_SECONDS``): a vote for somebody else's Matrix poll must
    not hold the funnel up for as long as a big poll takes to go out.
    """
    polls = store_of(rt)
    if (found := await polls.ref(platform, ref)) is not None:
        return found
    waiting = False
    for poll_id in await polls.recent_ids():
        for d in await poll_deliveries(rt, PollId(poll_id)):
            if d.platform != platform:
                continue
            if d.state not in FINAL:
                waiting = True
            for handle in _handles(d):
                await polls.set_ref(platform, handle, poll_id, d.target)
    if (found := await polls.ref(platform, ref)) is not None:
        return found
    recent = sent_at is None or time.time() - sent_at < RACE_SECONDS
    if waiting and recent:
        raise RetryableError("a poll is still being sent", retry_after=1.0)
    return None


def _handles(d: Delivery) -> list[str]:
    if d.state != SENT or not d.message_ids:
        return []
    if d.platform == "telegram":
        return [m[5:] for m in d.message_ids if m.startswith("poll:") and m != "poll:fallback"]
    return [d.message_ids[0]]
