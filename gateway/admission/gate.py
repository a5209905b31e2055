"""Chat admission: which groups and rooms palm serves, decided by an admin.

With ``admission: approve`` (the default) a group the bot is added to, or a room it
joins, registers as ``pending``: it is never selected by an audience (the directory
keeps it out of the active indexes), it gets exactly one "awaiting approval" message,
and its messages are dropped before routing (not stored, not logged). Direct chats
are always admitted, and chats seeded under ``targets:`` count as approved. With
``admission: open`` new chats are approved at once (the behaviour before admission);
chats already pending stay pending until an admin decides.

Rejecting a chat queues the bot's leave (``gateway.admission.leave``); a rejected chat
that adds the bot again stays rejected and is left again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from redis.exceptions import RedisError

from gateway.admission.leave import queue_leave, unqueue_leave
from gateway.errors import InputError, NotFound, StoreUnavailable
from gateway.models import (
    ChatKind,
    DeliveryId,
    InboundMessage,
    OutboundMessage,
    TargetGone,
    TargetId,
    TargetMigrated,
    TargetSeen,
)
from gateway.outbox.model import OutboxItem
from gateway.outbox.store import OutboxStore
from gateway.runtime import Runtime
from gateway.targets import Target, TargetDirectory, validate_tag
from gateway.targets_lua import APPROVED, PENDING, REJECTED
from gateway.templates import Lang, pick_language, templates_for

log = logging.getLogger("palm.admission")

ADMISSION_ORIGIN = "admission"


class Admission:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.targets = TargetDirectory(rt.redis, rt.keys)

    def configured(self) -> frozenset[str]:
        """Chats the config names: they count as approved (``targets:`` seeds; other
        config lists of chats palm must serve belong here too)."""
        seeds = {seed.id for seed in self.rt.config.targets}
        return frozenset(seeds | {room.target for room in self.rt.config.staff_rooms})

    def default_for(self, kind: ChatKind, target: str | None = None) -> str:
        """The admission of a chat palm sees for the first time."""
        if kind is ChatKind.DIRECT or self.rt.config.admission == "open":
            return APPROVED
        if target is not None and target in self.configured():
            return APPROVED
        return PENDING

    # --- platform events (the funnel consumer) ------------------------------------
    async def seen(self, event: TargetSeen, *, language: str | None = None) -> str:
        """The bot was added to a chat (or is there): register it; returns its admission."""
        decided: str | None = None
        if event.kind is ChatKind.GROUP and self.default_for(event.kind, event.target) == PENDING:
            # A direct chat (admitted as such) that turns into a group (a Matrix room
            # that gained a name or members) is a new group: it waits like any other.
            before = await self.targets.get(event.target)
            if before is not None and before.kind is ChatKind.DIRECT:
                decided = PENDING if before.admission == APPROVED else before.admission
        admission, created = await self.targets.upsert(
            event.target,
            event.kind,
            event.title,
            reason=event.reason,
            new_admission=self.default_for(event.kind, event.target),
            admission=decided,
        )
        if created:
            log.info("chat registered", extra={"target": event.target, "admission": admission})
        if admission == PENDING and event.reason is None:
            await self.notify(event.target, language)
        elif admission == REJECTED:
            await queue_leave(self.rt, event.target)  # let back in by someone: leave again
        return admission

    async def gone(self, event: TargetGone) -> None:
        await self.targets.mark_inactive(
            event.target, event.reason, new_admission=self.default_for(ChatKind.GROUP, event.target)
        )

    async def migrated(self, event: TargetMigrated) -> None:
        await self.targets.migrate(
            event.old, event.new, new_admission=self.default_for(ChatKind.GROUP, event.old)
        )

    async def admits(self, msg: InboundMessage) -> bool:
        """May this message reach routing? Direct chats always; groups once approved.

        A message from a group palm does not know (the bot was added before palm ran,
        or the membership update was missed) registers the group like an addition.
        """
        if msg.chat_kind is ChatKind.DIRECT:
            return True
        try:
            fields = await self.rt.redis.hmget(
                self.targets.hash_prefix + msg.target, ["kind", "admission", "title"]
            )
            kind, admission, title = fields
            if kind is not None and msg.chat_title and not title:
                # Staff know chats by name: a chat seeded without one gets the platform's
                # (one write, once). A name from the config is the operator's and stays.
                await self.targets.retitle(msg.target, msg.chat_title)
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"admission: {exc}") from exc
        if kind is None:  # unknown group
            if self.rt.config.admission == "open":
                return True  # as before admission: served, not registered
            seen = TargetSeen(msg.target, ChatKind.GROUP, msg.chat_title)
            admission = await self.seen(seen, language=msg.sender.language)
        elif admission == PENDING:
            await self.notify(msg.target, msg.sender.language)  # a no-op once sent
        return admission in (None, "", APPROVED)

    # --- the one notice -----------------------------------------------------------
    def _notice_key(self, target: str) -> str:
        return self.rt.keys("admission", "notice", target)

    async def notify(self, target: TargetId, language: str | None = None) -> None:
        """Queue the one "awaiting approval" message, once per chat ever.

        ``SET NX`` and the outbox item go in one MULTI: both or neither, and the
        deterministic delivery id makes a second MULTI (a race, a redelivered event)
        add nothing to the outbox.
        """
        key = self._notice_key(target)
        try:
            if await self.rt.redis.exists(key):
                return
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"admission: {exc}") from exc
        lang: Lang = pick_language(language, self.rt.config.locale)
        text = templates_for(self.rt.config.templates_file).awaiting_approval(lang)
        delivery_id = DeliveryId(f"{ADMISSION_ORIGIN}:{target}")
        message = OutboundMessage(target, text, idempotency_key=delivery_id, plain=True)
        store = OutboxStore(self.rt)
        bodies, args = await store.prepare(
            [OutboxItem(delivery_id, ADMISSION_ORIGIN, target, message)]
        )
        try:
            async with self.rt.redis.pipeline(transaction=True) as pipe:
                pipe.set(key, repr(time.time()), nx=True)
                await store.add_to(pipe, bodies, args)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"admission: {exc}") from exc

    # --- admins -------------------------------------------------------------------
    async def _group(self, target: TargetId) -> Target:
        found = await self.targets.get(target)
        if found is None:
            raise NotFound(f"no target {target} (see palm targets list)", zh=f"没有会话 {target}")
        if found.kind is ChatKind.DIRECT:
            raise InputError(
                f"{target} is a direct chat: direct chats are always admitted",
                zh=f"{target} 是私聊：私聊总是直接接纳，无需批准",
            )
        return found

    async def approve(self, target: TargetId, tags: Sequence[str] = ()) -> Target:
        """Let the chat in (also one rejected earlier: it must add the bot again)."""
        clean = [validate_tag(t) for t in tags]  # all checked before anything changes
        await self._group(target)
        await unqueue_leave(self.rt, target)
        await self.targets.set_admission(target, APPROVED)
        if clean:
            await self.targets.tag(target, clean)
        log.info("chat approved", extra={"target": target})
        return await self._group(target)

    async def reject(self, target: TargetId) -> Target:
        """Keep the chat out for good, and make the bot leave it."""
        await self._group(target)
        await self.targets.set_admission(target, REJECTED)
        await queue_leave(self.rt, target)
        log.info("chat rejected", extra={"target": target})
        return await self._group(target)

    async def pending(self) -> list[Target]:
        return await self.targets.many(await self.targets.pending_ids())
