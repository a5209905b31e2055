"""Residents' photos and files, forwarded under the card.

The ticket stores platform references (a Telegram ``file_id``, a Matrix ``mxc://``
URI); a staff room on another platform needs the bytes. The resident's adapter fetches
them (``AttachmentSource``) and each is posted under the card as its own message (the
card itself stays text, so it can be edited in place). A file that cannot be fetched
(too big, gone, the platform away) is skipped: the card and the follow-up already say
how many the resident sent, and ``palm tickets show`` lists them.
"""

from __future__ import annotations

import logging
import mimetypes
from typing import Any, Protocol, runtime_checkable

from gateway.attachments import MAX_ATTACHMENT_BYTES
from gateway.errors import GatewayError
from gateway.models import AttachmentKind, OutboundAttachment
from gateway.runtime import Runtime

log = logging.getLogger("palm.staffroom")


@runtime_checkable
class AttachmentSource(Protocol):
    async def fetch_attachment(self, ref: str) -> bytes:
        """The bytes behind a platform's media reference."""
        ...


def _name(a: dict[str, Any], n: int) -> tuple[str, str]:
    kind = str(a.get("kind") or "file")
    name = str(a.get("name") or "")
    mime = str(a.get("mime") or "")
    if not name:
        ext = mimetypes.guess_extension(mime) if mime else None
        name = f"{kind}-{n + 1}{ext or ('.jpg' if kind == 'photo' else '')}"
    if not mime:
        mime = mimetypes.guess_type(name)[0] or (
            "image/jpeg" if kind == "photo" else "application/octet-stream"
        )
    return name, mime


async def fetch(rt: Runtime, platform: str, refs: list[dict[str, Any]]) -> list[OutboundAttachment]:
    """The attachments of one resident message, as bytes ready to post."""
    source: object = rt.adapters.get(platform)
    if not refs or not isinstance(source, AttachmentSource):
        return []
    out: list[OutboundAttachment] = []
    for n, a in enumerate(refs):
        size = a.get("size")
        if isinstance(size, int) and size > MAX_ATTACHMENT_BYTES:
            continue
        try:
            data = await source.fetch_attachment(str(a.get("ref") or ""))
        except GatewayError as exc:
            log.warning("staff room: attachment not fetched", extra={"error": exc.message})
            continue
        if not data or len(data) > MAX_ATTACHMENT_BYTES:
            continue
        try:
            kind = AttachmentKind(str(a.get("kind")))
        except ValueError:
            kind = AttachmentKind.FILE
        name, mime = _name(a, n)
        out.append(OutboundAttachment(kind, name, mime, data))
    return out
