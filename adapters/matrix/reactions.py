"""``m.reaction`` events: a resident's ✅ under the bot's message confirms a notice.

A reaction is normalised to a ``ButtonPress`` (``data = "react:<key>"``): it is the
same gesture as pressing Telegram's inline button. Pure and defensive like
``normalize``: anything malformed is ``None``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from gateway.models import (
    REACTION_PREFIX,
    ButtonPress,
    Platform,
    PlatformMessageId,
    Sender,
    UserId,
    make_target_id,
)

PLATFORM = Platform("matrix")


def reaction_key(key: str) -> str:
    """Clients differ in variation selectors (``✅`` vs ``✅️``): compare without them."""
    return "".join(c for c in key if unicodedata.category(c) != "Mn" and c != "\ufe0f")


def reaction_event(
    room_id: str, ev: Mapping[str, Any], bot_user: str, names: Mapping[str, str]
) -> ButtonPress | None:
    sender, event_id = ev.get("sender"), ev.get("event_id")
    content = ev.get("content")
    if not isinstance(sender, str) or not isinstance(event_id, str) or sender == bot_user:
        return None
    relates = content.get("m.relates_to") if isinstance(content, Mapping) else None
    if not isinstance(relates, Mapping) or relates.get("rel_type") != "m.annotation":
        return None
    target, key = relates.get("event_id"), relates.get("key")
    if not isinstance(target, str) or not isinstance(key, str) or not key:
        return None
    ts = ev.get("origin_server_ts")
    return ButtonPress(
        platform=PLATFORM,
        dedupe_key=event_id,
        target=make_target_id(PLATFORM, room_id),
        message_id=PlatformMessageId(target),
        sender=Sender(UserId(sender), names.get(sender) or sender.partition(":")[0][1:] or sender),
        data=REACTION_PREFIX + reaction_key(key),
        query_id="",
        sent_at=ts / 1000.0 if isinstance(ts, int | float) else 0.0,
    )
