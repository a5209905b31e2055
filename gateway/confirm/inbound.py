"""The funnel hook for confirmations: buttons, ✅ reactions and replies like 收到.

Runs for every inbound event after the staff-room hook (see
``gateway.components``). ``True`` means the event was a confirmation (or an
answer to a notice's button) and opens no ticket. It is idempotent: a replayed entry
finds the resident's confirmation already there (``HSETNX``) and records nothing.
It also remembers who wrote in a Telegram group: Telegram lists no members, so the
roll-up's "seen" residents come from here.
"""

from __future__ import annotations

import logging
import time

from gateway.confirm.buttons import CHECK, CONFIRM_DATA
from gateway.confirm.store import Confirmation, ConfirmStore
from gateway.console.events import publish
from gateway.errors import GatewayError
from gateway.metrics import CONFIRMATIONS
from gateway.models import (
    REACTION_PREFIX,
    ButtonPress,
    ChatKind,
    InboundEvent,
    InboundMessage,
    PlatformMessageId,
    Sender,
    TargetId,
)
from gateway.outbox import lookup_msgref
from gateway.runtime import Runtime
from gateway.staffroom.acting import StaffRoomSupport
from gateway.templates import pick_language

log = logging.getLogger("palm.confirm")

_TOAST = {
    "zh": {"new": "已确认，谢谢 ✅", "again": "您已确认过 ✅", "recalled": "此通知已撤回",
           "not": "这条消息不需要确认"},
    "en": {"new": "Confirmed, thank you ✅", "again": "You already confirmed ✅",
           "recalled": "This notice was withdrawn", "not": "Nothing to confirm here"},
}  # fmt: skip


def resident_of(platform: str, sender: Sender) -> str:
    return f"{platform}:{sender.user_id}"


async def on_inbound(rt: Runtime, event: InboundEvent) -> bool:
    if isinstance(event, ButtonPress):
        return await _press(rt, event)
    if not isinstance(event, InboundMessage) or event.sender.is_bot:
        return False
    store = ConfirmStore(rt.redis, rt.keys)
    if event.chat_kind is ChatKind.GROUP and event.platform == "telegram":
        await store.seen(event.target, resident_of(event.platform, event.sender),
                         event.sender.display_name)  # fmt: skip
    if (
        event.reply_to is None or event.edit_of is not None or event.command is not None
        or event.attachments or not rt.config.confirmations.confirms(event.text)
    ):  # fmt: skip
        return False
    notice = await notice_of(rt, event.target, event.reply_to)
    if notice is None:
        return False  # 收到 to anything else is an ordinary reply
    await _confirm(rt, notice, event.target, event.platform, event.sender, "reply")
    return True


async def _press(rt: Runtime, press: ButtonPress) -> bool:
    reaction = press.data.startswith(REACTION_PREFIX)
    if press.data != CONFIRM_DATA and not reaction:
        return False
    if reaction and press.data != REACTION_PREFIX + CHECK:
        return True  # any other reaction means nothing to palm
    notice = await notice_of(rt, press.target, press.message_id)
    lang = pick_language(press.sender.language, rt.config.locale)
    if notice is None:
        outcome = "not"
    else:
        via = "reaction" if reaction else "button"
        outcome = await _confirm(rt, notice, press.target, press.platform, press.sender, via)
    if not reaction:
        await _toast(rt, press, _TOAST[lang][outcome])
    return True


async def notice_of(rt: Runtime, target: TargetId, message_id: PlatformMessageId) -> str | None:
    """The announcement asking for confirmation whose message ``message_id`` is."""
    origin = await lookup_msgref(rt, target, message_id)
    # A reminder (``gateway.confirm.remind``) stands for its notice.
    if origin is None or origin[0] not in ("announcement", "confirm-remind") or not origin[1]:
        return None
    asks = await rt.redis.hget(rt.keys("announcement", origin[1]), "confirm")
    return origin[1] if asks == "1" else None


async def _confirm(
    rt: Runtime, ann: str, target: TargetId, platform: str, sender: Sender, via: str
) -> str:
    """``new``, ``again`` or ``recalled``: a recalled notice counts no more."""
    status = await rt.redis.hget(rt.keys("announcement", ann), "status")
    if status == "recalled":
        return "recalled"
    resident = resident_of(platform, sender)
    c = Confirmation(resident, time.time(), target, platform, sender.display_name, via)
    if not await ConfirmStore(rt.redis, rt.keys).record(ann, c):
        return "again"
    CONFIRMATIONS.labels(platform=platform).inc()
    # The console's announcement page refreshes its roll-up from this (scoped by chat).
    await publish(rt.redis, rt.keys, "confirmation", ann, str(target), {"what": "confirmed"})
    log.info("confirmed", extra={"announcement": ann, "platform": platform, "via": via})
    return "new"


async def _toast(rt: Runtime, press: ButtonPress, text: str) -> None:
    adapter: object = rt.adapters.get(press.platform)
    if not isinstance(adapter, StaffRoomSupport) or not press.query_id:
        return
    try:
        await adapter.answer_button(press.query_id, text)
    except GatewayError as exc:
        # The query expired (or a replay answers it twice): the confirmation is stored.
        log.info("confirm: button answer failed", extra={"error": exc.message})
