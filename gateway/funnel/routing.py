"""What one resident message means for the queue: a PURE function, no I/O.

The consumer gathers a small ``RoutingState`` snapshot from Redis (what the message
replies to, whether the sender has an open ticket in this direct chat, whether the
edited message is stored), then ``route`` decides. The ticket store re-checks the
parts that can race (an open ticket being resolved meanwhile) atomically, so the
snapshot may be slightly stale without making two tickets.

The rules are the contract's "What reaches the queue":

- direct chat: everything. A follow-up while the resident's ticket there is open,
  else a new ticket (``reply`` when answering an announcement, ``report`` for
  ``/report``, ``message`` otherwise);
- group: only replies to announcements (``reply``), mentions of the bot
  (``message``), ``/report`` and ``/报修`` (``report``) and ``/ask`` (``message``);
  a reply to the bot's acknowledgement or a staff answer joins that ticket;
- ``/start`` and ``/help`` get the help text and no ticket;
- anything else in a group is chatter: ignored, neither stored nor logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gateway.models import AnnouncementId, ChatKind, Command, InboundMessage, TicketId, UserId


class TicketKind(StrEnum):
    REPORT = "report"
    REPLY = "reply"
    MESSAGE = "message"


class Action(StrEnum):
    IGNORE = "ignore"
    HELP = "help"
    NEW = "new"
    FOLLOW_UP = "follow_up"
    EDIT = "edit"


@dataclass(frozen=True, slots=True)
class TicketRef:
    """A ticket some message belongs to, with what routing needs to know about it."""

    ticket: TicketId
    resident: UserId
    resolved: bool


@dataclass(frozen=True, slots=True)
class RoutingState:
    """What Redis knows that matters for one message."""

    reply_to_announcement: AnnouncementId | None = None
    """``reply_to`` is a message of this announcement."""
    reply_to_ticket: TicketRef | None = None
    """``reply_to`` is one of the bot's ticket messages (ack, staff answer) or a stored one."""
    open_direct_ticket: TicketId | None = None
    """The sender's open ticket in this direct chat."""
    edited_ticket: TicketId | None = None
    """``edit_of`` names a message stored in this ticket."""


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    kind: TicketKind | None = None
    ticket: TicketId | None = None
    announcement: AnnouncementId | None = None


IGNORE = Decision(Action.IGNORE)
HELP = Decision(Action.HELP)


def route(msg: InboundMessage, state: RoutingState) -> Decision:
    if msg.sender.is_bot:
        # Other bots, and our own echoes on Matrix: never a resident's message.
        return IGNORE
    if msg.edit_of is not None and state.edited_ticket is not None:
        return Decision(Action.EDIT, ticket=state.edited_ticket)
    # An edit of a message never stored (chatter, or from before palm ran) is judged
    # on its own, as if it were new.
    if msg.command in (Command.START, Command.HELP):
        return HELP
    if msg.chat_kind is ChatKind.DIRECT:
        return _direct(msg, state)
    return _group(msg, state)


def _new_kind(msg: InboundMessage, state: RoutingState) -> Decision:
    if state.reply_to_announcement is not None:
        return Decision(Action.NEW, TicketKind.REPLY, announcement=state.reply_to_announcement)
    if msg.command is Command.REPORT:
        return Decision(Action.NEW, TicketKind.REPORT)
    return Decision(Action.NEW, TicketKind.MESSAGE)


def _direct(msg: InboundMessage, state: RoutingState) -> Decision:
    if state.open_direct_ticket is not None:
        return Decision(Action.FOLLOW_UP, ticket=state.open_direct_ticket)
    return _new_kind(msg, state)


def _group(msg: InboundMessage, state: RoutingState) -> Decision:
    ref = state.reply_to_ticket
    if ref is not None and not ref.resolved and ref.resident == msg.sender.user_id:
        return Decision(Action.FOLLOW_UP, ticket=ref.ticket)
    if state.reply_to_announcement is not None or msg.command is Command.REPORT:
        return _new_kind(msg, state)
    # Another resident answering the bot in a group addresses staff too, and so does
    # a resident answering after their ticket was resolved: a new conversation.
    if msg.command is Command.ASK or msg.mentions_bot or ref is not None:
        return Decision(Action.NEW, TicketKind.MESSAGE)
    return IGNORE
