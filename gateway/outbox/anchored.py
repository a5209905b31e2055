"""Deliveries that refer to an earlier one (``Anchor``): a card's edits, the follow-ups
posted under it, a live status edit of an acknowledgement.

The earlier delivery's platform message ids exist only once it was sent, so the
worker resolves the anchor at send time: still queued -> retry shortly (it keeps the
order: nothing is edited before it exists); failed or recalled -> this one fails too.
An edit overtaken by a newer one of the same message is not made, and says so (``None``):
the worker records it ``superseded``, not ``sent``.
"""

from __future__ import annotations

import time
from dataclasses import replace

from redis.asyncio import Redis

from gateway.adapter import Adapter
from gateway.errors import Rejected, RetryableError
from gateway.models import OutboundMessage, SendReceipt
from gateway.outbox.model import SENT, Anchor
from gateway.outbox.store import OutboxStore

WAIT_SECONDS = 1.0


async def superseded(redis: Redis, anchor: Anchor) -> bool:
    """A newer edit of the same message was queued: this one need not be made."""
    if not anchor.edit or not anchor.version_key:
        return False
    newest = await redis.get(anchor.version_key)
    return newest is not None and int(str(newest)) > anchor.version


async def send_anchored(
    store: OutboxStore, adapter: Adapter, anchor: Anchor, msg: OutboundMessage
) -> SendReceipt | None:
    """The reply or edit made; ``None`` for an edit not made because a newer one was queued."""
    ref = await store.get(anchor.delivery_id)
    if ref is None or ref.state not in (SENT, "queued"):
        state = ref.state if ref is not None else "unknown"
        raise Rejected(f"the message it refers to ({anchor.delivery_id}) is {state}")
    if ref.state != SENT or not ref.message_ids:
        raise RetryableError(
            f"waiting for {anchor.delivery_id} to be sent", retry_after=WAIT_SECONDS
        )
    if not anchor.edit:
        return await adapter.send(replace(msg, reply_to=ref.message_ids[0]))
    if await superseded(store.redis, anchor):
        return None
    await adapter.edit(ref.target, ref.message_ids, replace(msg, target=ref.target))
    return SendReceipt(ref.target, ref.message_ids, time.time())
