"""When a notice that must be read is out in a chat: the bot's ✅ and the members.

A delivery hook (``gateway.components.delivery_hooks``), run by the outbox worker
after each announcement delivery and again after a crash, so everything here is
idempotent: the reaction's transaction id is derived from the delivery, and the
members snapshot is simply written again.
"""

from __future__ import annotations

import logging
import time
import weakref

from redis.asyncio import Redis

from gateway.batch import for_client
from gateway.confirm.buttons import CHECK
from gateway.confirm.store import ChatMembers, ConfirmStore
from gateway.confirm.support import CountsMembers, ListsMembers, Reacts
from gateway.errors import GatewayError
from gateway.models import ChatKind, split_target_id
from gateway.outbox import DeliveryResult
from gateway.runtime import Runtime
from gateway.targets import TargetDirectory

log = logging.getLogger("palm.confirm")

ASKS_TTL = 60.0
"""How long a process keeps an announcement's ``confirm`` flag. It is written with the
announcement, before any delivery exists, and never changes: the only staleness is an
id used again after Redis lost its data, for at most this long."""
_asks: weakref.WeakKeyDictionary[Redis, dict[str, tuple[float, bool]]] = weakref.WeakKeyDictionary()


async def _confirms(rt: Runtime, key: str) -> bool:
    """Whether the announcement at ``key`` asks for confirmations: one read per minute
    per announcement, not one per delivery of a 100,000-chat broadcast."""
    cache = _asks.setdefault(rt.redis, {})
    now = time.monotonic()
    hit = cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    if len(cache) > 1024:
        cache.clear()
    # In the outbox's group commit (gateway.batch), beside the settles of the others.
    asks = bool(await for_client(rt.redis).call(lambda pipe: pipe.hget(key, "confirm")) == "1")
    cache[key] = (now + ASKS_TTL, asks)
    return asks


async def on_delivery(rt: Runtime, result: DeliveryResult) -> None:
    if result.state != "sent" or not result.message_ids:
        return
    if not await _confirms(rt, rt.keys("announcement", result.origin_id)):
        return
    adapter: object = rt.adapters.get(split_target_id(result.target)[0])
    try:
        if isinstance(adapter, Reacts):
            await adapter.react(result.target, result.message_ids[0], CHECK, result.delivery_id)
        members = await _members(rt, adapter, result)
        if members is not None:
            await ConfirmStore(rt.redis, rt.keys).save_members(
                result.origin_id, result.target, members
            )
    except GatewayError as exc:
        # The notice itself is out; a missing ✅ or member list only thins the roll-up.
        log.warning("confirm: after-send step failed",
                    extra={"delivery": result.delivery_id, "error": exc.message})  # fmt: skip


async def _members(rt: Runtime, adapter: object, result: DeliveryResult) -> ChatMembers | None:
    if isinstance(adapter, ListsMembers):
        listed = await adapter.chat_members(result.target)
        return ChatMembers(len(listed), tuple(listed))
    kinds = await TargetDirectory(rt.redis, rt.keys).kinds([result.target])
    if isinstance(adapter, CountsMembers) and kinds.get(result.target) is ChatKind.GROUP:
        return ChatMembers(await adapter.member_count(result.target), None)
    return None
