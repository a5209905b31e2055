"""A ticket event is acked only where the cards it enqueued are.

In a Redis failover, palm's connection can switch primaries between the feed's
enqueue and its ack: the card lands on the demoted primary (lost when it resyncs),
the ack on the new one. Acked there, the staff room would never see the ticket.
Here the first enqueue "lands elsewhere": nothing reaches this server.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from gateway.models import Command
from gateway.outbox import OutboxStore
from gateway.outbox.model import OutboxItem
from gateway.runtime import Runtime
from gateway.staffroom import feed as feed_module
from gateway.staffroom.config import StaffRoomConfig
from gateway.staffroom.feed import GROUP, Feed, card_id
from tests.funnel.conftest import Pipeline
from tests.funnel.factory import message

ROOM = "telegram:-1001230002"


def _with_room(runtime: Runtime) -> Runtime:
    config = runtime.config.model_copy(update={"staff_rooms": [StaffRoomConfig(target=ROOM)]})
    return Runtime(config, runtime.redis, runtime.redis, runtime.keys, runtime.instance)


async def test_a_card_lost_in_a_failover_is_enqueued_again(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = _with_room(runtime)
    p = Pipeline(rt)
    await p.consumer.start()
    await p.feed(message("/report 5号楼电梯停了", command=Command.REPORT))

    real_enqueue = feed_module.enqueue
    lost: list[str] = []

    async def enqueue_elsewhere(rt_: Runtime, items: Sequence[OutboxItem]) -> None:
        if not lost and items:  # the first enqueue went to the demoted primary
            lost.extend(i.delivery_id for i in items)
            return
        await real_enqueue(rt_, items)

    monkeypatch.setattr(feed_module, "enqueue", enqueue_elsewhere)
    feed = Feed(rt, name="test-feed")
    await feed.start()
    while await feed.step(block_ms=10):
        pass

    assert card_id("T-1", ROOM) in lost
    card = await OutboxStore(rt).get(card_id("T-1", ROOM))
    assert card is not None, "the card was acked away without being enqueued here"
    stream = rt.keys("tickets", "events")
    pending: Any = await rt.redis.xpending(stream, GROUP)
    assert pending["pending"] == 0
    assert await rt.redis.xlen(stream) == 0
