"""Building normalised inbound messages for funnel and ticket tests."""

from __future__ import annotations

import itertools
import time

from gateway.models import (
    ChatKind,
    Command,
    InboundMessage,
    Platform,
    PlatformMessageId,
    Sender,
    TargetId,
    UserId,
)

GROUP = TargetId("telegram:-1001234567890")
_ids = itertools.count(1000)


def message(
    text: str,
    *,
    target: str = GROUP,
    kind: ChatKind = ChatKind.GROUP,
    user: str = "501",
    name: str = "Li Wei",
    language: str | None = "zh-hans",
    command: Command | None = None,
    reply_to: str | None = None,
    mentions_bot: bool = False,
    edit_of: str | None = None,
    message_id: str | None = None,
    is_bot: bool = False,
) -> InboundMessage:
    n = next(_ids)
    return InboundMessage(
        platform=Platform(target.split(":", 1)[0]),
        dedupe_key=f"u{n}",
        target=TargetId(target),
        chat_kind=kind,
        message_id=PlatformMessageId(message_id or str(n)),
        sender=Sender(UserId(user), name, language, is_bot),
        text=text,
        sent_at=time.time(),
        reply_to=PlatformMessageId(reply_to) if reply_to else None,
        mentions_bot=mentions_bot,
        command=command,
        edit_of=PlatformMessageId(edit_of) if edit_of else None,
    )


def direct(text: str, *, user: str = "501", **kw: object) -> InboundMessage:
    return message(text, target=f"telegram:{user}", kind=ChatKind.DIRECT, user=user, **kw)  # type: ignore[arg-type]
