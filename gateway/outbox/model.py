"""The outbox's values: what goes in (``OutboxItem``) and what comes out (``DeliveryResult``)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.models import (
    ChatKind,
    DeliveryId,
    OutboundMessage,
    Platform,
    PlatformMessageId,
    TargetId,
)

if TYPE_CHECKING:
    from gateway.runtime import Runtime

QUEUED = "queued"
SENT = "sent"
FAILED = "failed"
RECALLED = "recalled"
SUPERSEDED = "superseded"
"""An edit that was not made because a newer edit of the same message was queued."""
STATES = (QUEUED, SENT, FAILED, RECALLED, SUPERSEDED)
FINAL = frozenset({SENT, FAILED, RECALLED, SUPERSEDED})


@dataclass(frozen=True, slots=True)
class Anchor:
    """An item that refers to an earlier delivery, whose platform message ids are only
    known once it was sent: the worker waits for it (retrying), then edits that message
    (``edit``) or replies to it (else; in its thread when the message says ``thread``).

    Edits of one message may be taken by several workers at once; ``version`` (with
    ``version_key``, a Redis hash field holding the newest version queued) lets an edit
    that was overtaken by a newer one end without touching the message.
    """

    delivery_id: DeliveryId
    edit: bool = False
    version_key: str | None = None
    version: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "delivery_id": self.delivery_id,
            "edit": self.edit,
            "version_key": self.version_key,
            "version": self.version,
        }

    @classmethod
    def from_json(cls, d: Any) -> Anchor | None:
        if not isinstance(d, dict) or not d.get("delivery_id"):
            return None
        return cls(
            DeliveryId(str(d["delivery_id"])),
            bool(d.get("edit")),
            d.get("version_key") or None,
            int(d.get("version") or 0),
        )


@dataclass(frozen=True, slots=True)
class OutboxItem:
    delivery_id: DeliveryId
    """Globally unique and stable; also the message's ``idempotency_key``."""
    origin: str
    """``announcement`` or ``ticket``."""
    origin_id: str
    """``A-17`` or ``T-42``."""
    message: OutboundMessage
    anchor: Anchor | None = None
    ordered: bool = False
    """Sent only once the previous ordered item of the same ``origin_id`` is final (sent
    or failed): a ticket's messages reach the resident in the order they were queued."""


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    delivery_id: DeliveryId
    origin: str
    origin_id: str
    target: TargetId
    state: str
    """``sent``, ``failed`` or ``superseded``."""
    message_ids: tuple[PlatformMessageId, ...]
    reason: str | None
    retryable: bool
    attempts: int


@dataclass(frozen=True, slots=True)
class Taken:
    """What a worker learns when it takes a delivery (``OutboxStore.take``)."""

    state: str
    takes: int
    """Takes so far, this one included."""
    inflight: bool
    """Its last holder died while sending it."""
    crashes: int
    """Takes that found it in flight (crashes while it was being sent)."""
    delivery: Delivery
    target: TargetStatus | None = None
    """The target's status as the take found it (``None``: not asked, or not known)."""


@dataclass(frozen=True, slots=True)
class Parked:
    """What a take found instead of a delivery to send: it must follow ``after``, still
    queued, so it left its stream; ``after`` queues it again once final (``lua.TAKE_LUA``)."""

    after: str


@dataclass(frozen=True, slots=True)
class TargetStatus:
    """What a worker needs of a target before sending: the directory's state and kind."""

    active: bool
    kind: ChatKind
    reason: str | None

    @classmethod
    def from_fields(cls, fields: Any) -> TargetStatus | None:
        """From ``HMGET state kind reason admission``; ``None`` for a target not in the
        directory. A rejected chat gets nothing more (a pending one still gets the one
        "awaiting approval" notice, so pending alone does not stop a send)."""
        state, kind, reason, admission = [*(fields or []), None, None, None, None][:4]
        if state is None and kind is None:
            return None
        if admission == "rejected":
            return cls(False, ChatKind(kind or ChatKind.GROUP.value), "rejected by an admin")
        return cls(
            (state or "active") == "active",
            ChatKind(kind or ChatKind.GROUP.value),
            str(reason) if reason else None,
        )


DeliveryHook = Callable[["Runtime", DeliveryResult], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One delivery as stored: the read model for ``show``, progress and edit/recall."""

    delivery_id: DeliveryId
    origin: str
    origin_id: str
    target: TargetId
    platform: Platform
    priority: str
    state: str
    reason: str | None
    retryable: bool
    attempts: int
    message_ids: tuple[PlatformMessageId, ...]
    created_at: float
    sent_at: float | None
    updated_at: float
    possible_duplicate: bool
    body: str
    """Hash of the stored message body."""

    def result(self) -> DeliveryResult:
        return DeliveryResult(
            self.delivery_id,
            self.origin,
            self.origin_id,
            self.target,
            self.state,
            self.message_ids,
            self.reason,
            self.retryable,
            self.attempts,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "delivery_id": self.delivery_id,
            "target": self.target,
            "platform": self.platform,
            "state": self.state,
            "reason": self.reason,
            "retryable": self.retryable,
            "attempts": self.attempts,
            "message_ids": list(self.message_ids),
            "created_at": self.created_at,
            "sent_at": self.sent_at,
            "possible_duplicate": self.possible_duplicate,
        }

    @classmethod
    def from_hash(cls, delivery_id: str, h: dict[str, str]) -> Delivery:
        return cls(
            delivery_id=DeliveryId(delivery_id),
            origin=h.get("origin", ""),
            origin_id=h.get("origin_id", ""),
            target=TargetId(h.get("target", "")),
            platform=Platform(h.get("platform", "")),
            priority=h.get("priority", "normal"),
            state=h.get("state", QUEUED),
            reason=h.get("reason") or None,
            retryable=h.get("retryable") == "1",
            attempts=int(h.get("attempts") or 0),
            message_ids=tuple(
                PlatformMessageId(m) for m in json.loads(h.get("message_ids") or "[]")
            ),
            created_at=float(h.get("created_at") or 0),
            sent_at=float(h["sent_at"]) if h.get("sent_at") else None,
            updated_at=float(h.get("updated_at") or 0),
            possible_duplicate=h.get("possible_duplicate") == "1",
            body=h.get("body", ""),
        )
