"""The funnel consumer: the inbound stream -> routing -> tickets, in a consumer group.

Any number of palm processes run one each; the group shares the entries out.
An entry is acknowledged (and deleted, so chatter leaves no trace) only after its
ticket write and the acknowledgement's outbox item are in Redis. A consumer that
dies leaves its entries pending; another one takes them over with ``XAUTOCLAIM``
once they have been idle ``claim_idle`` seconds, and the idempotent ticket script
makes the replay harmless. A malformed entry, one that keeps killing consumers, or one
whose writes keep missing on Redis goes to a dead-letter list instead of blocking the
stream (``palm queue dead-letters``, ``gateway.funnel.deadletters``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError, ResponseError

from gateway.admission.flood import ACKS, HELP, MESSAGES, FloodGate, count_limited
from gateway.admission.gate import Admission
from gateway.aio import checkpoint
from gateway.codec import decode_event
from gateway.console.events import parked_event, ticket_event
from gateway.errors import RetryableError
from gateway.funnel import lua
from gateway.funnel.deadletters import ParkedHook, park, parse, record
from gateway.funnel.outbound import send_for_ticket, send_help
from gateway.funnel.parked_answer import FunnelParts, answer_parked
from gateway.funnel.routing import Action, Decision, RoutingState, route
from gateway.funnel.routing_state import routing_state
from gateway.funnel.ticket_model import NOTHING, Applied, Written
from gateway.funnel.tickets import TicketStore, message_field
from gateway.inbound import inbound_stream
from gateway.metrics import FUNNEL_DEAD_LETTERS, INBOUND
from gateway.models import (
    ChatKind,
    DeliveryId,
    InboundEvent,
    InboundMessage,
    TargetGone,
    TargetMigrated,
    TargetSeen,
)
from gateway.ops.takeover import claim_from_dead
from gateway.rules import rulebook
from gateway.runtime import Runtime
from gateway.staffroom.config import staff_room_ids
from gateway.targets import TargetDirectory
from gateway.templates import Lang, pick_language, templates_for

log = logging.getLogger("palm.funnel")

GROUP = "funnel"

InboundHook = Callable[[Runtime, InboundEvent], Awaitable[bool]]
"""Looks at an event first; ``True``: it was handled, the funnel does nothing more
(staff rooms). It must be idempotent: a redelivered entry runs it again."""


async def create_group(rt: Runtime, stream: str, group: str) -> None:
    """Create ``group`` on ``stream`` (and the stream) unless it exists; ``0``: a new
    group also reads the entries written before it existed."""
    try:
        await rt.redis.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


@dataclass(frozen=True, slots=True)
class ConsumerSettings:
    batch: int = 100
    block_ms: int = 1000
    claim_idle: float = 30.0
    """An entry pending this long with its consumer silent is taken over."""
    reclaim_every: float = 5.0
    max_deliveries: int = 5
    """An entry handed out this often (its consumers keep dying) is dead-lettered."""


class FunnelConsumer:
    def __init__(
        self,
        rt: Runtime,
        *,
        name: str | None = None,
        settings: ConsumerSettings | None = None,
        hooks: Sequence[InboundHook] = (),
        on_parked: Sequence[ParkedHook] = (),
    ) -> None:
        self.rt = rt
        self.hooks = tuple(hooks)
        self.on_parked = tuple(on_parked)
        self.staff_rooms = staff_room_ids(rt.config.staff_rooms)
        self.name = name or rt.instance
        self.settings = settings or ConsumerSettings(
            claim_idle=rt.config.takeover.funnel_claim_idle_seconds
        )
        self.stream = inbound_stream(rt.keys)
        self.store = TicketStore(rt.redis, rt.keys)
        self.targets = TargetDirectory(rt.redis, rt.keys)
        self.admission = Admission(rt)
        self.flood = FloodGate(rt)
        self._settle_script = rt.redis.register_script(lua.SETTLE_ENTRY)
        self._own_pending = True  # re-read our own pending entries first (after errors)
        self._last_reclaim = 0.0

    async def start(self) -> None:
        await create_group(self.rt, self.stream, GROUP)

    async def run(self) -> None:
        backoff = 0.5
        while True:
            checkpoint()
            try:
                await self.step()
                backoff = 0.5
            except (RetryableError, RedisError, OSError) as exc:
                log.warning("funnel: redis trouble, retrying", extra={"error": str(exc)})
                self._own_pending = True
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def step(self, *, block_ms: int | None = None) -> int:
        """Reclaim if due, read one batch, process it. Returns entries handled."""
        done = 0
        if time.monotonic() - self._last_reclaim >= self.settings.reclaim_every:
            self._last_reclaim = time.monotonic()
            done += await self.reclaim()
        entries: list[tuple[str, dict[str, Any] | None]] = []
        if self._own_pending:
            entries = await self._read("0", None)
            self._own_pending = bool(entries)
        if not entries:
            entries = await self._read(
                ">", self.settings.block_ms if block_ms is None else block_ms
            )
        for entry_id, fields in entries:
            await self.handle(entry_id, fields)
        return done + len(entries)

    async def _read(
        self, start: str, block_ms: int | None
    ) -> list[tuple[str, dict[str, Any] | None]]:
        reply: Any = await self.rt.redis.xreadgroup(
            GROUP, self.name, {self.stream: start}, count=self.settings.batch, block=block_ms
        )
        return list(reply[0][1]) if reply else []

    async def reclaim(self) -> int:
        """Take over entries of consumers that died, and process them.

        Consumers of this host whose process is gone are taken over at once
        (``gateway.ops.liveness``); the others once their entries are ``claim_idle`` old.
        """
        handled = await self._claim_from_dead() if self.rt.config.takeover.same_host else 0
        cursor = "0-0"
        while True:
            res: Any = await self.rt.redis.xautoclaim(
                self.stream,
                GROUP,
                self.name,
                min_idle_time=int(self.settings.claim_idle * 1000),
                start_id=cursor,
                count=self.settings.batch,
            )
            cursor, claimed = res[0], res[1]
            deleted = res[2] if len(res) > 2 else []
            if deleted:  # gone from the stream but still pending: just settle them
                await self.rt.redis.xack(self.stream, GROUP, *deleted)
            handled += await self._handle_claimed(claimed)
            if cursor in ("0-0", b"0-0"):
                return handled

    async def _handle_claimed(self, claimed: list[tuple[str, dict[str, Any] | None]]) -> int:
        handled = 0
        for entry_id, fields in claimed:
            if fields is None:
                await self.rt.redis.xack(self.stream, GROUP, entry_id)
                continue
            if await self._deliveries(entry_id) > self.settings.max_deliveries:
                await self._dead_letter(entry_id, fields, "handed out too often", route=False)
                continue
            await self.handle(entry_id, fields)
            handled += 1
        return handled

    async def _claim_from_dead(self) -> int:
        """Claim and process every entry of a consumer of this host whose process is gone."""
        handled = 0
        while claimed := await claim_from_dead(
            self.rt.redis, self.stream, GROUP, self.name, count=self.settings.batch
        ):
            handled += await self._handle_claimed(claimed)
        return handled

    async def _deliveries(self, entry_id: str) -> int:
        rows: Any = await self.rt.redis.xpending_range(
            self.stream, GROUP, min=entry_id, max=entry_id, count=1
        )
        return int(rows[0]["times_delivered"]) if rows else 0

    async def handle(self, entry_id: str, fields: dict[str, Any] | None) -> None:
        if fields is None:  # deleted after being handled; only the pending record was left
            await self.rt.redis.xack(self.stream, GROUP, entry_id)
            return
        raw = fields.get("e")
        try:
            event = decode_event(raw if raw is not None else "")
        except ValueError as exc:
            await self._dead_letter(entry_id, fields, str(exc))
            return
        try:
            written = await self._apply(event)
        except (RetryableError, RedisError, OSError):
            raise  # not the entry's fault: leave it pending and retry
        except Exception as exc:  # a bug must not block the stream: park the entry
            log.exception("funnel: entry failed", extra={"entry": entry_id})
            await self._dead_letter(entry_id, fields, f"{type(exc).__name__}: {exc}")
            return
        if not await self._settle(entry_id, written):
            # What the entry wrote is not on the server this ack reached: a Redis
            # failover put the write on a demoted primary. Handle the entry again now,
            # unless that keeps happening: then park it rather than loop on it.
            if await self._deliveries(entry_id) >= self.settings.max_deliveries:
                await self._dead_letter(entry_id, fields, "its writes kept missing on redis")
                return
            log.warning(
                "funnel: the entry's writes are not on this redis server (a failover?); "
                "handling the entry again",
                extra={"entry": entry_id},
            )
            self._own_pending = True

    async def _settle(self, entry_id: str, written: Written) -> bool:
        """Ack and delete the entry, unless what it wrote is missing on this server
        (``lua.SETTLE_ENTRY``)."""
        outbox = [self.rt.keys("outbox", "d", d) for d in written.deliveries]
        done = await self._settle_script(
            keys=[self.stream, self.rt.keys("ticket", "bymsg"), *outbox],
            args=[GROUP, entry_id, written.message],
        )
        return int(done) >= 0

    async def _dead_letter(
        self, entry_id: str, fields: dict[str, Any], error: str, *, route: bool = True
    ) -> None:  # fmt: skip
        log.error("funnel: entry dead-lettered", extra={"entry": entry_id, "error": error})
        # Answer and cards first (failures only logged), the park last: a crash between
        # leaves the entry pending, and their ids make the second round a no-op.
        decide = self._decide if route else None
        parts = FunnelParts(decide, self.flood, self.admission, self.store, self.staff_rooms)
        answered = await answer_parked(self.rt, fields.get("e"), parts)
        item = record(entry_id, fields, error, answered=answered)
        parked = parse(item)
        for hook in self.on_parked:
            try:
                await hook(self.rt, parked)
            except Exception as exc:
                log.warning("funnel: parked-entry hook failed", extra={"error": str(exc)})
        await park(self.rt.redis, self.rt.keys, self.stream, GROUP, entry_id, item)
        FUNNEL_DEAD_LETTERS.inc()
        await parked_event(self.rt, parked.entry, parked.target, "parked")

    # --- one event ------------------------------------------------------------
    async def _apply(self, event: InboundEvent) -> Written:
        """Act on one event. Returns what it wrote that the entry's ack must find."""
        for hook in self.hooks:
            if await hook(self.rt, event):
                return NOTHING
        if isinstance(event, TargetSeen):
            await self.admission.seen(event)
        elif isinstance(event, TargetGone):
            await self.admission.gone(event)
        elif isinstance(event, TargetMigrated):
            await self.admission.migrated(event)
        elif isinstance(event, InboundMessage) and event.target not in self.staff_rooms:
            # A staff room's messages never open tickets (its hook acts on them).
            return await self._message(event)
        return NOTHING

    async def snapshot(self, msg: InboundMessage) -> RoutingState:
        return await routing_state(self.rt, self.store, msg)

    async def _decide(self, msg: InboundMessage) -> Decision:
        return route(msg, await self.snapshot(msg))

    async def _message(self, msg: InboundMessage) -> Written:
        if not await self.admission.admits(msg):
            INBOUND.labels(platform=msg.platform, kind="not_admitted").inc()
            return NOTHING  # a pending or rejected chat: not stored, not logged
        decision = await self._decide(msg)
        if decision.action is Action.IGNORE:
            INBOUND.labels(platform=msg.platform, kind="ignored").inc()
            return NOTHING  # chatter: not stored, not logged
        if msg.chat_kind is ChatKind.DIRECT and not msg.sender.is_bot:
            # A resident writing to the bot registers (or revives) the direct target.
            await self.targets.upsert(msg.target, ChatKind.DIRECT, msg.sender.display_name)
        lang = pick_language(msg.sender.language, self.rt.config.locale)
        templates = templates_for(self.rt.config.templates_file)
        if decision.action is Action.HELP:
            INBOUND.labels(platform=msg.platform, kind="help").inc()
            if not await self.flood.help(msg):
                count_limited(msg, HELP)
                return NOTHING
            helped = await send_help(self.rt, msg.target, msg.message_id, templates.help(lang))
            return Written(deliveries=(helped,))
        limited = await self._flood_limit(msg, decision)
        if limited is None:
            return NOTHING  # over a limit with no open ticket to keep it on
        decision, attach = limited
        rules = rulebook(self.rt.config.rules_file).rules
        applied = await self.store.apply(
            msg, decision, rules.classify(msg.text), lang, attach=attach
        )
        ack = await self._stored(msg, decision, applied, lang)
        if applied.outcome not in ("created", "appended", "duplicate"):
            return NOTHING  # an edit, or nothing stored
        return Written(message_field(msg.target, msg.message_id), (ack,) if ack else ())

    async def _stored(
        self, msg: InboundMessage, decision: Decision, applied: Applied, lang: Lang
    ) -> DeliveryId | None:
        """What follows a stored message: its metric, the console event, the ack (its
        delivery id, when one was queued)."""
        kind = decision.kind.value if decision.kind else decision.action.value
        if applied.outcome != "duplicate":
            INBOUND.labels(platform=msg.platform, kind=kind).inc()
            if applied.ticket is not None:
                await ticket_event(self.rt, applied.ticket, msg.target, applied.outcome)
        if applied.created and applied.ticket is not None:
            if not await self.flood.ack(msg):
                count_limited(msg, ACKS)
                return None
            # Also on a redelivered entry: the deterministic delivery id makes it a no-op
            # if the first attempt got as far as enqueuing it.
            ack = DeliveryId(f"{applied.ticket}:ack")
            text = templates_for(self.rt.config.templates_file).ack(lang, applied.ticket)
            await send_for_ticket(self.rt, applied.ticket, ack, msg.target, text, msg.message_id)
            return ack
        return None

    async def _flood_limit(
        self, msg: InboundMessage, decision: Decision
    ) -> tuple[Decision, bool] | None:
        """The flood limits' say: (decision, attach-only), or ``None`` to drop the message.

        A message over a limit opens no ticket; it joins the resident's open ticket in
        this chat when there is one (never lost), else it is dropped (counted)."""
        if decision.action is Action.FOLLOW_UP:
            if not await self.flood.message(msg):
                count_limited(msg, MESSAGES)  # stored all the same: it sends nothing
            return decision, False
        if decision.action is not Action.NEW:
            return decision, False
        over = await self.flood.new_ticket(msg)
        if over is None:
            return decision, False
        count_limited(msg, over)
        if msg.chat_kind is ChatKind.DIRECT:
            open_ticket = await self.store.open_direct(msg.target, msg.sender.user_id)
        else:
            open_ticket = await self.store.latest_open(msg.target, msg.sender.user_id)
        if open_ticket is None:
            return None
        return Decision(Action.FOLLOW_UP, ticket=open_ticket), True


async def prepare_funnel(rt: Runtime) -> None:
    """At start: load (and so validate) rules and templates, create the consumer group.

    A bad rules or templates file stops ``palm run`` here, naming the file and key.
    """
    rulebook(rt.config.rules_file)
    templates_for(rt.config.templates_file)
    await FunnelConsumer(rt).start()


def reload_funnel(rt: Runtime) -> None:
    """SIGHUP: reload rules and templates; on error the previous ones stay in force."""
    rulebook(rt.config.rules_file).reload()
    templates_for(rt.config.templates_file, reload=True)
    log.info("rules reloaded", extra=rulebook(rt.config.rules_file).rules.summary())


async def run_funnel(
    rt: Runtime, hooks: Sequence[InboundHook] = (), on_parked: Sequence[ParkedHook] = ()
) -> None:
    """The ``palm run`` component."""
    consumer = FunnelConsumer(rt, hooks=hooks, on_parked=on_parked)
    await consumer.start()
    await consumer.run()
