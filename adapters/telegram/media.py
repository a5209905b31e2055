"""The Bot API's caps on uploads, applied before a request is made.

sendPhoto: "The photo must be at most 10 MB in size", so a larger image goes as a file
(sendDocument, uncompressed). sendDocument: "Bots can currently send files of any type
of up to 50 MB in size"; above that the real server answers 413, which
python-telegram-bot reports as a ``NetworkError`` (retryable), so palm refuses it first.
"""

from __future__ import annotations

from gateway import errors as gw
from gateway.models import AttachmentKind, OutboundAttachment, OutboundMessage

PHOTO_MAX_BYTES = 10 * 1024 * 1024
FILE_MAX_BYTES = 50 * 1024 * 1024


def as_photo(a: OutboundAttachment) -> bool:
    """Whether ``a`` goes as a photo (compressed, shown inline) rather than as a file."""
    return a.kind is AttachmentKind.PHOTO and len(a.data) <= PHOTO_MAX_BYTES


def check_sizes(msg: OutboundMessage) -> None:
    """Refuse what Telegram would refuse, before any step of ``msg`` is sent."""
    for a in msg.attachments:
        if len(a.data) > FILE_MAX_BYTES:
            raise gw.Rejected(
                f"telegram: {a.filename} is {len(a.data) / 1048576:.1f} MB; "
                "bots can send files of at most 50 MB"
            )
