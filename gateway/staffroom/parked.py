"""A parked resident's message (``gateway.funnel.deadletters``) as a card in the staff rooms.

Staff who work only in their chat group would otherwise never see the words of a
message that became no ticket (``/queue`` counts them; the console lists them). So the
funnel, as it parks one (just before the park itself), posts a card in every staff room
whose scope holds the chat: who wrote, where, the words, and whether the resident was
told that staff will get back to them. Under it, on Telegram, **Handled** and **File
again** buttons; on every platform ``/handled`` and ``/retry`` as a reply to the card do
the same (``gateway.funnel.parked_actions``, within the room's scope). Whoever acts (a
room, the console, the API, the CLI), the card is then edited in place to say who did
what, without its buttons, in every room that has it.

Delivery ids are deterministic (``parkedcard:<entry>:<room>``), so a card is posted once
per entry and room: a process that dies between the card and the park leaves the entry
pending, and the next one posts nothing new. (A button pressed in that moment finds
nothing to act on yet and says so.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.funnel.deadletters import Parked
from gateway.models import (
    Button,
    ChatKind,
    DeliveryId,
    OutboundMessage,
    PlatformMessageId,
    TargetId,
)
from gateway.outbox import lookup_msgref
from gateway.outbox.model import Anchor, OutboxItem
from gateway.outbox.store import enqueue
from gateway.runtime import Runtime
from gateway.staffroom.config import StaffRoomConfig
from gateway.staffroom.scope import rooms_for
from gateway.staffroom.words import say
from gateway.targets import Target, TargetDirectory

if TYPE_CHECKING:  # parked_actions calls mark_cards: the type only, no import cycle
    from gateway.funnel.parked_actions import Action

ORIGIN = "parkedcard"
"""The cards' outbox origin; its id is the parked entry's."""
HANDLED = "parked:handled"
RETRY = "parked:retry"
BUTTONS: dict[str, Action] = {HANDLED: "handled", RETRY: "retry"}


def card_id(entry: str, room: str) -> DeliveryId:
    return DeliveryId(f"{ORIGIN}:{entry}:{room}")


def card_text(p: Parked, chat: Target | None, lang: str) -> str:
    """The card's words, without the how-to (pure)."""
    where = (chat.title if chat is not None else None) or str(p.target)
    card = say(lang, "parked_card", who=p.sender or "?", where=where, text=p.text or "")
    return f"{card}\n\n{say(lang, 'parked_told' if p.answered else 'parked_untold')}"


async def _rooms(rt: Runtime, p: Parked) -> tuple[Target | None, list[StaffRoomConfig]]:
    if p.target is None or p.text is None or not rt.config.staff_rooms:
        return None, []
    chat = await TargetDirectory(rt.redis, rt.keys).get(p.target)
    tags = chat.tags if chat is not None else ()
    group = chat.kind is ChatKind.GROUP if chat is not None else True
    return chat, rooms_for(rt.config.staff_rooms, p.target, tags, group=group)


async def post_cards(rt: Runtime, p: Parked) -> list[DeliveryId]:
    """Queue the entry's card in every staff room whose scope holds its chat."""
    chat, rooms = await _rooms(rt, p)
    lang = rt.config.locale
    text = f"{card_text(p, chat, lang)}\n{say(lang, 'parked_how')}"
    buttons = (Button(say(lang, "handled_button"), HANDLED),
               Button(say(lang, "retry_button"), RETRY))  # fmt: skip
    items = [
        OutboxItem(did, ORIGIN, p.entry,
                   OutboundMessage(TargetId(r.target), text, did, plain=True, buttons=buttons))
        for r in rooms
        if (did := card_id(p.entry, r.target))
    ]  # fmt: skip
    await enqueue(rt, items)
    return [i.delivery_id for i in items]


async def entry_of(rt: Runtime, room: str, message_id: str | None) -> str | None:
    """The parked entry whose card is ``message_id`` in ``room``."""
    if not message_id:
        return None
    origin = await lookup_msgref(rt, TargetId(room), PlatformMessageId(message_id))
    if origin is None or origin[0] != ORIGIN or not origin[1]:
        return None
    return origin[1]


def done_text(lang: str, action: Action, actor: str) -> str:
    """What the card (and the member who acted) is told: who did what."""
    return say(lang, "parked_handled" if action == "handled" else "parked_retried", who=actor)


async def mark_cards(rt: Runtime, p: Parked, action: Action, actor: str) -> None:
    """Edit the entry's card in every room that has it: who did what, no buttons. Called
    by ``parked_actions.act``, so it happens whoever acted: a room, the console, the API
    or the CLI."""
    chat, rooms = await _rooms(rt, p)
    text = f"{card_text(p, chat, rt.config.locale)}\n{done_text(rt.config.locale, action, actor)}"
    items = []
    for r in rooms:
        card = card_id(p.entry, r.target)
        did = DeliveryId(f"{card}:done")
        msg = OutboundMessage(TargetId(r.target), text, did, plain=True, buttons=())
        items.append(OutboxItem(did, ORIGIN, p.entry, msg, Anchor(card, True)))
    await enqueue(rt, items)
