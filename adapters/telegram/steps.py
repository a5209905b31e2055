"""What one ``OutboundMessage`` becomes on Telegram, before any I/O: its steps and buttons.

A message may become several Telegram messages ("steps"): each media attachment (the first
carries the caption), then the text parts that did not fit. Pure, so the split is tested
on its own (``tests/confirm/test_pure.py``, ``tests/hardening/test_render_once.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from adapters.telegram.render import CAPTION_LIMIT, mentions_html, render
from gateway.models import OutboundAttachment, OutboundMessage


@dataclass(frozen=True, slots=True)
class Step:
    """One Telegram message of an outbound message: a text part or one attachment."""

    html: str | None
    attachment: OutboundAttachment | None = None


def plan(msg: OutboundMessage) -> list[Step]:
    """The Telegram messages ``msg`` becomes, in order."""
    if not msg.attachments:
        parts = render(msg.text, plain=msg.plain, title=msg.title)
        if msg.mentions:  # callers keep the names within the limits (gateway.confirm.remind)
            parts = [*parts[:-1], (parts[-1] + "\n" if parts else "") + mentions_html(msg)]
        return [Step(p) for p in parts] or [Step("\u2063")]  # invisible: never empty
    parts = render(msg.text, plain=msg.plain, title=msg.title, first_limit=CAPTION_LIMIT)
    caption, rest = (parts[0], parts[1:]) if parts else (None, [])
    media = [Step(caption if i == 0 else None, a) for i, a in enumerate(msg.attachments)]
    return media + [Step(p) for p in rest]


def keyboard(msg: OutboundMessage) -> InlineKeyboardMarkup | None:
    """The message's buttons as one row of an inline keyboard, or none.

    An edit without ``reply_markup`` removes the buttons (Telegram's rule), which is
    what ``buttons=()`` asks for; an empty keyboard is not valid JSON to Telegram.
    """
    if not msg.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.data) for b in msg.buttons]]
    )
