"""Outbound message content and deterministic transaction ids.

Messages go out as ``m.text``, not ``m.notice``: Matrix's default push rules
(``.m.rule.suppress_notices``) silence notices, and a water-off notice must notify.
The bot's own events are never read back as resident messages (see ``normalize``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from gateway.markdown import escape_html, parse, to_html, to_plain
from gateway.models import AttachmentKind, OutboundAttachment, OutboundMessage

HTML_FORMAT = "org.matrix.custom.html"

_ATTACHMENT_MSGTYPES = {
    AttachmentKind.PHOTO: "m.image",
    AttachmentKind.FILE: "m.file",
    AttachmentKind.VOICE: "m.audio",
    AttachmentKind.VIDEO: "m.video",
}


def txn_id(*parts: str | int) -> str:
    """A transaction id that is the same for the same parts on every retry and restart.

    Synapse remembers (device, txn id) -> event id, so resending with it returns the
    first event instead of posting again. Hashing keeps it URL-safe and bounded.
    """
    digest = hashlib.sha256("\x00".join(str(p) for p in parts).encode()).hexdigest()
    return f"palm.{digest[:40]}"


def text_content(msg: OutboundMessage) -> dict[str, Any]:
    """``body`` (plain) and ``formatted_body`` (HTML) for one outbound message."""
    if msg.plain:
        # Staff replies: shown exactly as written, every character escaped in the HTML.
        body = msg.text
        html = escape_html(msg.text).replace("\n", "<br>")
    else:
        blocks = parse(msg.text)
        body = to_plain(blocks)
        html = to_html(blocks, block_tags=True)
    if msg.title:
        body = f"{msg.title}\n\n{body}"
        html = f"<p><b>{escape_html(msg.title)}</b></p>{html}"
    if msg.mentions:
        body += "\n" + ", ".join(m.name for m in msg.mentions)
        html += "<br>" + ", ".join(
            f'<a href="https://matrix.to/#/{escape_html(m.user_id)}">{escape_html(m.name)}</a>'
            for m in msg.mentions
        )
    content: dict[str, Any] = {
        "msgtype": "m.text",
        "body": body,
        "format": HTML_FORMAT,
        "formatted_body": html,
    }
    if msg.mentions:  # the intentional-mentions field: these users are notified
        content["m.mentions"] = {"user_ids": [m.user_id for m in msg.mentions]}
    if msg.reply_to and msg.thread:
        # In the thread of ``reply_to``; clients without threads see a plain reply.
        content["m.relates_to"] = {
            "rel_type": "m.thread",
            "event_id": msg.reply_to,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": msg.reply_to},
        }
    elif msg.reply_to:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": msg.reply_to}}
    return content


def edit_content(original_event_id: str, msg: OutboundMessage) -> dict[str, Any]:
    """An ``m.replace`` edit; the outer body is the fallback ``* text`` the spec asks for."""
    new = text_content(msg)
    new.pop("m.relates_to", None)
    return {
        "msgtype": new["msgtype"],
        "body": f"* {new['body']}",
        "format": HTML_FORMAT,
        "formatted_body": f"* {new['formatted_body']}",
        "m.new_content": new,
        "m.relates_to": {"rel_type": "m.replace", "event_id": original_event_id},
    }


def content_digest(content: dict[str, Any]) -> str:
    """Tells two different edits of one message apart (each needs its own txn id)."""
    return hashlib.sha256(
        json.dumps(content, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()[:16]


def attachment_content(att: OutboundAttachment, mxc: str) -> dict[str, Any]:
    return {
        "msgtype": _ATTACHMENT_MSGTYPES[att.kind],
        "body": att.filename,
        "filename": att.filename,
        "url": mxc,
        "info": {"mimetype": att.mime, "size": len(att.data)},
    }
