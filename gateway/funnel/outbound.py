"""What the funnel sends to residents (acks, help, staff replies, resolutions): all
through the outbox, so each is retried, rate limited and never lost.

Delivery ids are deterministic (``T-42:ack``, ``T-42:reply:3``, ``T-42:resolved``):
the outbox ignores an id it already has, so a redelivered inbound entry or a retried
command never sends twice.
"""

from __future__ import annotations

from gateway.models import DeliveryId, OutboundMessage, PlatformMessageId, TargetId
from gateway.outbox.model import OutboxItem
from gateway.outbox.store import enqueue
from gateway.runtime import Runtime

TICKET_ORIGIN = "ticket"
HELP_ORIGIN = "help"


async def send_for_ticket(
    rt: Runtime,
    ticket: str,
    delivery_id: str,
    target: str,
    text: str,
    reply_to: str | None,
) -> None:
    message = OutboundMessage(
        target=TargetId(target),
        text=text,
        idempotency_key=delivery_id,
        reply_to=PlatformMessageId(reply_to) if reply_to else None,
        plain=True,
    )
    await enqueue(rt, [OutboxItem(DeliveryId(delivery_id), TICKET_ORIGIN, ticket, message)])


async def send_help(rt: Runtime, target: str, message_id: str, text: str) -> None:
    delivery_id = f"help:{target}:{message_id}"
    message = OutboundMessage(
        target=TargetId(target),
        text=text,
        idempotency_key=delivery_id,
        reply_to=PlatformMessageId(message_id),
        plain=True,
    )
    await enqueue(rt, [OutboxItem(DeliveryId(delivery_id), HELP_ORIGIN, target, message)])
