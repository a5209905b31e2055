"""JSON encoding of the cross-layer models, for Redis streams and hashes.

Only core models are encoded here; platform JSON never reaches Redis.
"""

from __future__ import annotations

import json
from typing import Any

import pydantic_core

from gateway.models import (
    Attachment,
    AttachmentKind,
    ButtonPress,
    ChatKind,
    Command,
    InboundEvent,
    InboundMessage,
    Location,
    Platform,
    PlatformMessageId,
    PollVote,
    Sender,
    TargetGone,
    TargetId,
    TargetMigrated,
    TargetSeen,
    UserId,
)

__all__ = ["attachments_json", "decode_event", "encode_event", "location_json"]

_TYPES: dict[str, type[Any]] = {
    "message": InboundMessage,
    "target_seen": TargetSeen,
    "target_gone": TargetGone,
    "target_migrated": TargetMigrated,
    "button": ButtonPress,
    "poll_vote": PollVote,
}
_NAMES = {v: k for k, v in _TYPES.items()}


def attachments_json(m: InboundMessage) -> list[dict[str, Any]]:
    """A message's attachments as JSON-ready dicts (also stored on tickets)."""
    return [
        {"kind": a.kind.value, "ref": a.ref, "name": a.name, "mime": a.mime, "size": a.size}
        for a in m.attachments
    ]


def location_json(m: InboundMessage) -> dict[str, Any] | None:
    if m.location is None:
        return None
    loc = m.location
    return {"latitude": loc.latitude, "longitude": loc.longitude, "title": loc.title}


def _message_to_dict(m: InboundMessage) -> dict[str, Any]:
    return {
        "platform": m.platform,
        "dedupe_key": m.dedupe_key,
        "target": m.target,
        "chat_kind": m.chat_kind.value,
        "message_id": m.message_id,
        "sender": {
            "user_id": m.sender.user_id,
            "display_name": m.sender.display_name,
            "language": m.sender.language,
            "is_bot": m.sender.is_bot,
        },
        "text": m.text,
        "sent_at": m.sent_at,
        "chat_title": m.chat_title,
        "reply_to": m.reply_to,
        "mentions_bot": m.mentions_bot,
        "command": m.command.value if m.command else None,
        "attachments": attachments_json(m),
        "location": location_json(m),
        "edit_of": m.edit_of,
    }


def _message_from_dict(d: dict[str, Any]) -> InboundMessage:
    s = d["sender"]
    loc = d.get("location")
    return InboundMessage(
        platform=Platform(d["platform"]),
        dedupe_key=d["dedupe_key"],
        target=TargetId(d["target"]),
        chat_kind=ChatKind(d["chat_kind"]),
        message_id=PlatformMessageId(d["message_id"]),
        sender=Sender(
            user_id=UserId(s["user_id"]),
            display_name=s["display_name"],
            language=s.get("language"),
            is_bot=bool(s.get("is_bot", False)),
        ),
        text=d["text"],
        sent_at=float(d["sent_at"]),
        chat_title=d.get("chat_title"),
        reply_to=PlatformMessageId(d["reply_to"]) if d.get("reply_to") else None,
        mentions_bot=bool(d.get("mentions_bot", False)),
        command=Command(d["command"]) if d.get("command") else None,
        attachments=tuple(
            Attachment(
                kind=AttachmentKind(a["kind"]),
                ref=a["ref"],
                name=a.get("name"),
                mime=a.get("mime"),
                size=a.get("size"),
            )
            for a in d.get("attachments", [])
        ),
        location=Location(loc["latitude"], loc["longitude"], loc.get("title")) if loc else None,
        edit_of=PlatformMessageId(d["edit_of"]) if d.get("edit_of") else None,
    )


def _button_to_dict(b: ButtonPress) -> dict[str, Any]:
    return {
        "platform": b.platform,
        "dedupe_key": b.dedupe_key,
        "target": b.target,
        "message_id": b.message_id,
        "sender": {
            "user_id": b.sender.user_id,
            "display_name": b.sender.display_name,
            "language": b.sender.language,
        },
        "data": b.data,
        "query_id": b.query_id,
        "sent_at": b.sent_at,
    }


def _button_from_dict(d: dict[str, Any]) -> ButtonPress:
    s = d["sender"]
    return ButtonPress(
        platform=Platform(d["platform"]),
        dedupe_key=str(d["dedupe_key"]),
        target=TargetId(d["target"]),
        message_id=PlatformMessageId(d["message_id"]),
        sender=Sender(UserId(s["user_id"]), str(s["display_name"]), s.get("language")),
        data=str(d["data"]),
        query_id=str(d["query_id"]),
        sent_at=float(d["sent_at"]),
    )


def _vote_to_dict(v: PollVote) -> dict[str, Any]:
    return {
        "platform": v.platform,
        "dedupe_key": v.dedupe_key,
        "poll_ref": v.poll_ref,
        "sender": {"user_id": v.sender.user_id, "display_name": v.sender.display_name},
        "options": list(v.options),
        "sent_at": v.sent_at,
        "target": v.target,
    }


def _vote_from_dict(d: dict[str, Any]) -> PollVote:
    s = d["sender"]
    return PollVote(
        platform=Platform(d["platform"]),
        dedupe_key=str(d["dedupe_key"]),
        poll_ref=str(d["poll_ref"]),
        sender=Sender(UserId(s["user_id"]), str(s["display_name"])),
        options=tuple(int(o) for o in d["options"]),
        sent_at=float(d["sent_at"]),
        target=TargetId(d["target"]) if d.get("target") else None,
    )


def encode_event(event: InboundEvent) -> str:
    kind = _NAMES[type(event)]
    body: dict[str, Any]
    if isinstance(event, InboundMessage):
        body = _message_to_dict(event)
    elif isinstance(event, TargetSeen):
        body = {
            "target": event.target,
            "kind": event.kind.value,
            "title": event.title,
            "reason": event.reason,
        }
    elif isinstance(event, TargetGone):
        body = {"target": event.target, "reason": event.reason}
    elif isinstance(event, ButtonPress):
        body = _button_to_dict(event)
    elif isinstance(event, PollVote):
        body = _vote_to_dict(event)
    else:
        body = {"old": event.old, "new": event.new}
    # pydantic-core's encoder (already a dependency) writes the same compact UTF-8 JSON as
    # json.dumps(ensure_ascii=False, separators=(",", ":")), NaN/Infinity included, in a
    # sixth of the time: this runs once per inbound update, on the webhook's path to 200.
    # A lone surrogate raises ValueError here, for this caller only (json.dumps let it
    # through to fail the whole group commit in the sink).
    return pydantic_core.to_json({"type": kind, **body}).decode()


def decode_event(raw: str | bytes) -> InboundEvent:
    """Inverse of ``encode_event``. Raises ``ValueError`` on anything malformed."""
    try:
        d = json.loads(raw)
        kind = d.pop("type")
        if kind == "message":
            return _message_from_dict(d)
        if kind == "target_seen":
            return TargetSeen(
                TargetId(d["target"]), ChatKind(d["kind"]), d.get("title"), d.get("reason")
            )
        if kind == "target_gone":
            return TargetGone(TargetId(d["target"]), d["reason"])
        if kind == "target_migrated":
            return TargetMigrated(TargetId(d["old"]), TargetId(d["new"]))
        if kind == "button":
            return _button_from_dict(d)
        if kind == "poll_vote":
            return _vote_from_dict(d)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"malformed inbound event: {exc}") from exc
    raise ValueError(f"unknown inbound event type {kind!r}")
