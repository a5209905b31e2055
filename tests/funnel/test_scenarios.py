"""The funnel at the core level: sink -> stream -> consumer -> tickets -> outbox."""

from __future__ import annotations

import json

from redis.asyncio import Redis

from gateway.funnel import staff
from gateway.funnel.consumer import GROUP
from gateway.funnel.stats import queue_stats
from gateway.funnel.tickets import TicketStore
from gateway.inbound import inbound_stream
from gateway.keys import Keys
from gateway.models import Command, TicketId
from gateway.outbox.store import OutboxStore
from gateway.runtime import Runtime
from tests.funnel.conftest import Pipeline
from tests.funnel.factory import GROUP as GROUP_TARGET
from tests.funnel.factory import direct, message


async def outbound(rt: Runtime, delivery_id: str) -> tuple[str, str | None, str]:
    """(text, reply_to, target) of a queued outbox delivery."""
    store = OutboxStore(rt)
    d = await store.get(delivery_id)
    assert d is not None, f"{delivery_id} was not enqueued"
    msg = await store.message(d)
    assert msg.plain
    return msg.text, msg.reply_to, msg.target


async def test_hydrant_report_to_resolution(funnel: Pipeline, runtime: Runtime) -> None:
    report = message("5号楼消防栓坏了", command=Command.REPORT, language="zh-hans")
    assert await funnel.feed(report) == 1
    store = TicketStore(runtime.redis, runtime.keys)
    tickets, _ = await store.list(status="new")
    assert [t.id for t in tickets] == ["T-1"]
    t = tickets[0]
    assert (t.kind, t.category, t.priority) == ("report", "fire-safety", "urgent")
    assert (t.target, t.first_message_id, t.resident_id) == (GROUP_TARGET, report.message_id, "501")
    text, reply_to, target = await outbound(runtime, "T-1:ack")
    assert text == "收到，工单 T-1 已登记，工作人员会尽快回复。"
    assert (reply_to, target) == (report.message_id, GROUP_TARGET)

    await staff.claim(runtime, TicketId("T-1"), "secretary")
    await staff.reply(
        runtime, TicketId("T-1"), "secretary", "Received, the water company is on the way."
    )
    text, reply_to, _ = await outbound(runtime, "T-1:reply:1")
    assert text == "Received, the water company is on the way."
    assert reply_to == report.message_id
    done = await staff.resolve(runtime, TicketId("T-1"), "secretary", "valve replaced")
    assert done["status"] == "resolved"
    text, reply_to, _ = await outbound(runtime, "T-1:resolved")
    assert (text, reply_to) == ("已解决：valve replaced", report.message_id)

    detail = await store.detail(TicketId("T-1"))
    assert detail["first_response_at"] is not None
    assert [h["action"] for h in detail["history"]] == ["created", "claimed", "replied", "resolved"]
    assert {h["actor"] for h in detail["history"][1:]} == {"secretary"}


async def test_english_resident_gets_english_ack(funnel: Pipeline, runtime: Runtime) -> None:
    msg = message("the fire hydrant is broken", command=Command.REPORT, language="en-GB")
    await funnel.feed(msg)
    text, _, _ = await outbound(runtime, "T-1:ack")
    assert text == "Received: ticket T-1. Staff will reply soon."


async def test_three_direct_messages_make_one_ticket(funnel: Pipeline, runtime: Runtime) -> None:
    msgs = [direct(f"message {i}", user="42") for i in range(3)]
    await funnel.feed(*msgs)
    store = TicketStore(runtime.redis, runtime.keys)
    tickets, _ = await store.list()
    assert [t.id for t in tickets] == ["T-1"]
    detail = await store.detail(TicketId("T-1"))
    assert [m["text"] for m in detail["conversation"]] == ["message 0", "message 1", "message 2"]
    assert detail["kind"] == "message"
    # Only the first message is acknowledged.
    assert await OutboxStore(runtime).get("T-1:ack") is not None
    # After resolving, the next message opens a new ticket.
    await staff.resolve(runtime, TicketId("T-1"), "wang", None)
    await funnel.feed(direct("one more thing", user="42"))
    tickets, _ = await store.list(status="new")
    assert [t.id for t in tickets] == ["T-2"]


async def test_reply_to_announcement_is_linked_and_counted(
    funnel: Pipeline, runtime: Runtime, redis: Redis, keys: Keys
) -> None:
    # What the outbox records for every sent announcement message.
    await redis.set(keys("msgref", GROUP_TARGET, "9001"), "announcement:A-17")
    await funnel.feed(message("which day is the cleaning?", reply_to="9001"))
    t = await TicketStore(runtime.redis, runtime.keys).get(TicketId("T-1"))
    assert (t.kind, t.announcement) == ("reply", "A-17")
    assert await redis.smembers(keys("announcement", "A-17", "replies")) == {"T-1"}


async def test_group_follow_up_by_replying_to_the_ack(funnel: Pipeline, runtime: Runtime) -> None:
    await funnel.feed(message("楼道灯坏了", command=Command.REPORT))
    store = TicketStore(runtime.redis, runtime.keys)
    # The outbox worker reports the ack as sent with platform message id 7001.
    await store.remember_bot_messages(TicketId("T-1"), GROUP_TARGET, ["7001"])
    await funnel.feed(message("现在冒烟了", reply_to="7001"))
    detail = await store.detail(TicketId("T-1"))
    assert len(detail["conversation"]) == 2
    assert detail["priority"] == "urgent"  # a follow-up can raise urgency
    stats = await queue_stats(runtime)
    assert stats["depth"] == 1
    assert stats["by_priority"] == {"urgent": 1}


async def test_group_chatter_leaves_nothing(
    funnel: Pipeline, runtime: Runtime, redis: Redis, keys: Keys
) -> None:
    secret = "my neighbour's secret gossip 八卦"
    await funnel.feed(message(secret), message(secret + " again", reply_to="55"))
    assert await redis.xlen(inbound_stream(keys)) == 0
    pending = await redis.xpending(inbound_stream(keys), GROUP)
    assert pending["pending"] == 0
    leftover = []
    async for key in redis.scan_iter(match=keys.prefix + "*"):
        kind = await redis.type(key)
        if kind == "string":
            leftover.append(await redis.get(key))
        elif kind == "hash":
            leftover += list((await redis.hgetall(key)).values())
        elif kind == "list":
            leftover += await redis.lrange(key, 0, -1)
    assert not any("gossip" in str(v) for v in leftover)
    assert not [k async for k in redis.scan_iter(match=keys("ticket*"))]


async def test_redelivered_entry_makes_one_ticket_one_message(
    funnel: Pipeline, runtime: Runtime, redis: Redis, keys: Keys
) -> None:
    msg = message("/report 漏水", command=Command.REPORT)
    await funnel.sink.accept([msg])
    stream = inbound_stream(keys)
    entries = await redis.xrange(stream)
    # Handle it once but "crash" before the ack: handle the same entry again, as a
    # redelivery would, then let the normal loop run.
    await funnel.consumer.handle(entries[0][0], entries[0][1])
    await redis.xadd(stream, entries[0][1])  # the same event appended a second time
    await funnel.drain()
    await funnel.consumer.handle(entries[0][0], entries[0][1])
    store = TicketStore(runtime.redis, runtime.keys)
    tickets, _ = await store.list()
    assert [t.id for t in tickets] == ["T-1"]
    assert tickets[0].messages == 1
    assert await redis.llen(keys("ticket", "T-1", "messages")) == 1


async def test_malformed_entry_is_dead_lettered(funnel: Pipeline, redis: Redis, keys: Keys) -> None:
    stream = inbound_stream(keys)
    await redis.xadd(stream, {"e": "{not json"})
    await redis.xadd(stream, {"other": "field"})
    await funnel.feed(message("x", command=Command.ASK))
    dead = [json.loads(d) for d in await redis.lrange(keys("inbound", "deadletter"), 0, -1)]
    assert len(dead) == 2
    assert "malformed" in dead[0]["error"]
    assert await redis.xlen(stream) == 0
    assert await redis.exists(keys("ticket", "T-1"))


async def test_help_gets_help_text_and_no_ticket(
    funnel: Pipeline, runtime: Runtime, redis: Redis, keys: Keys
) -> None:
    msg = direct("", user="88", command=Command.START, language="en")
    await funnel.feed(msg)
    assert not await redis.exists(keys("ticket", "T-1"))
    text, reply_to, _ = await outbound(runtime, f"help:{msg.target}:{msg.message_id}")
    assert "Hello" in text
    assert reply_to == msg.message_id


async def test_edit_updates_the_stored_text(funnel: Pipeline, runtime: Runtime) -> None:
    first = direct("the lift is brokn", user="9")
    await funnel.feed(first)
    await funnel.feed(direct("the lift is broken", user="9", edit_of=first.message_id))
    detail = await TicketStore(runtime.redis, runtime.keys).detail(TicketId("T-1"))
    assert [m["text"] for m in detail["conversation"]] == ["the lift is broken"]
    assert "edited_at" in detail["conversation"][0]
