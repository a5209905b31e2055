"""The staff-room feed: ticket events -> cards, card edits, follow-ups, group status.

The ticket scripts append one entry per change to ``tickets:events`` in the same
atomic step as the change. This component reads that stream with a consumer group
(every palm process runs one; each entry goes to one of them) and turns each entry
into outbox items with deterministic delivery ids, so a replay after ``kill -9`` adds
nothing twice:

    card:<ticket>:<room>                 the card (once per ticket per room)
    card:<ticket>:<room>:msg:<n>         the resident's message n, under the card
    card:<ticket>:<room>:edit:<entry>    the card edited in place after a change
    <ticket>:status:<claimed|resolved>:<entry>   the group acknowledgement edited in place

Edits and follow-ups are anchored on the card's delivery (``gateway.outbox.anchored``):
they wait until the card is out, so nothing is lost or reordered while a staff room
is unreachable; the cards catch up when it returns.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from redis.exceptions import RedisError

from gateway.aio import TaskGroup, checkpoint
from gateway.errors import RetryableError
from gateway.funnel.consumer import create_group
from gateway.funnel.lua import SETTLE_ENTRY
from gateway.funnel.outbound import TICKET_ORIGIN
from gateway.models import (
    ChatKind,
    DeliveryId,
    OutboundMessage,
    PlatformMessageId,
    Priority,
    TargetId,
    split_target_id,
)
from gateway.outbox import OutboxItem, enqueue
from gateway.outbox.model import Anchor
from gateway.runtime import Runtime
from gateway.staffroom import cards, forward
from gateway.staffroom.config import StaffRoomConfig, staff_room_ids
from gateway.staffroom.report import run_reports
from gateway.staffroom.scope import rooms_for
from gateway.targets import TargetDirectory
from gateway.templates import pick_language, templates_for

log = logging.getLogger("palm.staffroom")

GROUP = "staffroom"
ORIGIN = "staffroom"
"""Outbox origin of everything posted in a staff room; ``origin_id`` is the ticket."""
CLAIM_IDLE_MS = 30_000

# Keep the newest version only: a replayed entry sets the same value again.
_MAX_LUA = """
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1], 'EX', 2592000) end
return 1
"""


def card_id(ticket: str, room: str) -> DeliveryId:
    return DeliveryId(f"card:{ticket}:{room}")


def entry_version(entry_id: str) -> int:
    """Stream ids grow: ``1732934400123-5`` -> 1732934400123000005."""
    ms, _, seq = entry_id.partition("-")
    return int(ms) * 1_000_000 + int(seq or 0)


class Feed:
    def __init__(self, rt: Runtime, *, name: str | None = None) -> None:
        self.rt = rt
        self.name = name or rt.instance
        self.stream = rt.keys("tickets", "events")
        self.rooms = list(rt.config.staff_rooms)
        self.staff = staff_room_ids(self.rooms)
        self.lang = rt.config.locale
        self._max = rt.redis.register_script(_MAX_LUA)
        # The funnel's settle: with no message field, it checks the deliveries only.
        self._settle_script = rt.redis.register_script(SETTLE_ENTRY)
        self._own_pending = True

    async def start(self) -> None:
        await create_group(self.rt, self.stream, GROUP)

    async def run(self) -> None:
        started = False
        while True:
            checkpoint()
            try:
                if not started:  # inside the retry: Redis may be away when palm starts
                    await self.start()
                    started = True
                await self.step()
            except (RetryableError, RedisError, OSError) as exc:
                checkpoint()
                log.warning("staff-room feed: redis trouble, retrying", extra={"error": str(exc)})
                self._own_pending = True
                await asyncio.sleep(1.0)

    async def step(self, block_ms: int = 1000) -> int:
        entries = await self._read("0", None) if self._own_pending else []
        self._own_pending = bool(entries)
        if not entries:
            entries = await self._reclaim() or await self._read(">", block_ms)
        for entry_id, fields in entries:
            enqueued = await self._handle_safely(entry_id, fields) if fields else []
            if not await self._settle(entry_id, enqueued):
                log.warning(
                    "staff-room feed: an enqueued card is not on this redis server "
                    "(a failover?); handling the entry again",
                    extra={"entry": entry_id},
                )
                self._own_pending = True
        return len(entries)

    async def _settle(self, entry_id: str, enqueued: list[DeliveryId]) -> bool:
        """Ack and delete the entry, unless a delivery it enqueued is missing here."""
        outbox = [self.rt.keys("outbox", "d", d) for d in enqueued]
        keys = [self.stream, self.rt.keys("ticket", "bymsg"), *outbox]
        done = await self._settle_script(keys=keys, args=[GROUP, entry_id, ""])
        return int(done) >= 0

    async def _read(self, start: str, block: int | None) -> list[tuple[str, dict[str, str]]]:
        reply: Any = await self.rt.redis.xreadgroup(
            GROUP, self.name, {self.stream: start}, count=50, block=block
        )
        return list(reply[0][1]) if reply else []

    async def _reclaim(self) -> list[tuple[str, dict[str, str]]]:
        """Entries of a feed that died (its process was killed) are taken over."""
        res: Any = await self.rt.redis.xautoclaim(
            self.stream, GROUP, self.name, CLAIM_IDLE_MS, start_id="0-0", count=50
        )
        return [(e, f) for e, f in res[1] if f]

    async def _handle_safely(self, entry_id: str, fields: dict[str, str]) -> list[DeliveryId]:
        try:
            return await self.handle(entry_id, fields)
        except (RetryableError, RedisError, OSError):
            raise  # not the entry's fault: it stays pending and is read again
        except Exception:
            # A bug must neither stop palm nor block every later card: log and move on
            # (the ticket itself is safe in the queue; only its card update is lost).
            log.exception("staff-room feed: entry failed", extra={"entry": entry_id})
            return []

    # --- one event ------------------------------------------------------------
    async def handle(self, entry_id: str, fields: dict[str, str]) -> list[DeliveryId]:
        """Enqueue what one ticket event means for the staff rooms; returns the ids."""
        tid, event = fields.get("ticket", ""), fields.get("event", "")
        h: Any = await self.rt.redis.hgetall(self.rt.keys("ticket", tid))
        if not h:
            return []
        if event == "replied":
            await self.rt.redis.hset(
                self.rt.keys("staffroom", "answered"), tid, fields.get("actor", "")
            )
        view = await self._view(tid, h)
        rooms = await self._rooms(h)
        items: list[OutboxItem] = []
        if event == "created":
            items = [self._card(view, r, h) for r in rooms]
            items += await self._attachments(view, rooms, 0, h.get("platform", ""))
        elif event == "message":
            index = int(fields.get("index", "0"))
            items = await self._follow_ups(view, rooms, index)
            items += await self._attachments(view, rooms, index, h.get("platform", ""))
        elif event in ("claimed", "replied", "resolved"):
            version = entry_version(entry_id)
            # Only rooms that have the card: one configured after the ticket came has
            # none (and a card posted later is rendered from the state of then anyway).
            carded = [r for r in rooms if await self._has_card(view.ticket, r.target)]
            items = [await self._edit(view, r, entry_id, version) for r in carded]
            if event != "replied" and h.get("chat_kind") == ChatKind.GROUP.value:
                items += await self._group_status(view, h, event, version, entry_id)
        await enqueue(self.rt, items)
        return [item.delivery_id for item in items]

    async def _has_card(self, tid: str, room: str) -> bool:
        return bool(await self.rt.redis.exists(self.rt.keys("outbox", "d", card_id(tid, room))))

    async def _message_at(self, tid: str, index: int) -> dict[str, Any] | None:
        raw: Any = await self.rt.redis.lindex(self.rt.keys("ticket", tid, "messages"), index)
        return dict(json.loads(raw)) if raw else None

    async def _view(self, tid: str, h: dict[str, str]) -> cards.CardView:
        first = await self._message_at(tid, 0)
        atts = len(first.get("attachments") or []) if first else 0
        answered: Any = await self.rt.redis.hget(self.rt.keys("staffroom", "answered"), tid)
        return cards.CardView.from_hash(h, attachments=atts, answered_by=answered or "")

    async def _rooms(self, h: dict[str, str]) -> list[StaffRoomConfig]:
        target = h.get("target", "")
        if not self.rooms or target in self.staff:
            return []
        found = await TargetDirectory(self.rt.redis, self.rt.keys).get(target)
        tags = found.tags if found is not None else ()
        return rooms_for(self.rooms, target, tags, group=h.get("chat_kind") == "group")

    def _message(
        self, room: str, delivery: str, text: str, priority: str, view: cards.CardView
    ) -> OutboundMessage:
        telegram = split_target_id(room)[0] == "telegram"
        return OutboundMessage(
            target=TargetId(room),
            text=text,
            idempotency_key=delivery,
            plain=True,
            priority=Priority(priority) if priority in ("urgent", "normal") else Priority.NORMAL,
            buttons=cards.card_buttons(view, self.lang) if telegram else None,
        )

    def _card(self, view: cards.CardView, room: StaffRoomConfig, h: dict[str, str]) -> OutboxItem:
        did = card_id(view.ticket, room.target)
        text = cards.card_text(view, self.lang)
        msg = self._message(room.target, did, text, h.get("priority", "normal"), view)
        return OutboxItem(did, ORIGIN, view.ticket, msg)

    async def _follow_ups(
        self, view: cards.CardView, rooms: list[StaffRoomConfig], index: int
    ) -> list[OutboxItem]:
        message = await self._message_at(view.ticket, index)
        if message is None:
            return []
        text = cards.follow_up_text(view, message, self.lang)
        out = []
        for room in rooms:
            did = DeliveryId(f"{card_id(view.ticket, room.target)}:msg:{index}")
            msg = OutboundMessage(
                TargetId(room.target), text, did, plain=True, thread=True,
                priority=Priority.URGENT if view.priority == "urgent" else Priority.NORMAL,
            )  # fmt: skip
            anchor = Anchor(card_id(view.ticket, room.target))
            out.append(OutboxItem(did, ORIGIN, view.ticket, msg, anchor))
        return out

    async def _attachments(
        self, view: cards.CardView, rooms: list[StaffRoomConfig], index: int, platform: str
    ) -> list[OutboxItem]:
        """The photos and files of message ``index``, each under the card."""
        if not rooms:
            return []
        message = await self._message_at(view.ticket, index)
        refs = list(message.get("attachments") or []) if message else []
        if not refs:
            return []
        first = f"{card_id(view.ticket, rooms[0].target)}:att:{index}:0"
        if await self.rt.redis.exists(self.rt.keys("outbox", "d", first)):
            return []  # a replayed entry: forwarded already, do not fetch again
        fetched = await forward.fetch(self.rt, platform, refs)
        out = []
        for room in rooms:
            card = card_id(view.ticket, room.target)
            for k, att in enumerate(fetched):
                did = DeliveryId(f"{card}:att:{index}:{k}")
                text = f"{view.ticket} · 📎 {k + 1}/{len(fetched)}"
                msg = OutboundMessage(
                    TargetId(room.target), text, did, plain=True, thread=True, attachments=(att,)
                )
                out.append(OutboxItem(did, ORIGIN, view.ticket, msg, Anchor(card)))
        return out

    async def _edit(
        self, view: cards.CardView, room: StaffRoomConfig, entry_id: str, version: int
    ) -> OutboxItem:
        card = card_id(view.ticket, room.target)
        did = DeliveryId(f"{card}:edit:{entry_id}")
        vkey = self.rt.keys("staffroom", "cardv", card)
        await self._max(keys=[vkey], args=[version])
        text = cards.card_text(view, self.lang)
        msg = self._message(room.target, did, text, view.priority, view)
        if msg.buttons is not None:
            msg = OutboundMessage(
                msg.target, msg.text, did, plain=True, priority=msg.priority,
                buttons=cards.card_buttons(view, self.lang),
            )  # fmt: skip
        return OutboxItem(did, ORIGIN, view.ticket, msg, Anchor(card, True, vkey, version))

    async def _group_status(
        self, view: cards.CardView, h: dict[str, str], event: str, version: int, entry_id: str
    ) -> list[OutboxItem]:
        lang = pick_language(h.get("language"), self.lang)
        ack = templates_for(self.rt.config.templates_file).ack(lang, view.ticket)
        text = cards.group_status_text(ack, view, lang)
        if text is None:
            return []
        ack_id = DeliveryId(f"{view.ticket}:ack")
        # One edit per event (its feed entry, so a redelivered entry adds nothing): a
        # second claim (``--force``, another staff member) is an edit of its own, not the
        # first claim's id again, which the outbox would ignore.
        did = DeliveryId(f"{view.ticket}:status:{event}:{entry_id}")
        vkey = self.rt.keys("staffroom", "ackv", view.ticket)
        await self._max(keys=[vkey], args=[version])
        msg = OutboundMessage(
            TargetId(h["target"]), text, did, plain=True,
            reply_to=PlatformMessageId(h.get("first_message_id", "")) or None,
        )  # fmt: skip
        # Origin "ticket", like the acknowledgement: its message keeps meaning this ticket.
        anchor = Anchor(ack_id, True, vkey, version)
        return [OutboxItem(did, TICKET_ORIGIN, view.ticket, msg, anchor)]


async def run_feed(rt: Runtime) -> None:
    """The ``palm run`` component: the cards, and the reports on announcements sent from
    a room (``gateway.staffroom.report``)."""
    async with TaskGroup() as tg:
        tg.create_task(Feed(rt).run())
        tg.create_task(run_reports(rt))
