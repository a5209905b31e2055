"""/queue in a staff room names the messages that became no ticket in the room's scope."""

from __future__ import annotations

from gateway.codec import encode_event
from gateway.funnel.consumer import FunnelConsumer
from gateway.runtime import Runtime
from gateway.staffroom import commands
from gateway.staffroom.config import StaffRoomConfig
from tests.funnel.factory import message
from tests.outbox.helpers import seed

A5, B1 = "telegram:-5", "telegram:-1"


async def _park(rt: Runtime) -> None:
    consumer = FunnelConsumer(rt, name="c")
    for n, chat in enumerate((A5, B1, A5)):
        event = message(f"smoke in the lift {n}", target=chat)
        await consumer._dead_letter(f"{n}-1", {"e": encode_event(event)}, "KeyError: 'x'")
    await consumer._dead_letter("9-1", {"e": "{not json"}, "malformed inbound event")


def _in(rt: Runtime, locale: str) -> Runtime:
    cfg = rt.config.model_copy(update={"locale": locale})
    return Runtime(cfg, rt.redis, rt.redis_bytes, rt.keys, rt.instance, rt.adapters)


async def test_queue_counts_the_parked_messages_in_the_rooms_scope(runtime: Runtime) -> None:
    await seed(runtime, {A5: ["compound:a"], B1: ["compound:b"]})
    room_a = StaffRoomConfig(target="telegram:-1001230001", scope="compound:a")
    everything = StaffRoomConfig(target="telegram:-1001230002")
    en, zh = _in(runtime, "en"), _in(runtime, "zh")
    assert await commands.queue_text(en, room_a) == "No open tickets."  # none parked yet
    await _park(runtime)
    assert await commands.parked_in_scope(runtime, room_a) == 2
    assert await commands.parked_in_scope(runtime, everything) == 3  # not the malformed one
    assert (await commands.queue_text(en, room_a)).splitlines() == [
        "No open tickets.",
        "2 message(s) from residents became no ticket: reach those residents; "
        "they are listed on the console's queue page.",
    ]
    last = (await commands.queue_text(zh, everything)).splitlines()[-1]
    assert last == "有 3 条居民消息未能生成工单，请联系这些居民：见控制台的工单页。"


async def test_the_room_counts_what_the_console_lists(runtime: Runtime) -> None:
    # One list (deadletters.for_staff) for both: the room's count is the console's total.
    from gateway.accounts import Scope
    from gateway.console import queue

    await seed(runtime, {A5: ["compound:a"], B1: ["compound:b"]})
    await _park(runtime)
    room_a = StaffRoomConfig(target="telegram:-1001230001", scope="compound:a")
    listed = await queue.parked(runtime, Scope.parse("compound:a"))
    assert await commands.parked_in_scope(runtime, room_a) == listed.total == 2
    assert [r.text for r in listed.rows] == ["smoke in the lift 2", "smoke in the lift 0"]
