"""What routing needs to know about one message, read from Redis: the I/O half of
``gateway.funnel.routing`` (whose ``route`` is pure)."""

from __future__ import annotations

from gateway.funnel.outbound import TICKET_ORIGIN
from gateway.funnel.routing import RoutingState
from gateway.funnel.tickets import TicketStore
from gateway.models import AnnouncementId, ChatKind, InboundMessage, TicketId
from gateway.outbox.store import lookup_msgref
from gateway.runtime import Runtime


async def routing_state(rt: Runtime, store: TicketStore, msg: InboundMessage) -> RoutingState:
    """The announcement or ticket ``msg`` replies to, the sender's open direct ticket, and
    the ticket of the message it edits."""
    announcement = None
    ticket_ref = None
    if msg.reply_to is not None:
        ticket_ref = await store.ref_for_message(msg.target, msg.reply_to)
        if ticket_ref is None:
            origin = await lookup_msgref(rt, msg.target, msg.reply_to)
            if origin is not None and origin[0] == "announcement":
                announcement = AnnouncementId(origin[1])
            elif origin is not None and origin[0] == TICKET_ORIGIN and origin[1]:
                ticket_ref = await store.ref(TicketId(origin[1]))
    open_ticket = None
    if msg.chat_kind is ChatKind.DIRECT:
        open_ticket = await store.open_direct(msg.target, msg.sender.user_id)
    edited = None
    if msg.edit_of is not None:
        edited = await store.edited_ticket(msg.target, msg.edit_of)
    return RoutingState(announcement, ticket_ref, open_ticket, edited)
