"""Parking, the step that keeps a ticket's messages in order (``gateway.outbox.lua``):
one atomic step at take, undone by the final step of the message queued before."""

from __future__ import annotations

from gateway.models import DeliveryId, OutboundMessage, TargetId
from gateway.outbox import OutboxItem, OutboxStore, enqueue
from gateway.outbox.model import Parked, Taken
from gateway.outbox.store import GROUP
from gateway.runtime import Runtime
from gateway.targets import TargetDirectory
from tests.outbox.helpers import with_outbox
from tests.outbox.test_ticket_order import TARGET, in_stream, msg


async def test_a_park_is_one_step_and_the_final_step_of_the_one_before_undoes_it(
    runtime: Runtime,
) -> None:
    rt = with_outbox(runtime)
    store = OutboxStore(rt)
    notice = OutboundMessage(TargetId(TARGET), "notice", "A-1:x")
    await enqueue(rt, [OutboxItem(DeliveryId("A-1:x"), "announcement", "A-1", notice)])
    await enqueue(rt, msg("T-5", "reply:1") + msg("T-5", "reply:2"))
    assert "after" not in await store.raw("A-1:x")  # announcements: no order, no park
    assert (await store.raw("T-5:reply:2"))["after"] == "T-5:reply:1"
    stream = store.stream("telegram", "normal")
    await rt.redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
    [(_, read)] = await rt.redis.xreadgroup(GROUP, "w", {stream: ">"}, count=3)
    e1, e2 = [e for e, f in read if f["d"].startswith("T-5")]
    prefix = TargetDirectory(rt.redis, rt.keys).hash_prefix

    async def take(entry: str, owner: str = "w:0:aa") -> object:
        took, _ = await store.take_and_peek(
            "T-5:reply:2", owner, None, "w:0", prefix, (stream, entry)
        )
        return took

    assert await take(e2) == Parked("T-5:reply:1")
    assert await take(e2) == Parked("T-5:reply:1")  # run again (a lost answer): the same
    assert not await in_stream(rt, "T-5:reply:2")
    assert (await store.raw("T-5:reply:2"))["takes"] == "0"  # a park is no take
    await store.settle("T-5:reply:1", "failed", reason="blocked", ack=(stream, e1))
    back = [e for e, f in await rt.redis.xrange(stream) if f["d"] == "T-5:reply:2"]
    assert len(back) == 1  # queued again, once
    assert await take(e2) == Parked("T-5:reply:1")  # the old entry stays done with
    fresh = await take(back[0], "w:1:bb")
    assert isinstance(fresh, Taken)
    assert (fresh.state, fresh.takes) == ("queued", 1)
