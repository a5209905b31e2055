"""Flood limits in the funnel: a /report flood opens at most 5 tickets, sends one
acknowledgement, and every message that belongs to an open ticket is kept there."""

from __future__ import annotations

import asyncio

from gateway.admission.share import auto_reply_rules, is_auto_reply
from gateway.funnel import staff
from gateway.funnel.consumer import ConsumerSettings, FunnelConsumer
from gateway.funnel.tickets import TicketStore
from gateway.metrics import INBOUND_LIMITED
from gateway.models import Command, RateRule, TicketId
from gateway.outbox.store import OutboxStore
from gateway.ratelimit import RateLimiter
from gateway.runtime import Runtime
from tests.funnel.conftest import Pipeline
from tests.funnel.factory import GROUP, direct, message


def _limited(reason: str) -> float:
    return INBOUND_LIMITED.labels(platform="telegram", reason=reason)._value.get()


async def _outbox_ids(rt: Runtime, tickets: list[str]) -> list[str]:
    store = OutboxStore(rt)
    ids: list[str] = []
    for t in tickets:
        ids += [d.delivery_id for d in await store.of_origin("ticket", t)]
    return sorted(ids)


async def _stored(rt: Runtime) -> tuple[list[str], int]:
    store = TicketStore(rt.redis, rt.keys)
    tickets, _ = await store.list(limit=500)
    total = 0
    for t in tickets:
        total += len((await store.detail(t.id))["conversation"])
    return sorted(t.id for t in tickets), total


async def test_report_flood_opens_five_tickets_one_ack_and_keeps_every_message(
    runtime: Runtime,
) -> None:
    before = {r: _limited(r) for r in ("tickets", "messages", "acks")}
    flood = [message(f"/report leak {i}", command=Command.REPORT, user="666") for i in range(500)]
    # Two consumers (as two palm processes would) share the stream: the limits hold
    # for both together because they live in Redis.
    a, b = Pipeline(runtime), Pipeline(runtime)
    # No take-overs on a loaded machine (a redelivered entry is harmless, but it would
    # count its limited message twice in the metric this test checks).
    settings = ConsumerSettings(block_ms=10, claim_idle=60)
    a.consumer = FunnelConsumer(runtime, name="first", settings=settings)
    b.consumer = FunnelConsumer(runtime, name="second", settings=settings)
    await a.consumer.start()
    await a.sink.accept(flood)
    await asyncio.gather(a.drain(), b.drain())
    tickets, stored = await _stored(runtime)
    assert len(tickets) == 5
    assert stored == 500  # nothing lost: 495 joined the resident's open ticket
    # One acknowledgement in all. Which ticket gets it depends on which consumer took
    # the ack permit first (the two race for it), so only the count is the contract.
    acks = await _outbox_ids(runtime, tickets)
    assert [a.removesuffix(":ack") in tickets for a in acks] == [True], acks
    assert _limited("tickets") - before["tickets"] == 25  # messages 6-30
    assert _limited("messages") - before["messages"] == 470  # messages 31-500
    assert _limited("acks") - before["acks"] == 4

    # All resolved: more /reports have no open ticket to join and are not stored.
    for t in tickets:
        await staff.resolve(runtime, TicketId(t), "secretary", "")
    more = [message(f"/report again {i}", command=Command.REPORT, user="666") for i in range(10)]
    await a.feed(*more)
    assert await _stored(runtime) == (tickets, 500)
    # Another resident in the same group is not held back by the first one's flood.
    await a.feed(message("/report my own leak", command=Command.REPORT, user="777"))
    after, _ = await _stored(runtime)
    assert len(after) == 6


async def test_direct_follow_ups_over_the_limit_are_still_stored(
    funnel: Pipeline, runtime: Runtime
) -> None:
    before = _limited("messages")
    await funnel.feed(*[direct(f"water {i}", user="888") for i in range(40)])
    tickets, stored = await _stored(runtime)
    assert len(tickets) == 1
    assert stored == 40
    assert _limited("messages") - before == 10


async def test_help_once_per_chat_per_minute(funnel: Pipeline, runtime: Runtime) -> None:
    before = _limited("help")
    helps = [message("/help", command=Command.HELP, user=str(u)) for u in range(5)]
    await funnel.feed(*helps)
    other = message("/help", command=Command.HELP, target="telegram:-100999")
    await funnel.feed(other)
    ids = [d.delivery_id for d in await OutboxStore(runtime).of_origin("help", GROUP)]
    assert len(ids) == 1
    assert len(await OutboxStore(runtime).of_origin("help", "telegram:-100999")) == 1
    assert _limited("help") - before == 4


async def test_redelivered_message_counts_once(funnel: Pipeline, runtime: Runtime) -> None:
    # The same platform message handled twice (a consumer died after the limit check)
    # must not use up a second slot.
    msgs = [message(f"/report {i}", command=Command.REPORT, user="999") for i in range(5)]
    gate = funnel.consumer.flood
    for m in msgs:
        assert await gate.new_ticket(m) is None
        assert await gate.new_ticket(m) is None
    assert await gate.new_ticket(message("/report 6", command=Command.REPORT, user="999")) == (
        "tickets"
    )


async def test_automatic_answers_get_at_most_half_the_bot_rate(runtime: Runtime) -> None:
    assert is_auto_reply("ticket", "T-3:ack")
    assert is_auto_reply("help", "help:telegram:-1:5")
    assert is_auto_reply("admission", "admission:telegram:-1")
    assert not is_auto_reply("ticket", "T-3:reply:1")
    assert not is_auto_reply("announcement", "A-1:telegram:-1")
    bot = RateRule("test:bot", 10, 60.0, bot_wide=True)
    chat = RateRule("test:chat", 1000, 60.0)
    assert auto_reply_rules([bot, chat]) == (RateRule("test:bot:auto", 5, 60.0),)
    limiter = RateLimiter(runtime.redis, runtime.keys)
    auto = [bot, chat, *auto_reply_rules([bot, chat])]
    # A minute's worth of permits, asked for by acks first: they get exactly half,
    # and the announcement deliveries waiting behind them still get the other half.
    acks = sum([await limiter.try_acquire(auto) == 0 for _ in range(20)])
    announcements = sum([await limiter.try_acquire([bot, chat]) == 0 for _ in range(20)])
    assert (acks, announcements) == (5, 5)


async def test_outbox_workers_give_acks_at_most_half_while_announcements_wait(
    runtime: Runtime,
) -> None:
    """Through the real delivery workers: 20 acks queued before 20 announcement
    deliveries, a bot limit of 10 sends per minute. The first 10 permits go 5 and 5."""
    from gateway.funnel.outbound import ticket_item
    from gateway.models import DeliveryId, OutboundMessage, TargetId
    from gateway.outbox import OutboxItem, enqueue
    from tests.fakes.memory_adapter import MemoryAdapter
    from tests.outbox.helpers import seed, wait_for, with_outbox, workers

    rt = with_outbox(runtime)
    bot = RateRule("test:half:bot", 10, 60.0, bot_wide=True)
    mem = MemoryAdapter(rules=lambda t, k: (bot,))
    rt.adapters["telegram"] = mem
    chats = [f"telegram:{-200 - i}" for i in range(40)]
    await seed(rt, {c: [] for c in chats})
    acks = [ticket_item(f"T-{i}", f"T-{i}:ack", chats[i], "received", None) for i in range(20)]
    await enqueue(rt, acks)
    anns = []
    for c in chats[20:]:
        did = DeliveryId(f"A-1:{c}")
        anns.append(OutboxItem(did, "announcement", "A-1", OutboundMessage(TargetId(c), "hi", did)))
    await enqueue(rt, anns)

    async def ten_sent() -> bool:
        return len(mem.sends) >= 10

    async with workers(rt):
        await wait_for(ten_sent)
        await asyncio.sleep(0.3)  # nothing more may go out within the minute
    kinds = [s.idempotency_key.endswith(":ack") for s in mem.sends]
    assert len(kinds) == 10
    assert sum(kinds) == 5  # acks: every other permit at most
