"""Sends to a room whose invite palm's sync has not accepted yet, against a real Synapse.

A target can be active before the bot is in the room: seeded under ``targets:`` (or
approved) while the invite still waits for the sync loop. Synapse then refuses a send
with M_FORBIDDEN "not in room", exactly as for a room the bot was never invited to.
The adapter runs without its sync loop here (``sync=False``), so palm never joins by
itself: only the send path can.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import nio
import pytest
from redis.asyncio import Redis

from adapters.matrix import MatrixAdapter
from gateway.errors import TargetGone
from gateway.keys import Keys
from gateway.models import DeliveryId, OutboundMessage, TargetId, TargetSeen
from gateway.outbox import OutboxItem, OutboxStore, enqueue
from gateway.runtime import Runtime
from gateway.targets import TargetDirectory
from tests.fakes.synapse import Synapse
from tests.matrix.conftest import bot_config, context, running
from tests.matrix.conftest import wait_for as wait_events
from tests.matrix.resident import resident
from tests.outbox.helpers import seed, wait_for, with_outbox, workers

pytestmark = pytest.mark.synapse


async def _settled(rt: Runtime, origin_id: str) -> bool:
    counts = await OutboxStore(rt).counts("announcement", origin_id)
    return bool(counts) and not any(c.get("queued") for c in counts.values())


async def test_announcement_to_a_room_whose_invite_is_still_pending_arrives(
    synapse: Synapse,
    new_user: Callable[..., Any],
    runtime: Runtime,
    redis: Redis,
    keys: Keys,
    tmp_path: Path,
) -> None:
    bot = await new_user("palmbot")
    alice = await new_user("alice")
    async with resident(synapse.url, alice, tmp_path / "alice") as phone:
        room = await phone.create_room([bot.user_id], name="Building 9", encrypted=False)
        target = TargetId(f"matrix:{room}")
        assert (await alice.members(room))[bot.user_id] == "invite"

        # Active (as a target seeded under ``targets:`` is) while the bot is only invited.
        rt = with_outbox(runtime)
        await seed(rt, {str(target): []})
        adapter = MatrixAdapter(bot_config(synapse, bot))
        await adapter.start(context(redis, keys))  # no sync loop: palm never joins by itself
        rt.adapters["matrix"] = adapter
        text = "Water off in building 9, Tue 9:00-12:00"
        did = DeliveryId(f"A-9:{target}")
        msg = OutboundMessage(target, text, idempotency_key=did)
        try:
            await enqueue(rt, [OutboxItem(did, "announcement", "A-9", msg)])
            async with workers(rt):
                await wait_for(lambda: _settled(rt, "A-9"), limit=30)
        finally:
            await adapter.aclose()

        (delivery,) = await OutboxStore(rt).of_origin("announcement", "A-9")
        assert delivery.state == "sent", delivery.reason
        status = await TargetDirectory(redis, keys).get(target)
        assert status is not None
        assert status.active, status.reason
        # What Alice's own client receives, not palm's bookkeeping.
        got = await phone.wait_event(
            lambda ev: isinstance(ev, nio.RoomMessageText) and ev.body == text,
            what="the announcement on Alice's phone",
        )
        assert got.sender == bot.user_id
        assert (await alice.members(room))[bot.user_id] == "join"


async def test_invited_back_after_a_kick_the_send_joins_again(
    synapse: Synapse, new_user: Callable[..., Any], redis: Redis, keys: Keys
) -> None:
    """The room's encryption was read before, so the refusal comes from the send itself."""
    bot = await new_user("palmbot")
    alice = await new_user("alice")
    room = await alice.create_room(invite=[bot.user_id], name="Again")
    await bot.join(room)
    target = TargetId(f"matrix:{room}")
    async with running(bot_config(synapse, bot), redis, keys, sync=False) as adapter:
        await adapter.send(OutboundMessage(target, "first", idempotency_key="again-1"))
        await alice.kick(room, bot.user_id, reason="by mistake")
        await alice.invite(room, bot.user_id)
        receipt = await adapter.send(OutboundMessage(target, "second", idempotency_key="again-2"))
    (event_id,) = receipt.message_ids
    sent = {e["event_id"]: e["content"]["body"] for e in await alice.messages(room)}
    assert sent[event_id] == "second"
    assert (await alice.members(room))[bot.user_id] == "join"


async def test_an_invite_auto_join_does_not_allow_is_not_taken_by_a_send(
    synapse: Synapse, new_user: Callable[..., Any], redis: Redis, keys: Keys
) -> None:
    """The send path joins only what the sync loop would join itself."""
    bot = await new_user("palmbot")
    alice = await new_user("alice")
    room = await alice.create_room(invite=[bot.user_id], name="Stranger")
    config = bot_config(synapse, bot, auto_join=["@admin:example.org"])
    async with running(config, redis, keys, sync=False) as adapter:
        msg = OutboundMessage(TargetId(f"matrix:{room}"), "hi", idempotency_key="stranger-1")
        with pytest.raises(TargetGone, match="not in room"):
            await adapter.send(msg)
    assert (await alice.members(room))[bot.user_id] == "invite"


async def test_withdrawn_invite_or_a_room_everyone_left_is_gone(
    synapse: Synapse, new_user: Callable[..., Any], redis: Redis, keys: Keys
) -> None:
    bot = await new_user("palmbot")
    alice = await new_user("alice")
    withdrawn = await alice.create_room(invite=[bot.user_id], name="Withdrawn")
    await alice.kick(withdrawn, bot.user_id, reason="wrong bot")
    # Alice, the only member, leaves: the invite stays pending, but nobody is left to
    # let the bot in (Synapse answers the join 404 M_UNKNOWN "no servers").
    empty = await alice.create_room(invite=[bot.user_id], name="Empty")
    await alice.call("POST", f"/rooms/{quote(empty)}/leave", {})
    async with running(bot_config(synapse, bot), redis, keys, sync=False) as adapter:
        for room, why in ((withdrawn, "not in room"), (empty, "room gone")):
            msg = OutboundMessage(TargetId(f"matrix:{room}"), "hi", idempotency_key=room)
            with pytest.raises(TargetGone, match=why):
                await adapter.send(msg)


async def test_an_invite_to_a_room_everyone_left_does_not_stop_the_sync(
    synapse: Synapse, new_user: Callable[..., Any], redis: Redis, keys: Keys
) -> None:
    bot = await new_user("palmbot")
    alice = await new_user("alice")
    async with running(bot_config(synapse, bot), redis, keys):
        empty = await alice.create_room(invite=[bot.user_id], name="Empty")
        await alice.call("POST", f"/rooms/{quote(empty)}/leave", {})
        room = await alice.create_room(invite=[bot.user_id], name="Next")
        target = TargetId(f"matrix:{room}")
        await wait_events(
            redis,
            keys,
            lambda evs: any(isinstance(e, TargetSeen) and e.target == target for e in evs),
            what="the next room",
        )
