"""Ticket messages through the real outbox workers (in-memory adapter): the send
result lands on the ticket, and a resident replying to the ack or to a staff answer
in a group joins the same ticket."""

from __future__ import annotations

import asyncio
import time

from gateway.funnel import staff
from gateway.funnel.tickets import TicketStore
from gateway.models import Command, TicketId
from gateway.runtime import Runtime
from tests.fakes.memory_adapter import MemoryAdapter
from tests.funnel.conftest import Pipeline
from tests.funnel.factory import GROUP, message


async def _sent_state(store: TicketStore, tid: str, delivery_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 10
    while True:
        detail = await store.detail(TicketId(tid))
        for o in detail["outbound"]:
            if o["delivery_id"] == delivery_id and o.get("state") in ("sent", "failed"):
                return dict(o)
        assert time.monotonic() < deadline, f"{delivery_id} never final: {detail['outbound']}"
        await asyncio.sleep(0.05)


async def test_replies_to_bot_messages_join_the_ticket(
    funnel: Pipeline, runtime: Runtime, adapter: MemoryAdapter
) -> None:
    store = TicketStore(runtime.redis, runtime.keys)
    report = message("5号楼消防栓坏了", command=Command.REPORT, user="501")
    await funnel.feed(report)
    ack = await _sent_state(store, "T-1", "T-1:ack")
    assert ack["state"] == "sent"
    assert adapter.sent_to(GROUP)[0].text == "收到，工单 T-1 已登记，工作人员会尽快回复。"
    ack_id = adapter.sent_to(GROUP)[0].message_id
    assert ack["message_ids"] == [ack_id]

    await funnel.feed(message("水越来越多了", reply_to=ack_id, user="501"))
    await staff.reply(runtime, TicketId("T-1"), "secretary", "On the way.")
    answer = await _sent_state(store, "T-1", "T-1:reply:1")
    await funnel.feed(message("谢谢", reply_to=answer["message_ids"][0], user="501"))  # type: ignore[index]
    # Someone else answering the bot opens their own ticket.
    await funnel.feed(message("我家也是", reply_to=ack_id, user="777"))

    detail = await store.detail(TicketId("T-1"))
    inbound = [m["text"] for m in detail["conversation"] if m["direction"] == "in"]
    assert inbound == ["5号楼消防栓坏了", "水越来越多了", "谢谢"]
    assert (await store.get(TicketId("T-2"))).resident_id == "777"
