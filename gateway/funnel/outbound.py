"""What the funnel sends to residents (acks, help, staff replies, resolutions): all
through the outbox, so each is retried, rate limited and never lost.

Delivery ids are deterministic (``T-42:ack``, ``T-42:reply:3``, ``T-42:resolved``):
the outbox ignores an id it already has, so a redelivered inbound entry or a retried
command never sends twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from gateway.errors import StoreUnavailable
from gateway.models import DeliveryId, OutboundMessage, PlatformMessageId, TargetId
from gateway.outbox.model import OutboxItem
from gateway.outbox.store import OutboxStore, enqueue
from gateway.runtime import Runtime

TICKET_ORIGIN = "ticket"
HELP_ORIGIN = "help"


def ticket_item(
    ticket: str, delivery_id: str, target: str, text: str, reply_to: str | None
) -> OutboxItem:
    """A message to the resident of ``ticket``, threaded to ``reply_to``; it goes out only
    once the ticket's message queued before it is sent or failed (``OutboxItem.ordered``)."""
    message = OutboundMessage(
        target=TargetId(target),
        text=text,
        idempotency_key=delivery_id,
        reply_to=PlatformMessageId(reply_to) if reply_to else None,
        plain=True,
    )
    return OutboxItem(DeliveryId(delivery_id), TICKET_ORIGIN, ticket, message, ordered=True)


async def send_for_ticket(
    rt: Runtime,
    ticket: str,
    delivery_id: str,
    target: str,
    text: str,
    reply_to: str | None,
) -> None:
    await enqueue(rt, [ticket_item(ticket, delivery_id, target, text, reply_to)])


async def with_outbox_item(
    rt: Runtime, item: OutboxItem, change: Callable[[Pipeline], Awaitable[Any]]
) -> Any:
    """Apply a ticket change and put its message in the outbox in ONE transaction.

    Either both are in Redis or neither: a crash can never record a staff reply on the
    ticket without also queueing it for the resident. Returns the change's result.
    """
    store = OutboxStore(rt)
    bodies, args = await store.prepare([item])
    try:
        async with rt.redis.pipeline(transaction=True) as pipe:
            await change(pipe)  # queues the ticket's script (first in the MULTI)
            await store.add_to(pipe, bodies, args)
            results = await pipe.execute()
    except (RedisError, OSError) as exc:
        raise StoreUnavailable(f"cannot record the ticket change: {exc}") from exc
    return results[0]


async def send_help(rt: Runtime, target: str, message_id: str, text: str) -> DeliveryId:
    """Queue the help text as an answer to ``message_id``; its delivery id."""
    delivery_id = DeliveryId(f"help:{target}:{message_id}")
    await send_answer(rt, delivery_id, HELP_ORIGIN, target, message_id, text)
    return delivery_id


async def send_answer(
    rt: Runtime, delivery_id: DeliveryId, origin: str, target: str, message_id: str, text: str
) -> None:
    """Queue an automatic answer (no ticket) to ``message_id``, once per ``delivery_id``."""
    message = OutboundMessage(
        target=TargetId(target),
        text=text,
        idempotency_key=delivery_id,
        reply_to=PlatformMessageId(message_id),
        plain=True,
    )
    await enqueue(rt, [OutboxItem(delivery_id, origin, target, message)])
