"""Remind: one message per chat naming each resident who has not confirmed there.

The reminder replies to the notice in that chat (so the button and ✅ are one tap
away) and mentions each resident by user id: Telegram text mentions, Matrix pills
with ``m.mentions.user_ids``. At most 50 names per message (more are split), each
name cut to 64 characters, so a message stays far inside Telegram's 4096 characters.
A chat gets at most one reminder per ``confirmations.remind_every_seconds``; the
claim is one ``SET NX EX`` per chat, so two staff racing send one reminder.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from gateway.confirm.rollup import ChatRollup, rollup
from gateway.confirm.store import ConfirmStore
from gateway.errors import Conflict
from gateway.models import (
    DeliveryId,
    Mention,
    OutboundMessage,
    PlatformMessageId,
    TargetId,
    UserId,
)
from gateway.outbox import OutboxItem, OutboxStore, enqueue
from gateway.runtime import Runtime

ORIGIN = "confirm-remind"
"""Outbox origin of reminders; ``origin_id`` is the announcement (a reply to a
reminder confirms like a reply to the notice)."""
MAX_NAMES = 50
MAX_NAME = 64

_TEXT = {
    "zh": "⏰ 提醒：请确认您已阅读通知 {ann}（点 ✅ 或回复「收到」）{part}",
    "en": "⏰ Reminder: please confirm you have read notice {ann} (tap ✅ or reply ok){part}",
}


@dataclass(frozen=True, slots=True)
class Reminded:
    target: str
    result: str
    """``sent``, ``nothing to remind`` or ``too soon``."""
    names: int = 0
    messages: int = 0
    next_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target, "result": self.result, "names": self.names,
            "messages": self.messages, "next_at": self.next_at,
        }  # fmt: skip


async def remind(rt: Runtime, ann_id: str, *, now: float | None = None) -> list[Reminded]:
    """Remind in every chat that has someone to remind; ``Conflict`` when every such
    chat was reminded too recently (the message says when the next one may go)."""
    now = time.time() if now is None else now
    report = await rollup(rt, ann_id)
    if report.status == "recalled":
        raise Conflict(
            f"{report.announcement} was recalled: nothing to confirm any more",
            zh=f"{report.announcement} 已撤回，不需要再确认了",
        )
    store = ConfirmStore(rt.redis, rt.keys)
    every = rt.config.confirmations.remind_every_seconds
    out: list[Reminded] = []
    items: list[OutboxItem] = []
    for chat in report.chats:
        if not chat.pending:
            out.append(Reminded(chat.target, "nothing to remind"))
            continue
        next_at = await store.claim_reminder(report.announcement, chat.target, every, now)
        if next_at:
            out.append(Reminded(chat.target, "too soon", len(chat.pending), 0, next_at))
            continue
        made = await _messages(rt, report.announcement, chat, now)
        items += made
        out.append(Reminded(chat.target, "sent", len(chat.pending), len(made)))
    if not items and (late := [r for r in out if r.result == "too soon"]):
        en, zh = _too_soon(report.announcement, late, now)
        raise Conflict(en, zh=zh)
    await enqueue(rt, items)
    return out


def _too_soon(ann: str, late: list[Reminded], now: float) -> tuple[str, str]:
    """The refusal in English and in Chinese."""
    first = min(r.next_at or now for r in late)
    when = dt.datetime.fromtimestamp(first, dt.UTC).strftime("%H:%M:%S UTC")
    minutes = max(1, round((first - now) / 60))
    chats = [r.target for r in late]
    return (f"{ann} was reminded within the last hour in {', '.join(chats)}; the next reminder "
            f"can go at {when} (in {minutes} min)",
            f"{ann} 过去一小时内已在 {'、'.join(chats)} 提醒过；下次可在 {when} 提醒"
            f"（{minutes} 分钟后）")  # fmt: skip


async def _messages(rt: Runtime, ann: str, chat: ChatRollup, now: float) -> list[OutboxItem]:
    delivered = await OutboxStore(rt).get(f"{ann}:{chat.target}")
    notice = delivered.message_ids[0] if delivered and delivered.message_ids else None
    people = [
        Mention(UserId(r.partition(":")[2]), (n or r.partition(":")[2])[:MAX_NAME])
        for r, n in chat.pending
    ]
    chunks = [people[i : i + MAX_NAMES] for i in range(0, len(people), MAX_NAMES)]
    lang = "en" if rt.config.locale == "en" else "zh"
    items = []
    for n, chunk in enumerate(chunks):
        part = f" ({n + 1}/{len(chunks)})" if len(chunks) > 1 else ""
        did = DeliveryId(f"remind:{ann}:{chat.target}:{int(now)}:{n}")
        msg = OutboundMessage(
            TargetId(chat.target), _TEXT[lang].format(ann=ann, part=part), did, plain=True,
            reply_to=PlatformMessageId(notice) if notice else None, mentions=tuple(chunk),
        )  # fmt: skip
        items.append(OutboxItem(did, ORIGIN, ann, msg))
    return items
