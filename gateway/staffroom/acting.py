"""What a staff room member's message or button press does.

Called by the funnel consumer for every inbound event (``on_inbound``) before routing:
anything from a staff room is handled here and never opens a ticket. Replays of the
same inbound entry are harmless: answers are keyed on the platform message
(``funnel.staff.reply(once_key=...)``), claims by the same member are no-ops, a second
resolve is refused, and notices to the room have deterministic delivery ids.
"""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

from gateway.errors import Conflict, GatewayError, InputError, NotFound
from gateway.funnel import deadletters, parked_actions, staff
from gateway.funnel.parked_actions import Action
from gateway.funnel.tickets import TicketStore
from gateway.models import (
    REACTION_PREFIX,
    ButtonPress,
    Command,
    InboundEvent,
    InboundMessage,
    PlatformMessageId,
    TargetId,
    TicketId,
    UserId,
)
from gateway.outbox import lookup_msgref
from gateway.runtime import Runtime
from gateway.staffroom import cards, commands, parked
from gateway.staffroom.config import StaffRoomConfig
from gateway.staffroom.feed import ORIGIN
from gateway.staffroom.notice import notice
from gateway.staffroom.scope import room_scope
from gateway.staffroom.words import say

log = logging.getLogger("palm.staffroom")


@runtime_checkable
class StaffRoomSupport(Protocol):
    """What an adapter offers staff rooms beyond the core ``Adapter`` protocol."""

    async def is_member(self, target: TargetId, user: UserId) -> bool:
        """Whether ``user`` is a member of the chat now."""
        ...

    async def answer_button(self, query_id: str, text: str) -> None:
        """Answer a button press (Telegram ``answerCallbackQuery``) with a short text."""
        ...


async def on_inbound(rt: Runtime, event: InboundEvent) -> bool:
    """The funnel hook: ``True`` when ``event`` came from a staff room (handled here)."""
    if not isinstance(event, InboundMessage | ButtonPress):
        return False
    room = next((r for r in rt.config.staff_rooms if r.target == event.target), None)
    if room is None:
        return False
    if isinstance(event, ButtonPress):
        await _button(rt, room, event)
    elif not event.sender.is_bot and event.edit_of is None:
        await _message(rt, room, event)
    return True


async def ticket_of(rt: Runtime, room: str, message_id: str | None) -> TicketId | None:
    """The ticket whose card (or a message under it) is ``message_id`` in ``room``."""
    if not message_id:
        return None
    origin = await lookup_msgref(rt, TargetId(room), PlatformMessageId(message_id))
    if origin is None or origin[0] != ORIGIN or not origin[1]:
        return None
    return TicketId(origin[1])


# --- messages -----------------------------------------------------------------


async def _message(rt: Runtime, room: StaffRoomConfig, msg: InboundMessage) -> None:
    actor = msg.sender.display_name
    if msg.command is Command.QUEUE:
        text = await commands.queue_text(rt, room)
        await notice(rt, room.target, msg.message_id, text, msg.message_id)
        return
    if msg.command is Command.ANNOUNCE:
        await commands.preview(rt, room, msg)
        return
    if msg.command is Command.CONFIRM:
        await commands.confirm(rt, room, msg.reply_to, actor, msg.message_id)
        return
    if msg.command in (Command.HANDLED, Command.RETRY):
        entry = await parked.entry_of(rt, room.target, msg.reply_to)
        action: Action = "handled" if msg.command is Command.HANDLED else "retry"
        text = (
            await _parked(rt, room, entry, action, actor)
            if entry is not None
            else say(rt.config.locale, "parked_usage")
        )
        await notice(rt, room.target, msg.message_id, text, msg.message_id)
        return
    tid = await ticket_of(rt, room.target, msg.reply_to)
    if tid is None:
        return  # the room's own conversation: not for palm
    try:
        if msg.command is Command.CLAIM:
            await staff.claim(rt, tid, actor)
        elif msg.command is Command.RESOLVE:
            await staff.resolve(rt, tid, actor, msg.text or None)
        elif msg.text.strip():
            once = rt.keys("staffroom", "answer", f"{room.target}|{msg.message_id}")
            await staff.reply(rt, tid, actor, msg.text, once_key=once)
    except GatewayError as exc:
        why = await _refusal(rt, tid, exc)
        await notice(rt, room.target, msg.message_id, why, msg.message_id)


async def _parked(
    rt: Runtime, room: StaffRoomConfig, entry: str, action: Action, actor: str
) -> str:
    """A member's ``handled`` or ``retry`` on the card of ``entry``, within the room's
    scope; what to tell them (``parked_actions.act`` edits the cards)."""
    items = await deadletters.for_staff(rt.redis, rt.keys, room_scope(room.scope))
    try:
        p = parked_actions.pick([i.parked for i in items], entry)
        await parked_actions.act(rt, p, action, by=actor)
    except NotFound:
        return say(rt.config.locale, "parked_gone")
    return parked.done_text(rt.config.locale, action, actor)


async def _refusal(rt: Runtime, tid: TicketId, exc: GatewayError) -> str:
    """What to tell the member: "Already claimed by X" rather than a CLI hint."""
    lang = rt.config.locale
    if isinstance(exc, Conflict):
        ticket = await TicketStore(rt.redis, rt.keys).get(tid)
        if ticket.status == "resolved":
            return say(lang, "already_resolved", tid=tid)
        if ticket.assignee:
            return say(lang, "already_claimed", tid=tid, who=ticket.assignee)
    if isinstance(exc, InputError):
        return say(lang, "refused", tid=tid, why=exc.say(lang))
    return say(lang, "not_now", tid=tid, why=exc.say(lang))


# --- buttons ------------------------------------------------------------------


async def _button(rt: Runtime, room: StaffRoomConfig, press: ButtonPress) -> None:
    if press.data.startswith(REACTION_PREFIX):
        return  # a Matrix reaction in the room: nothing for palm
    adapter: object = rt.adapters.get(press.platform)
    support = adapter if isinstance(adapter, StaffRoomSupport) else None
    if support is None:
        return
    if not await support.is_member(press.target, press.sender.user_id):
        log.info("staff room: a non-member's button press refused", extra={"room": room.target})
        await _answer(support, press, say(rt.config.locale, "members_only"))
        return
    actor = press.sender.display_name
    if press.data == cards.CONFIRM:
        text = await commands.confirm(rt, room, press.message_id, actor, None)
        await _answer(support, press, text)
        return
    if (action := parked.BUTTONS.get(press.data)) is not None:
        entry = await parked.entry_of(rt, room.target, press.message_id)
        text = (
            await _parked(rt, room, entry, action, actor)
            if entry is not None
            else say(rt.config.locale, "unknown_card")
        )
        await _answer(support, press, text)
        return
    tid = await ticket_of(rt, room.target, press.message_id)
    if tid is None:
        await _answer(support, press, say(rt.config.locale, "unknown_card"))
        return
    try:
        if press.data == cards.CLAIM:
            await staff.claim(rt, tid, actor)
            text = say(rt.config.locale, "claimed_by", tid=tid, who=actor)
        elif press.data == cards.RESOLVE:
            await staff.resolve(rt, tid, actor, None)
            text = say(rt.config.locale, "resolved_ok", tid=tid)
        else:
            text = say(rt.config.locale, "unknown_button")
    except GatewayError as exc:
        text = await _refusal(rt, tid, exc)
    await _answer(support, press, text)


async def _answer(support: StaffRoomSupport, press: ButtonPress, text: str) -> None:
    try:
        await support.answer_button(press.query_id, text)
    except GatewayError as exc:
        # A query expires after some seconds (or was answered before a replay): the
        # action itself is done and shows on the card.
        log.info("staff room: button answer failed", extra={"error": exc.message})
