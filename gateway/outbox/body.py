"""A delivery's body: the JSON an ``OutboundMessage`` is stored as, and back.

Bodies are content-addressed (``outbox:body:<sha256>``, see ``gateway.outbox.store``),
so one announcement's deliveries share one; attachment bytes go to the blob store and
the body keeps their hashes. Keys that are unset are left out so that the bodies, and
their hashes, of messages without the newer features stay as they were.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from gateway.attachments import load_blob, store_blob
from gateway.models import (
    AttachmentKind,
    Button,
    Mention,
    OutboundAttachment,
    OutboundMessage,
    PlatformMessageId,
    PollSpec,
    Priority,
    UserId,
)
from gateway.outbox.model import Anchor, Delivery

if TYPE_CHECKING:
    from gateway.runtime import Runtime


async def encode_body(rt: Runtime, msg: OutboundMessage, anchor: Anchor | None = None) -> str:
    """``msg`` (and the delivery it refers to) as the body's JSON; stores the attachments."""
    atts = []
    for a in msg.attachments:
        ref = await store_blob(rt, a.data)
        atts.append({"kind": a.kind.value, "filename": a.filename, "mime": a.mime, "blob": ref.sha})
    body: dict[str, Any] = {
        "text": msg.text,
        "title": msg.title,
        "reply_to": msg.reply_to,
        "plain": msg.plain,
        "attachments": atts,
    }
    # Only when set, so the bodies (and hashes) of everything else stay as they were.
    if msg.buttons is not None:
        body["buttons"] = [[b.label, b.data] for b in msg.buttons]
    if msg.thread:
        body["thread"] = True
    if msg.poll is not None:
        p = msg.poll
        body["poll"] = {"q": p.question, "o": list(p.options), "m": p.multiple}
    if msg.stop_poll:
        body["stop_poll"] = True
    if msg.mentions:
        body["mentions"] = [[m.user_id, m.name] for m in msg.mentions]
    if anchor is not None:
        body["anchor"] = anchor.to_json()
    return json.dumps(body, ensure_ascii=False, sort_keys=True)


async def decode_message(
    rt: Runtime, d: Delivery, body: dict[str, Any], *, text: str | None = None
) -> OutboundMessage:
    """The ``OutboundMessage`` of delivery ``d`` with its parsed ``body`` (``text``
    replaced for edits); loads the attachments' bytes."""
    atts: list[OutboundAttachment] = []
    for a in body.get("attachments", []):
        data = await load_blob(rt, a["blob"])
        atts.append(OutboundAttachment(AttachmentKind(a["kind"]), a["filename"], a["mime"], data))
    return OutboundMessage(
        target=d.target,
        text=text if text is not None else body.get("text", ""),
        idempotency_key=d.delivery_id,
        title=body.get("title"),
        attachments=tuple(atts),
        reply_to=PlatformMessageId(body["reply_to"]) if body.get("reply_to") else None,
        priority=Priority(d.priority),
        plain=bool(body.get("plain")),
        buttons=_buttons(body.get("buttons")),
        thread=bool(body.get("thread")),
        poll=_poll(body.get("poll")),
        stop_poll=bool(body.get("stop_poll")),
        mentions=tuple(Mention(UserId(u), n) for u, n in body.get("mentions") or ()),
    )


def _buttons(raw: Any) -> tuple[Button, ...] | None:
    if not isinstance(raw, list):
        return None
    return tuple(Button(str(label), str(data)) for label, data in raw)


def _poll(raw: Any) -> PollSpec | None:
    if not isinstance(raw, dict):
        return None
    return PollSpec(str(raw["q"]), tuple(str(o) for o in raw["o"]), bool(raw.get("m")))
