"""An answer to the resident whose message the funnel parked (``gateway.funnel.deadletters``).

Parking keeps the message, and staff see it on the console's queue page, but the
resident got no acknowledgement: left alone they would write again. So they are told
that their message arrived and that staff will get back to them, in their language
(``templates.parked``).

Only those a ticket was meant for are answered: a resident's message (not a bot's, not
a staff room's, not from a group awaiting approval) that routing would have filed as a
new ticket or a follow-up. When routing is itself what fails, only a direct chat is
answered: there every message is for staff, while in a group it may be chatter. The
same when the entry was parked for killing its consumers (it may be routing that kills
them): it is not routed again.

Like an acknowledgement it is an automatic answer (at most half of the bot's rate,
``gateway.admission.share``), within the residents' acknowledgement limit, and sent once
per message: its delivery id is deterministic, so a redelivered entry queues nothing new.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gateway.admission.flood import ACKS, FloodGate, count_limited
from gateway.admission.gate import Admission
from gateway.codec import decode_event
from gateway.funnel.outbound import send_answer
from gateway.funnel.routing import Action, Decision
from gateway.funnel.tickets import TicketStore
from gateway.models import ChatKind, DeliveryId, InboundMessage
from gateway.runtime import Runtime
from gateway.templates import pick_language, templates_for

log = logging.getLogger("palm.funnel")

PARKED_ORIGIN = "parked"

Decide = Callable[[InboundMessage], Awaitable[Decision]]
"""Routing for one message, as the consumer does it (its snapshot, then ``route``)."""


def resident_message(raw: object, staff_rooms: frozenset[str]) -> InboundMessage | None:
    """The parked entry's message when it is a resident's, else ``None`` (pure)."""
    if not isinstance(raw, str):
        return None
    try:
        event = decode_event(raw)
    except ValueError:
        return None
    if not isinstance(event, InboundMessage) or event.sender.is_bot:
        return None
    if event.target in staff_rooms or event.edit_of is not None:
        return None  # staff's own room; an edit of a message already answered or not
    return event


@dataclass(frozen=True, slots=True)
class FunnelParts:
    """What the answer borrows from the funnel consumer."""

    decide: Decide | None
    """``None``: do not route (the entry kept killing its consumers, maybe in routing)."""
    flood: FloodGate
    admission: Admission
    tickets: TicketStore
    staff_rooms: frozenset[str]


async def answer_parked(rt: Runtime, raw: object, parts: FunnelParts) -> DeliveryId | None:
    """Queue the answer for a parked entry ``raw`` (its ``e`` field); its delivery id,
    or ``None`` when the entry gets none. Never raises: parking must not depend on it."""
    try:
        return await _answer(rt, raw, parts)
    except Exception as exc:
        log.warning("funnel: no answer to the parked message", extra={"error": str(exc)})
        return None


async def _answer(rt: Runtime, raw: object, parts: FunnelParts) -> DeliveryId | None:
    msg = resident_message(raw, parts.staff_rooms)
    if msg is None or not await parts.admission.admits(msg):
        return None
    if await parts.tickets.ref_for_message(msg.target, msg.message_id) is not None:
        return None  # it is on a ticket after all: that ticket's acknowledgement answers
    action = Action.NEW if msg.chat_kind is ChatKind.DIRECT else Action.IGNORE
    if parts.decide is not None:
        # The very failure that parked it, maybe: then as if not routed.
        with contextlib.suppress(Exception):
            action = (await parts.decide(msg)).action
    if action not in (Action.NEW, Action.FOLLOW_UP):
        return None
    if not await parts.flood.ack(msg):
        count_limited(msg, ACKS)
        return None
    lang = pick_language(msg.sender.language, rt.config.locale)
    text = templates_for(rt.config.templates_file).parked(lang)
    delivery_id = DeliveryId(f"{PARKED_ORIGIN}:{msg.target}:{msg.message_id}")
    await send_answer(rt, delivery_id, PARKED_ORIGIN, msg.target, msg.message_id, text)
    return delivery_id
