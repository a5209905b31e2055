"""A resident whose message the funnel parked is told that staff will get back to them
(``gateway.funnel.parked_answer``): once, in their language, only where a ticket was
meant, and parking never depends on the answer."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from gateway.codec import encode_event
from gateway.funnel import deadletters, parked_answer
from gateway.funnel.consumer import FunnelConsumer
from gateway.funnel.tickets import TicketStore
from gateway.models import ChatKind, Command
from gateway.outbox.store import OutboxStore
from gateway.runtime import Runtime
from gateway.staffroom.config import StaffRoomConfig
from tests.fakes.memory_adapter import MemoryAdapter
from tests.funnel.conftest import Pipeline
from tests.funnel.factory import GROUP, direct, message

ZH = "收到您的消息。系统暂时未能为它登记工单，工作人员会看到并尽快联系您，无需重复发送。"
EN = (
    "We got your message. It could not be filed as a ticket just now; staff will see it "
    "and get back to you. No need to send it again."
)


@pytest.fixture
def broken(monkeypatch: pytest.MonkeyPatch) -> None:
    """Filing a ticket raises a bug: the funnel parks every message that would file one."""

    async def apply(self: TicketStore, *args: Any, **kw: Any) -> Any:
        raise KeyError("x")

    monkeypatch.setattr(TicketStore, "apply", apply)


async def _received(adapter: MemoryAdapter, target: str, n: int) -> list[str]:
    deadline = time.monotonic() + 10
    while len(adapter.sent_to(target)) < n:
        assert time.monotonic() < deadline, f"{target} got {adapter.sent_to(target)}"
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # and nothing more
    return [s.text for s in adapter.sent_to(target)]


async def test_the_resident_of_a_parked_message_is_told_once_in_their_language(
    funnel: Pipeline, runtime: Runtime, adapter: MemoryAdapter, broken: None
) -> None:
    msg = direct("我家水管爆了", user="601", message_id="77")
    await funnel.feed(msg)
    assert await _received(adapter, "telegram:601", 1) == [ZH]
    d = await OutboxStore(runtime).get("parked:telegram:601:77")
    assert d is not None
    assert d.origin == "parked"
    assert (await OutboxStore(runtime).message(d)).reply_to == "77"  # under their message
    (p,) = await deadletters.parked(runtime.redis, runtime.keys)
    assert (p.text, p.answered) == ("我家水管爆了", True)
    # The same entry parked again (a redelivery): the answer is not sent twice.
    await funnel.consumer._dead_letter("9-1", {"e": p.raw}, "again")
    assert await _received(adapter, "telegram:601", 1) == [ZH]


async def test_only_messages_meant_for_a_ticket_are_answered(
    funnel: Pipeline, runtime: Runtime, adapter: MemoryAdapter, broken: None
) -> None:
    chatter = message("good morning all", user="602", language="en")
    report = message("lift stuck", user="603", language="en", command=Command.REPORT)
    bot = direct("beep", user="604", is_bot=True)
    await funnel.feed(chatter, report, bot)
    assert await _received(adapter, GROUP, 1) == [EN]  # the report's, not the chatter's
    assert adapter.sent_to("telegram:604") == []
    parked = await deadletters.parked(runtime.redis, runtime.keys)
    assert {(p.text, p.answered) for p in parked} == {("lift stuck", True)}
    # The chatter and the bot's message were never parked: only filing raises here.


async def test_when_routing_fails_only_a_direct_chat_is_answered(
    funnel: Pipeline, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def snapshot(self: FunnelConsumer, msg: Any) -> Any:
        raise KeyError("routing")

    monkeypatch.setattr(FunnelConsumer, "snapshot", snapshot)
    await funnel.feed(direct("help me", user="605"), message("/report lift", user="606",
                                                              command=Command.REPORT))  # fmt: skip
    parked = await deadletters.parked(runtime.redis, runtime.keys)
    assert {(p.sender and p.text, p.answered) for p in parked} == {
        ("help me", True),
        ("/report lift", False),  # in a group it might have been chatter
    }


async def test_the_acknowledgement_limit_holds(
    funnel: Pipeline, runtime: Runtime, broken: None
) -> None:
    # At most one acknowledgement per resident per minute: a second parked message in the
    # same minute is kept, unanswered.
    await funnel.feed(direct("first", user="607"), direct("second", user="607"))
    parked = await deadletters.parked(runtime.redis, runtime.keys)
    assert [(p.text, p.answered) for p in parked] == [("second", False), ("first", True)]


async def test_staff_rooms_and_unapproved_groups_get_no_answer(
    runtime: Runtime, broken: None
) -> None:
    room = "telegram:-1009990001"
    cfg = runtime.config.model_copy(update={"staff_rooms": [StaffRoomConfig(target=room)]})
    rt = Runtime(cfg, runtime.redis, runtime.redis_bytes, runtime.keys, runtime.instance,
                 runtime.adapters)  # fmt: skip
    consumer = FunnelConsumer(rt, name="c")
    in_room = message("/report test", target=room, command=Command.REPORT)
    assert parked_answer.resident_message(_raw(in_room), consumer.staff_rooms) is None
    stranger = message("/report spam", target="telegram:-1007770001", command=Command.REPORT)
    await rt.redis.hset(consumer.targets.hash_prefix + stranger.target,
                        mapping={"kind": ChatKind.GROUP.value, "admission": "pending"})  # fmt: skip
    parts = parked_answer.FunnelParts(consumer._decide, consumer.flood, consumer.admission,
                                      consumer.store, consumer.staff_rooms)  # fmt: skip
    got = await parked_answer.answer_parked(rt, _raw(stranger), parts)
    assert got is None


async def test_parking_does_not_depend_on_the_answer(
    funnel: Pipeline, runtime: Runtime, broken: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def fails(*args: Any, **kw: Any) -> None:
        raise RuntimeError("outbox down")

    monkeypatch.setattr(parked_answer, "send_answer", fails)
    await funnel.feed(direct("still kept", user="608"))
    (p,) = await deadletters.parked(runtime.redis, runtime.keys)
    assert (p.text, p.answered) == ("still kept", False)


def _raw(msg: Any) -> str:
    return encode_event(msg)


async def test_an_entry_that_kept_killing_consumers_is_not_routed_again(
    funnel: Pipeline, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Parked as "handed out too often": routing may be what kills the process, so the
    # answer does not route it; a direct chat is answered all the same, a group is not.
    routed: list[str] = []

    async def snapshot(self: FunnelConsumer, msg: Any) -> Any:
        routed.append(msg.text)
        raise AssertionError("routed")

    monkeypatch.setattr(FunnelConsumer, "snapshot", snapshot)
    consumer = funnel.consumer
    msgs = (direct("help", user="609"), message("/report x", user="610", command=Command.REPORT))
    for n, msg in enumerate(msgs):
        await consumer._dead_letter(f"{n}-1", {"e": encode_event(msg)}, "handed out too often",
                                    route=False)  # fmt: skip
    parked = await deadletters.parked(runtime.redis, runtime.keys)
    assert [(p.text, p.answered) for p in parked] == [("/report x", False), ("help", True)]
    assert routed == []
