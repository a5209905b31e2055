"""What a ticket is, as stored and shown: its status, its fields, its messages' JSON.

Plain values, no Redis: the store (``gateway.funnel.tickets``) writes and reads them,
the console, the CLI and the API show them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from gateway.codec import attachments_json, location_json
from gateway.errors import InputError
from gateway.models import DeliveryId, InboundMessage, TicketId
from gateway.safety.inert import visible


class Status(StrEnum):
    NEW = "new"
    CLAIMED = "claimed"
    RESOLVED = "resolved"


OPEN_STATUSES = (Status.NEW, Status.CLAIMED)


@dataclass(frozen=True, slots=True)
class Applied:
    """What storing one inbound message did."""

    ticket: TicketId | None
    index: int
    outcome: str  # created | appended | duplicate | edited | lost

    @property
    def created(self) -> bool:
        """This message opened the ticket (also true when redelivered: index 0)."""
        return self.ticket is not None and self.index == 0


@dataclass(frozen=True, slots=True)
class Written:
    """What handling an entry wrote that its ack must find on the same Redis server."""

    message: str = ""
    """The ``ticket:bymsg`` field of the message it stored ('' when none)."""
    deliveries: tuple[DeliveryId, ...] = ()
    """The outbox deliveries it queued (the acknowledgement, the help text)."""


NOTHING = Written()


@dataclass(frozen=True, slots=True)
class Ticket:
    """The ticket's fields (not its messages), as stored."""

    id: TicketId
    kind: str
    status: str
    category: str
    priority: str
    platform: str
    target: str
    chat_kind: str
    chat_title: str | None
    """The group's name when the platform gave one (staff know chats by name, not id)."""
    resident_id: str
    resident_name: str
    language: str
    first_message_id: str
    announcement: str | None
    received_at: float
    first_response_at: float | None
    resolved_at: float | None
    assignee: str | None
    note: str | None
    messages: int
    text: str

    @classmethod
    def from_hash(cls, h: dict[str, str]) -> Ticket:
        def opt(name: str) -> str | None:
            return h.get(name) or None

        def num(name: str) -> float | None:
            v = h.get(name)
            return float(v) if v else None

        return cls(
            id=TicketId(h["id"]),
            kind=h["kind"],
            status=h["status"],
            category=h["category"],
            priority=h["priority"],
            platform=h["platform"],
            target=h["target"],
            chat_kind=h["chat_kind"],
            chat_title=opt("chat_title"),
            resident_id=h["resident_id"],
            resident_name=h["resident_name"],
            language=h["language"],
            first_message_id=h["first_message_id"],
            announcement=opt("announcement"),
            received_at=float(h["received_at"]),
            first_response_at=num("first_response_at"),
            resolved_at=num("resolved_at"),
            assignee=opt("assignee"),
            note=opt("note"),
            messages=int(h.get("messages", "0")),
            text=h.get("text", ""),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "category": self.category,
            "priority": self.priority,
            "resident": {
                "platform": self.platform,
                "user_id": self.resident_id,
                "display_name": self.resident_name,
                "language": self.language,
            },
            "target": self.target,
            "chat_kind": self.chat_kind,
            "chat_title": self.chat_title,
            "first_message_id": self.first_message_id,
            "announcement": self.announcement,
            "received_at": self.received_at,
            "first_response_at": self.first_response_at,
            "resolved_at": self.resolved_at,
            "assignee": self.assignee,
            "note": self.note,
            "messages": self.messages,
            "text": self.text,
        }


def message_json(msg: InboundMessage, now: float) -> str:
    return json.dumps(
        {
            "direction": "in",
            "message_id": msg.message_id,
            "sender": {"user_id": msg.sender.user_id, "display_name": msg.sender.display_name},
            "text": msg.text,
            "command": msg.command.value if msg.command else None,
            "attachments": attachments_json(msg),
            "location": location_json(msg),
            "sent_at": msg.sent_at,
            "received_at": now,
            "reply_to": msg.reply_to,
        },
        ensure_ascii=False,
    )


def parse_ticket_id(raw: str) -> TicketId:
    value = raw.strip().upper()
    if value.isdigit():
        value = f"T-{value}"
    if not value.startswith("T-") or not value[2:].isdigit():
        raise InputError(
            f"{raw!r} is not a ticket id like T-42",
            zh=f"「{visible(raw, one_line=True)}」不是工单编号（应像 T-42 这样）",
        )
    return TicketId(value)
