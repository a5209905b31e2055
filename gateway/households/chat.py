"""``/unit 5-302`` (``/房号 5-302``) in any chat with the bot binds the sender.

A funnel hook (see ``gateway.funnel.consumer.InboundHook``): the command never opens
a ticket. The answer goes through the outbox with a delivery id derived from the
resident's message, so a replayed inbound entry answers once.
"""

from __future__ import annotations

from gateway.errors import InputError
from gateway.households.store import HouseholdStore
from gateway.models import (
    Command,
    DeliveryId,
    InboundEvent,
    InboundMessage,
    OutboundMessage,
    PlatformMessageId,
)
from gateway.outbox import OutboxItem, enqueue
from gateway.runtime import Runtime
from gateway.templates import Lang, pick_language

ORIGIN = "households"

_TEXTS = {
    "zh": {
        "bound": "已登记：{name} 住 {unit}{building}。",
        "building": "（{b} 号楼）",
        "bad": "房号格式不对：{error}。例如：/房号 5-302",
        "missing": "请写上房号，例如：/房号 5-302",
    },
    "en": {
        "bound": "Registered: {name} lives in {unit}{building}.",
        "building": " (building {b})",
        "bad": "That is not a unit: {error}. For example: /unit 5-302",
        "missing": "Please add your unit, for example: /unit 5-302",
    },
}


def resident_key(msg: InboundMessage) -> str:
    return f"{msg.platform}:{msg.sender.user_id}"


async def on_inbound(rt: Runtime, event: InboundEvent) -> bool:
    """The funnel hook: ``True`` when ``event`` was a /unit command (handled here)."""
    if not isinstance(event, InboundMessage) or event.command is not Command.UNIT:
        return False
    if event.sender.is_bot or event.edit_of is not None:
        return True
    lang = pick_language(event.sender.language, rt.config.locale)
    await _answer(rt, event, await _bind(rt, event, lang))
    return True


async def _bind(rt: Runtime, msg: InboundMessage, lang: Lang) -> str:
    texts = _TEXTS[lang]
    words = msg.text.split()
    if not words:
        return texts["missing"]
    store = HouseholdStore(rt.redis, rt.keys, rt.config.households.unit_pattern)
    try:
        name = msg.sender.display_name
        unit = await store.bind(resident_key(msg), words[0], by="self", name=name)
    except InputError as exc:
        return texts["bad"].format(error=exc.say(lang))
    building = texts["building"].format(b=unit.building) if unit.building else ""
    return texts["bound"].format(name=msg.sender.display_name, unit=unit.unit, building=building)


async def _answer(rt: Runtime, msg: InboundMessage, text: str) -> None:
    did = DeliveryId(f"unit:{msg.target}:{msg.message_id}")
    out = OutboundMessage(
        msg.target, text, did, reply_to=PlatformMessageId(msg.message_id), plain=True
    )
    await enqueue(rt, [OutboxItem(did, ORIGIN, msg.target, out)])
