"""An inbound entry is acked only where its message's ticket write is.

In a Redis failover, palm's connection can switch primaries between the ticket
write and the ack: the write lands on the demoted primary (and is lost when it
resyncs), the ack on the new one. Acked there, the resident's message would be
gone for good. Here the first ticket write "lands elsewhere": the store answers
as if it had stored the message, but nothing reached this server.
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.funnel import consumer as consumer_module
from gateway.funnel.consumer import GROUP
from gateway.funnel.ticket_model import Applied
from gateway.funnel.tickets import TicketStore, message_field
from gateway.inbound import inbound_stream
from gateway.models import Command, TicketId
from gateway.outbox import OutboxStore
from gateway.runtime import Runtime
from tests.funnel.conftest import Pipeline
from tests.funnel.factory import message


async def test_a_ticket_write_lost_in_a_failover_is_written_again(
    funnel: Pipeline, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = funnel.consumer.store
    real_apply = store.apply
    lost: list[str] = []

    async def apply_elsewhere(*args: Any, **kwargs: Any) -> Applied:
        if not lost:  # the first write went to the demoted primary: nothing here
            lost.append("T-1")
            return Applied(TicketId("T-1"), 0, "created")
        return await real_apply(*args, **kwargs)

    monkeypatch.setattr(store, "apply", apply_elsewhere)
    report = message("5号楼消防栓在喷水", command=Command.REPORT, user="501")
    await funnel.feed(report)

    assert lost == ["T-1"]
    bymsg = runtime.keys("ticket", "bymsg")
    field = message_field(report.target, report.message_id)
    assert await runtime.redis.hget(bymsg, field) == "T-1#0"
    detail = await TicketStore(runtime.redis, runtime.keys).detail(TicketId("T-1"))
    assert [m["text"] for m in detail["conversation"]] == ["5号楼消防栓在喷水"]
    stream = inbound_stream(runtime.keys)
    assert await runtime.redis.xlen(stream) == 0
    pending: Any = await runtime.redis.xpending(stream, GROUP)
    assert pending["pending"] == 0


async def test_entries_that_store_no_message_are_acked_as_before(
    funnel: Pipeline, runtime: Runtime
) -> None:
    # Chatter in a group opens no ticket: no proof is asked for, the entry is done.
    await funnel.feed(message("大家早上好"))
    stream = inbound_stream(runtime.keys)
    assert await runtime.redis.xlen(stream) == 0
    pending: Any = await runtime.redis.xpending(stream, GROUP)
    assert pending["pending"] == 0


async def test_an_acknowledgement_lost_in_a_failover_is_queued_again(
    funnel: Pipeline, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The ticket write reached this server, the acknowledgement's enqueue did not.
    real_send = consumer_module.send_for_ticket
    lost: list[str] = []

    async def send_elsewhere(rt: Runtime, ticket: str, delivery_id: str, *a: Any) -> None:
        if not lost:
            lost.append(delivery_id)
            return
        await real_send(rt, ticket, delivery_id, *a)

    monkeypatch.setattr(consumer_module, "send_for_ticket", send_elsewhere)
    await funnel.feed(message("3单元楼道灯不亮", command=Command.REPORT, user="502"))

    assert lost == ["T-1:ack"]
    ack = await OutboxStore(runtime).get("T-1:ack")
    assert ack is not None, "the entry was acked without its acknowledgement queued here"
    pending: Any = await runtime.redis.xpending(inbound_stream(runtime.keys), GROUP)
    assert pending["pending"] == 0
