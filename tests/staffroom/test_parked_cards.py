"""A parked resident's message becomes a card in the staff rooms whose scope holds its
chat, with Handled / File again (buttons, or /handled and /retry as replies), and the
card is edited to say who did what (``gateway.staffroom.parked``)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from redis.exceptions import RedisError

from gateway.components import delivery_hooks
from gateway.funnel import deadletters
from gateway.funnel.consumer import ConsumerSettings, FunnelConsumer
from gateway.funnel.tickets import TicketStore
from gateway.inbound import RedisInboundSink, inbound_stream
from gateway.models import (
    ButtonPress,
    Command,
    Platform,
    Sender,
    TargetId,
    UserId,
)
from gateway.outbox import run_workers
from gateway.outbox.store import OutboxStore
from gateway.runtime import Runtime
from gateway.staffroom import parked
from gateway.staffroom.acting import on_inbound
from gateway.staffroom.config import StaffRoomConfig
from tests.fakes.memory_adapter import MemoryAdapter, Sent
from tests.funnel.factory import GROUP, message
from tests.outbox.helpers import seed

ROOM_A, ROOM_B = "telegram:-1008880001", "telegram:-1008880002"
WANG = Sender(UserId("5001"), "Wang", "en", False)


@dataclass
class RoomAdapter(MemoryAdapter):
    """The in-memory adapter with what staff rooms need of Telegram."""

    answers: dict[str, str] = field(default_factory=dict)

    async def is_member(self, target: TargetId, user: UserId) -> bool:
        return True

    async def answer_button(self, query_id: str, text: str) -> None:
        self.answers[query_id] = text


@dataclass
class Office:
    rt: Runtime
    adapter: RoomAdapter
    consumer: FunnelConsumer

    async def feed(self, *events: Any) -> None:
        await RedisInboundSink(self.rt.redis, self.rt.keys).accept(events)
        while await self.consumer.step(block_ms=10):
            pass

    async def sent(self, room: str, n: int) -> list[Sent]:
        deadline = time.monotonic() + 10
        while len(self.adapter.sent_to(room)) < n:
            assert time.monotonic() < deadline, f"{room}: {self.adapter.sent_to(room)}"
            await asyncio.sleep(0.05)
        return self.adapter.sent_to(room)

    async def edited(self, n: int) -> list[tuple[Any, ...]]:
        deadline = time.monotonic() + 10
        while len(self.adapter.edits) < n:
            assert time.monotonic() < deadline, f"edits: {self.adapter.edits}"
            await asyncio.sleep(0.05)
        return self.adapter.edits


@pytest.fixture
async def office(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Office]:
    async def apply(self: TicketStore, *args: Any, **kw: Any) -> Any:
        raise KeyError("x")  # filing is broken: every report is parked

    monkeypatch.setattr(TicketStore, "apply", apply)
    rooms = [StaffRoomConfig(target=ROOM_A, scope="compound:a"),
             StaffRoomConfig(target=ROOM_B, scope="compound:b")]  # fmt: skip
    cfg = runtime.config.model_copy(update={"staff_rooms": rooms, "locale": "en"})
    rt = Runtime(cfg, runtime.redis, runtime.redis_bytes, runtime.keys, runtime.instance,
                 runtime.adapters)  # fmt: skip
    await seed(rt, {GROUP: ["compound:a"]})
    adapter = RoomAdapter()
    rt.adapters["telegram"] = adapter  # type: ignore[assignment]
    consumer = FunnelConsumer(rt, name="c", settings=ConsumerSettings(block_ms=10),
                              hooks=[on_inbound], on_parked=[parked.post_cards])  # fmt: skip
    await consumer.start()
    task = asyncio.create_task(run_workers(rt, delivery_hooks()))
    yield Office(rt, adapter, consumer)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _press(card: Sent, data: str, query: str) -> ButtonPress:
    return ButtonPress(Platform("telegram"), f"cb{query}", card.target, card.message_id, WANG,
                       data, query, time.time())  # fmt: skip


async def test_a_parked_message_is_a_card_staff_mark_handled(office: Office) -> None:
    await office.feed(message("lift smells of smoke", command=Command.REPORT, name="Li Wei"))
    (card,) = await office.sent(ROOM_A, 1)
    assert card.text.startswith("⚠ Not filed as a ticket · Li Wei (")
    assert "lift smells of smoke" in card.text
    assert "The resident was told that staff will get back to them." in card.text
    d = await OutboxStore(office.rt).get(card.idempotency_key)
    assert d is not None
    buttons = (await OutboxStore(office.rt).message(d)).buttons or ()
    assert [(b.label, b.data) for b in buttons] == [
        ("Handled", parked.HANDLED), ("File again", parked.RETRY)
    ]  # fmt: skip
    await asyncio.sleep(0.3)
    assert office.adapter.sent_to(ROOM_B) == []  # compound:b's room: not its chat

    await office.feed(_press(card, parked.HANDLED, "q1"))
    assert office.adapter.answers["q1"] == "✓ Handled by Wang"
    assert await deadletters.parked(office.rt.redis, office.rt.keys) == []
    ((room, ids, text),) = await office.edited(1)
    assert (room, ids) == (ROOM_A, (card.message_id,))
    assert text.endswith("\n✓ Handled by Wang")
    assert "Handled or reply" not in text  # the how-to (and the buttons) are gone
    await office.feed(_press(card, parked.RETRY, "q2"))  # too late: someone did it
    assert office.adapter.answers["q2"] == "This message was handled already."
    assert await office.rt.redis.xlen(inbound_stream(office.rt.keys)) == 0


async def test_a_reply_of_retry_to_the_card_files_it_again(office: Office) -> None:
    await office.feed(message("water in the basement", command=Command.REPORT))
    (card,) = await office.sent(ROOM_A, 1)
    reply = message("/retry", target=ROOM_A, command=Command.RETRY, reply_to=card.message_id,
                    name="Wang")  # fmt: skip
    await office.feed(reply)  # the retried entry is parked again: filing is still broken
    sent = await office.sent(ROOM_A, 3)
    texts = [s.text for s in sent]
    assert "↻ Filed again by Wang: a ticket follows if it works" in texts
    assert sum("water in the basement" in t for t in texts) == 2  # a new card, new entry
    (again,) = await deadletters.parked(office.rt.redis, office.rt.keys)
    assert again.text == "water in the basement"
    # A /handled that is no reply to a card says how it works.
    await office.feed(message("/handled", target=ROOM_A, command=Command.HANDLED))
    sent = await office.sent(ROOM_A, 4)
    usage = "/handled and /retry work as a reply to a message that became no ticket."
    assert sent[-1].text == usage


async def test_the_card_goes_before_the_park_and_once(
    office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The park fails (Redis lost it): the card is out already and the entry stays pending;
    # handled again, it is parked and the card is not posted a second time.
    import gateway.funnel.consumer as consumer_module

    real = consumer_module.park

    async def lost(*args: Any, **kw: Any) -> None:
        raise RedisError("connection lost")

    monkeypatch.setattr(consumer_module, "park", lost)
    with pytest.raises(RedisError):
        await office.feed(message("gas smell in the stairwell", command=Command.REPORT))
    (card,) = await office.sent(ROOM_A, 1)
    assert "gas smell in the stairwell" in card.text
    assert await deadletters.parked(office.rt.redis, office.rt.keys) == []
    monkeypatch.setattr(consumer_module, "park", real)
    office.consumer._own_pending = True  # as its run loop does after a Redis error
    await office.feed()
    (p,) = await deadletters.parked(office.rt.redis, office.rt.keys)
    assert p.text == "gas smell in the stairwell"
    await asyncio.sleep(0.3)
    assert len(office.adapter.sent_to(ROOM_A)) == 1


async def test_an_action_outside_the_room_edits_the_card_too(office: Office) -> None:
    # Marked handled on the console (or the API, or the CLI): the room's card says so.
    from gateway.funnel.parked_actions import act

    await office.feed(message("broken window", command=Command.REPORT))
    (card,) = await office.sent(ROOM_A, 1)
    (p,) = await deadletters.parked(office.rt.redis, office.rt.keys)
    await act(office.rt, p, "handled", by="secretary")
    ((room, ids, text),) = await office.edited(1)
    assert (room, ids) == (ROOM_A, (card.message_id,))
    assert text.endswith("\n✓ Handled by secretary")
