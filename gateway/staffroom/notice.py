"""The bot's short answers in a staff room (errors, ``/queue``, confirmations)."""

from __future__ import annotations

from gateway.models import DeliveryId, OutboundMessage, PlatformMessageId, TargetId
from gateway.outbox import OutboxItem, enqueue
from gateway.runtime import Runtime

NOTICE_ORIGIN = "staffroom-notice"


async def notice(rt: Runtime, room: str, reply_to: str, text: str, key: str) -> None:
    """Post ``text`` in ``room`` as a reply to ``reply_to``, once per ``key``."""
    did = DeliveryId(f"sr:{room}:{key}")
    msg = OutboundMessage(
        TargetId(room), text, did, reply_to=PlatformMessageId(reply_to), plain=True
    )
    await enqueue(rt, [OutboxItem(did, NOTICE_ORIGIN, room, msg)])
