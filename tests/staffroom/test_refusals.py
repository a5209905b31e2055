"""A member's action on a card that palm refuses is answered in the room's language."""

from __future__ import annotations

from gateway.funnel.staff import MAX_TEXT
from gateway.models import Command
from gateway.outbox import OutboxStore
from gateway.runtime import Runtime
from gateway.staffroom import acting
from gateway.staffroom.config import StaffRoomConfig
from gateway.staffroom.feed import ORIGIN
from tests.funnel.conftest import Pipeline
from tests.funnel.factory import message

ROOM = "telegram:-1001230002"


def _in_room(runtime: Runtime, locale: str) -> Runtime:
    config = runtime.config.model_copy(
        update={"locale": locale, "staff_rooms": [StaffRoomConfig(target=ROOM)]}
    )
    return Runtime(config, runtime.redis, runtime.redis, runtime.keys, runtime.instance)


async def _resolve_with_a_long_note(rt: Runtime, mid: str) -> str:
    """``/resolve`` with a note over the limit, as a reply to T-1's card: the answer."""
    msg = message(
        "x" * (MAX_TEXT + 1), target=ROOM, user="9", name="王", message_id=mid,
        reply_to="card-1", command=Command.RESOLVE,
    )  # fmt: skip
    assert await acting.on_inbound(rt, msg)
    store = OutboxStore(rt)
    sent = await store.get(f"sr:{ROOM}:{mid}")
    assert sent is not None, "no answer in the room"
    return (await store.message(sent)).text


async def test_a_refused_resolve_is_answered_in_the_rooms_language(runtime: Runtime) -> None:
    p = Pipeline(runtime)
    await p.consumer.start()
    await p.feed(message("/report the lamp is broken", command=Command.REPORT))
    # What the outbox records once T-1's card is posted: the card's message -> the ticket.
    await runtime.redis.set(runtime.keys("msgref", ROOM, "card-1"), f"{ORIGIN}:T-1")
    zh = await _resolve_with_a_long_note(_in_room(runtime, "zh"), "31")
    assert zh == f"T-1：备注超过了 {MAX_TEXT} 个字符"
    en = await _resolve_with_a_long_note(_in_room(runtime, "en"), "32")
    assert en == f"T-1: the note is longer than {MAX_TEXT} characters"
